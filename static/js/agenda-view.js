// Agenda pieces shown the same way on several pages (phone, remote, screen, console).
import { count, formatTime, t } from "./i18n.js";
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

/** "09.30 · 10 min": an item's planned start and length. */
export function plannedText(item) {
  const parts = [];
  if (item.start) parts.push(formatTime(item.start));
  if (item.minutes) parts.push(count("common.minutes", item.minutes));
  return parts.join(" · ");
}

function setShown(node, text) {
  node.textContent = text;
  node.hidden = !text;
}

/**
 * The now / next view of the phone, the remote page and the big screen, from the model.
 * parts: the elements to fill — title, speakers, next (shown only when there is a next
 * item), nextTime, nextTitle, breakBanner; optionally time (the current item's planned
 * time) and box (gets data-state "current" or "none"). speakers(item) gives the speaker
 * text (names only on the phone, with titles on the screen).
 */
export function renderNowNext(parts, model, { speakers = speakerNames } = {}) {
  const item = model.currentItem();
  if (parts.box) parts.box.dataset.state = item ? "current" : "none";
  parts.title.textContent = item ? item.title : t("common.no_current_item");
  setShown(parts.speakers, item ? speakers(item) : "");
  if (parts.time) setShown(parts.time, item ? plannedText(item) : "");
  const next = model.nextItem();
  parts.next.hidden = !next;
  if (next) {
    parts.nextTime.textContent = formatTime(next.start);
    parts.nextTitle.textContent = next.title;
  }
  renderBreak(parts.breakBanner, model);
}
