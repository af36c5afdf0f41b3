// The big screen of the room: read-only, joined as role "screen", readable from the back row.
import { renderNowNext, speakerLine } from "./agenda-view.js";
import { count, formatTime, onLanguageChange, t } from "./i18n.js";
import { Live } from "./live.js";
import { SessionModel } from "./model.js";
import { fitCloud, resultsView } from "./polls.js";
import { clock, el, errorText, showConnection, showWaiting, timeOfDay, toast } from "./ui.js";

const root = document.getElementById("screen");
let code = root.dataset.code; // follows the session's join code when it is replaced
const model = new SessionModel();
const $ = (id) => document.getElementById(id);

function renderNow() {
  const next = $("screen-next");
  renderNowNext(
    {
      title: $("screen-current"),
      speakers: $("screen-speakers"),
      next,
      nextTime: next.querySelector(".next-time"),
      nextTitle: next.querySelector(".next-title"),
      breakBanner: $("screen-break"),
    },
    model,
    { speakers: (item) => speakerLine(item.speakers) },
  );
}

// The largest size at which the whole question fits on the screen; 1 is the largest.
const SIZES = ["size-1", "size-2", "size-3", "size-4", "size-5", "size-6"];

function fitQuestion() {
  const box = $("screen-question");
  const text = box.querySelector(".q-text");
  if (!text) return;
  for (const size of SIZES) {
    text.classList.remove(...SIZES);
    text.classList.add(size);
    if (box.scrollHeight <= box.clientHeight + 1) return;
  }
}

let shown = null; // what the question area shows now, so unrelated events do not re-announce it

function renderQuestion() {
  const box = $("screen-question");
  const q = model.highlighted();
  const label = $("screen-question-label");
  const key = JSON.stringify([document.documentElement.lang, q?.id, q?.text, q?.name]);
  if (key === shown) return;
  shown = key;
  box.dataset.empty = q ? "false" : "true";
  root.classList.toggle("has-question", Boolean(q));
  if (!q) {
    box.replaceChildren(label, el("p", { class: "q-empty" }, t("screen.no_question")));
    return;
  }
  box.replaceChildren(
    label,
    el("blockquote", { class: "q-text size-1", dataset: { id: q.id } }, q.text),
    el("p", { class: "q-name" }, q.name || t("common.anonymous")),
  );
  fitQuestion();
}

function renderCount() {
  const { room = 0, remote = 0 } = model.presence ?? {};
  $("screen-count").textContent = String(room + remote);
  const label = $("screen-count-label");
  label.dataset.i18nCount = String(room + remote);
  label.textContent = count("screen.participants", room + remote);
  $("screen-count-detail").textContent = t("screen.participants_detail", {
    room: count("common.on_site_count", room),
    remote: count("common.remote_count", remote),
  });
}

// -- scenes: what the show's `screen` says the big screen shows ----------------------------
const SCENES = new Set(["qr", "poll", "agenda", "speaker", "break"]);

function scene() {
  const mode = model.show?.screen;
  return SCENES.has(mode) ? mode : "qr";
}

// Largest first; the list or the card steps down until it fits without scrolling.
const FIT = ["fit-1", "fit-2", "fit-3", "fit-4", "fit-5"];

function fitBox(box) {
  if (box.hidden) return;
  for (const size of FIT) {
    box.classList.remove(...FIT);
    box.classList.add(size);
    if (box.scrollHeight <= box.clientHeight + 1 && box.scrollWidth <= box.clientWidth + 1) return;
  }
}

function renderAgendaScene() {
  const box = $("screen-agenda");
  const agenda = model.agenda;
  const items = (agenda?.items ?? []).filter((item) => !["postponed", "date-to-come"].includes(item.status));
  box.querySelector(".screen-agenda-list").replaceChildren(
    ...items.map((item) => {
      const state = item.id === agenda.current ? "now" : item.id === agenda.next ? "next" : item.status;
      const tag = state === "now" ? t("common.now") : state === "next" ? t("common.next") : "";
      return el(
        "li",
        { dataset: { item: item.id, state }, "aria-current": state === "now" ? "true" : null },
        el("span", { class: "agenda-time" }, formatTime(item.start)),
        el("span", { class: "agenda-title" }, item.title),
        tag ? el("span", { class: "agenda-tag" }, tag) : null,
      );
    }),
  );
  fitBox(box);
}

