// Agenda pieces shown the same way on several pages (phone, remote, screen, console).
import { t } from "./i18n.js";
import { timeOfDay } from "./ui.js";

/** "Name, title, organisation · Name, ..." for a list of speakers. */
export function speakerLine(speakers) {
  return (speakers ?? []).map((s) => [s.name, s.title, s.organisation].filter(Boolean).join(", ")).join(" · ");
}

/** Just the names of an item's speakers. */
export function speakerNames(item) {
  return (item?.speakers ?? []).map((s) => s.name).join(", ");
}

/** Show or hide a break banner (children .break-until and .break-message) from the model. */
export function renderBreak(banner, model) {
  const pause = model.agenda?.break ?? null;
  banner.hidden = !pause;
  if (pause) {
    banner.querySelector(".break-until").textContent = t("common.break_until", { time: timeOfDay(pause.ends_at) });
    banner.querySelector(".break-message").textContent = pause.message ?? "";
  }
}
