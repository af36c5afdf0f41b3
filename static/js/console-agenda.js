// The console's agenda panel: the current item with its timer and controls (next and
// previous, timer, break), and the agenda list with go to / postpone / date to come.
import { speakerLine } from "./agenda-view.js";
import { redrawKeepingFocus } from "./console-focus.js";
import { count, formatTime, t } from "./i18n.js";
import { clock, el, timeOfDay } from "./ui.js";

const $ = (id) => document.getElementById(id);
const SKIPPED = new Set(["postponed", "date-to-come"]); // statuses Next and Previous step over
const ITEM_STATUSES = { postpone: "postponed", "date-to-come": "date-to-come", reschedule: "scheduled" };
const EXTEND_MINUTES = 5;
const BREAK_MINUTES = 15;

function itemMeta(item) {
  const parts = [t(`common.kind_${item.kind}`)];
  if (item.minutes) parts.push(count("common.minutes", item.minutes));
  if (item.speakers.length) parts.push(item.speakers.map((s) => s.name).join(", "));
  return parts.join(" · ");
}

/** "Paus med nedräkning · Skylt · Omröstning: …": what an item's scene does. */
export function sceneSummary(model, item) {
  const scene = item.scene;
  const parts = [t(`scene.screen_${scene.screen}`), t(`scene.stream_${scene.stream}`)];
  const poll = scene.poll === null ? null : model.polls.get(scene.poll);
  if (poll) parts.push(`${t("scene.poll_label")}: ${poll.text}`);
  if (!item.scene_planned) parts.push(`(${t("scene.default")})`);
  return parts.join(" · ");
}

function renderNow(model) {
  const agenda = model.agenda;
  const item = model.currentItem();
  const index = item ? agenda.items.indexOf(item) : -1;
  $("current-title").textContent = item ? item.title : t("common.no_current_item");
  $("current-speakers").textContent = item ? speakerLine(item.speakers) || itemMeta(item) : "";
  // Next and previous skip postponed and date-to-come items, as the server does
  // (agenda.next names the item Next goes to); with none left, the button is off and says why.
  const movable = (i) => !SKIPPED.has(agenda.items[i].status);
  const focused = document.activeElement;
  $("btn-prev").disabled = !agenda.items.some((_, i) => i < index && movable(i));
  $("btn-next").disabled = agenda.next === null || agenda.next === undefined;
  // Next pressed onto the last item (or Previous onto the first) is now off: a disabled
  // button drops keyboard focus to <body>, so hand it to the other one (or the timer).
  if (focused?.disabled && (focused === $("btn-next") || focused === $("btn-prev"))) {
    const other = focused === $("btn-next") ? $("btn-prev") : $("btn-next");
    (other.disabled ? $("btn-timer") : other).focus();
  }
  const stranded = $("btn-next").disabled && agenda.items.some((_, i) => i > index && !movable(i));
  $("next-note").hidden = !stranded;
  $("next-note").textContent = stranded ? t("moderator.next_none_left") : "";
  if (stranded) $("btn-next").setAttribute("aria-describedby", "next-note");
  else $("btn-next").removeAttribute("aria-describedby");

  const running = agenda.timer.running_since !== null;
  const timerButton = $("btn-timer");
  timerButton.textContent = t(running ? "moderator.pause_timer" : "moderator.start_timer");
  timerButton.dataset.running = String(running);
  for (const id of ["btn-timer", "btn-shorten", "btn-extend"]) $(id).disabled = !item;

  const pause = agenda.break;
  $("btn-break").hidden = Boolean(pause);
  $("btn-break-end").hidden = !pause;
  $("break-state").hidden = !pause;
  $("break-state").textContent = pause ? t("common.break_until", { time: timeOfDay(pause.ends_at) }) : "";
  $("now-card").dataset.break = String(Boolean(pause));
  renderTimer(model);
}