function renderSpeakerScene() {
  const box = $("screen-speaker");
  const speakers = model.currentItem()?.speakers ?? [];
  box.querySelector(".speaker-cards").replaceChildren(
    ...speakers.map((s) =>
      el(
        "li",
        { class: "speaker-card" },
        el("p", { class: "speaker-name" }, s.name),
        s.title ? el("p", { class: "speaker-title" }, s.title) : null,
        s.organisation ? el("p", { class: "speaker-org" }, s.organisation) : null,
      ),
    ),
  );
  fitBox(box);
}

// The countdown to the restart, redrawn every half second while the break scene is up.
function renderCountdown() {
  const box = $("screen-countdown");
  if (box.hidden) return;
  const pause = model.agenda?.break ?? null;
  const left = pause ? pause.ends_at - model.now() : null;
  const digits = box.querySelector(".countdown-digits");
  const text = left === null ? "–" : left > 0 ? clock(left) : "0:00";
  if (digits.textContent !== text) digits.textContent = text;
  const until = box.querySelector(".countdown-until");
  const line = !pause ? "" : left > 0 ? t("scene.back_at", { time: timeOfDay(pause.ends_at) }) : t("scene.starting");
  if (until.textContent !== line) until.textContent = line;
  const next = model.nextItem();
  const nextLine = box.querySelector(".countdown-next");
  nextLine.hidden = !next;
  if (next) {
    nextLine.querySelector(".next-time").textContent = formatTime(next.start);
    nextLine.querySelector(".next-title").textContent = next.title;
  }
}

function renderScene() {
  const mode = scene();
  root.dataset.scene = mode;
  root.dataset.stream = model.show?.stream ?? "camera";
  $("screen-agenda").hidden = mode !== "agenda";
  $("screen-speaker").hidden = mode !== "speaker";
  $("screen-countdown").hidden = mode !== "break";
  renderPoll(); // first: the scene's box is fitted to the room the poll or question leaves
  if (mode === "agenda") renderAgendaScene();
  if (mode === "speaker") renderSpeakerScene();
  renderCountdown();
  fitBox($("screen-countdown"));
}

// The poll on screen replaces the question area in the "qr" and "poll" scenes; its results
// are redrawn on every tally.
function renderPoll() {
  const box = $("screen-poll");
  const mode = scene();
  const withQuestion = mode === "qr" || mode === "poll";
  const poll = withQuestion ? model.pollOnScreen() : null;
  box.hidden = !poll;
  root.classList.toggle("has-poll", Boolean(poll));
  $("screen-question").hidden = Boolean(poll) || !withQuestion;
  if (!poll) return;
  box.dataset.id = String(poll.id);
  box.dataset.status = poll.status;
  box.querySelector(".poll-text").textContent = poll.text;
  const results = resultsView(poll, { large: true });
  box.querySelector(".poll-body").replaceChildren(results);
  fitPoll();
}

// The room left for the poll changes with the banners above it and the window's size.
// A cloud fits itself by leaving words out; while it shows fewer than CLOUD_WORDS of them
// (name cards and a break banner above it), the question and the rest step down too.
const CLOUD_WORDS = 8;

function fitPoll() {
  const box = $("screen-poll");
  const results = box.querySelector(".poll-results");
  const cloud = results?.querySelector(".poll-cloud");
  if (!cloud) {
    fitBox(box);
    return;
  }
  const words = [...cloud.children];
  for (const size of FIT) {
    box.classList.remove(...FIT);
    box.classList.add(size);
    fitCloud(results);
    const shown = words.filter((word) => !word.hidden).length;
    if (shown >= Math.min(CLOUD_WORDS, words.length)) return;
  }
}

// The join code, QR code and link follow a new code at once: the old ones stop working.
function showCode(next) {
  if (!next || next === code) return;
  code = next;
  root.dataset.code = next;
  live.join.code = next; // a reconnect must use the code that still opens the session
  $("screen-code").textContent = next;
  $("screen-qr").src = `/qr/${encodeURIComponent(next)}.svg`;
  const url = $("screen-url");
  const vars = JSON.parse(url.dataset.i18nVars || "{}");
  vars.url = String(vars.url ?? "").replace(/\/j\/[^/?#]*$/, `/j/${next}`);
  url.dataset.i18nVars = JSON.stringify(vars);
  url.textContent = t("screen.join_at", vars);
  history.replaceState(history.state, "", `/screen/${encodeURIComponent(next)}${location.search}`);
}

// Who speaks from the stage: a card per person on stage (at most two), with the name they
// gave, where they are and that they are on stage; while the moderator has them muted,
// "Mikrofonen är avstängd" in place of the status line (the room sees why the voice went
// quiet, and the card does not grow: at 1280×720 the question above had no room left to
// give). Someone without a name is "Deltagare på
// distans" (or "på plats"): it tells the room where the voice comes from, where the
// console's "Anonym" would read like a hidden identity on the wall.
let onStageShown = null;

function renderOnStage() {
  const box = $("screen-on-stage");
  const people = model.hands.filter((h) => h.status === "on_stage");
  const key = JSON.stringify([document.documentElement.lang, people.map((h) => [h.id, h.name, h.where, h.muted])]);
  if (key === onStageShown) return false;
  onStageShown = key;
  box.hidden = people.length === 0;
  box.querySelector(".on-stage-cards").replaceChildren(
    ...people.map((h) => {
      const remote = h.where !== "room";
      const where = t(remote ? "hands.remote" : "hands.room");
      const name = h.name || t(remote ? "namecard.anonymous_remote" : "namecard.anonymous_room");
      return el(
        "li",
        { class: "on-stage-card", dataset: { hand: h.id } },
        el(
          "p",
          { class: "on-stage-status" },
          h.muted
            ? el("span", { class: "on-stage-muted" }, t("namecard.muted"))
            : h.name
              ? t("namecard.status", { where })
              : t("namecard.label"),
        ),
        el("p", { class: "on-stage-name" }, name),
      );
    }),
  );
  return true;
}

// Live badge, closed and locked states, and the join code.
function renderSession() {
  const session = model.session;
  if (!session) return;
  $("screen-live").hidden = session.stream?.status !== "live";
  const closed = Boolean(session.closed);
  root.classList.toggle("is-closed", closed);
  $("screen-closed").hidden = !closed;
  $("screen-locked").hidden = !session.locked || closed;
  showCode(session.join_code);
}

function renderAll() {
  renderSession();
  renderNow();
  renderQuestion();
  renderScene();
  renderCount();
  onStageShown = null;
  renderOnStage();
  fitQuestion();
  fitPoll();
}

function onMessage(message) {
  const parts = model.apply(message);
  if (parts.includes("session")) {
    renderSession();
    fitQuestion(); // the closed banner leaves less room
    fitPoll();
  }
  if (parts.includes("agenda")) renderNow();
  if (parts.includes("questions")) renderQuestion();
  // A move brings agenda, show and polls in one message: the scene is drawn once from all.
  if (parts.includes("agenda") || parts.includes("show")) renderScene();
  else if (parts.includes("polls") || parts.includes("tallies")) renderPoll();
  if (parts.includes("agenda") || parts.includes("show")) {
    fitQuestion(); // a break banner or longer title leaves less room
    fitPoll();
  }
  if (parts.includes("presence")) renderCount();
  if (parts.includes("hands") && renderOnStage()) {
    fitQuestion(); // the name cards take room from the question or poll above them
    fitPoll();
    fitBox($("screen-agenda"));
    fitBox($("screen-speaker"));
    fitBox($("screen-countdown"));
  }
}

const live = new Live({
  join: { role: "screen", code },
  onMessage,
  onWelcome: (welcome) => model.welcome(welcome),
  onWaiting: showWaiting,
  onStatus: (status, error) => {
    showConnection(status);
    if (status === "failed") {
      // Live has given up (e.g. unknown code): say why instead of "connecting" forever.
      const message = error ? errorText(error) : t("error.generic");
      document.getElementById("conn-status").textContent = message;
      toast(message);
    }
  },
});

onLanguageChange(renderAll);
window.addEventListener("resize", () => {
  fitQuestion();
  fitPoll();
  fitBox($("screen-agenda"));
  fitBox($("screen-speaker"));
  fitBox($("screen-countdown"));
});
setInterval(renderCountdown, 500);
renderAll();
live.start();