export function renderTimer(model) {
  if (!model.agenda) return;
  const item = model.currentItem();
  const timer = model.agenda.timer;
  const box = $("timer");
  let text = "–";
  let label = "moderator.time_left";
  let over = false;
  if (item) {
    const left = model.timeLeft();
    if (!item.minutes && timer.planned_seconds === 0) {
      // An item without a planned length counts up instead of showing "over time".
      text = clock(-left);
      label = "moderator.elapsed";
    } else {
      over = left < 0;
      text = clock(left);
      if (over) label = "moderator.overrun";
    }
  }
  box.closest(".timer-box").hidden = !item;
  if (box.textContent !== text) box.textContent = text;
  box.dataset.overrun = String(over);
  $("timer-label").dataset.i18n = label;
  $("timer-label").textContent = t(label);
  $("timer-state").textContent = item && timer.running_since === null ? t("moderator.paused") : "";
}

function renderAgendaList(model) {
  const list = $("agenda-list");
  const agenda = model.agenda;
  redrawKeepingFocus(list, () => {
    list.replaceChildren(
      ...agenda.items.map((item) => {
        const current = item.id === agenda.current;
        const open = !current && item.status !== "done";
        const titleId = `item-title-${item.id}`;
        const button = (action, key, show, extra = {}) =>
          el("button", { type: "button", dataset: { action }, hidden: !show, "aria-describedby": titleId, ...extra }, t(key));
        return el(
          "li",
          {
            class: "mod-item",
            dataset: { item: item.id, status: item.status },
            "aria-current": current ? "true" : null,
          },
          el(
            "div",
            { class: "item-head" },
            item.start ? el("span", { class: "item-time" }, formatTime(item.start)) : null,
            el("span", { class: "item-title", id: titleId }, item.title),
            el("span", { class: "status", dataset: { status: item.status } }, t(`common.status_${item.status}`)),
          ),
          el(
            "div",
            { class: "item-foot" },
            el("p", { class: "item-meta" }, itemMeta(item)),
            el("p", { class: "item-scene", dataset: { screen: item.scene.screen, stream: item.scene.stream } }, sceneSummary(model, item)),
            el(
              "div",
              { class: "item-actions" },
              button("goto", "moderator.goto", !current),
              el(
                "button",
                { type: "button", dataset: { action: "scene" }, "aria-label": t("scene.edit_named", { title: item.title }) },
                t("scene.edit"),
              ),
              button("postpone", "moderator.postpone", open && item.status !== "postponed"),
              button("date-to-come", "moderator.date_to_come", open && item.status !== "date-to-come"),
              button("reschedule", "moderator.reschedule", open && item.status !== "scheduled"),
            ),
          ),
        );
      }),
    );
  });
}

/** Draw the whole panel from the model. */
export function renderAgenda(model) {
  if (!model.agenda) return;
  renderNow(model);
  renderAgendaList(model);
}

/** The panel's controls; send(message) makes the request. */
export function wireAgenda(model, send, onScene) {
  $("btn-prev").addEventListener("click", () => send({ type: "agenda.prev" }));
  $("btn-next").addEventListener("click", () => send({ type: "agenda.next" }));
  $("btn-timer").addEventListener("click", () =>
    send({ type: model.agenda?.timer.running_since !== null ? "timer.pause" : "timer.start" }),
  );
  $("btn-extend").addEventListener("click", () => send({ type: "timer.extend", minutes: EXTEND_MINUTES }));
  $("btn-shorten").addEventListener("click", () => send({ type: "timer.extend", minutes: -EXTEND_MINUTES }));
  $("btn-break").addEventListener("click", () => send({ type: "break.start", minutes: BREAK_MINUTES }));
  $("btn-break-end").addEventListener("click", () => send({ type: "break.end" }));

  $("agenda-list").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const item = button.closest("li[data-item]").dataset.item;
    const action = button.dataset.action;
    if (action === "scene") onScene(item, button);
    else if (action === "goto") send({ type: "agenda.goto", item });
    else send({ type: "item.status", item, status: ITEM_STATUSES[action] });
  });
}
