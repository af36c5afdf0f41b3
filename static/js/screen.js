// The big screen of the room: read-only, joined as role "screen", readable from the back row.
import { renderNowNext, speakerLine } from "./agenda-view.js";
import { count, onLanguageChange, t } from "./i18n.js";
import { Live } from "./live.js";
import { SessionModel } from "./model.js";
import { fitCloud, resultsView } from "./polls.js";
import { el, errorText, showConnection, showWaiting, toast } from "./ui.js";

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

// The poll on screen replaces the question area; its results are redrawn on every tally.
function renderPoll() {
  const box = $("screen-poll");
  const poll = model.pollOnScreen();
  box.hidden = !poll;
  root.classList.toggle("has-poll", Boolean(poll));
  $("screen-question").hidden = Boolean(poll);
  if (!poll) return;
  box.dataset.id = String(poll.id);
  box.dataset.status = poll.status;
  box.querySelector(".poll-text").textContent = poll.text;
  const results = resultsView(poll, { large: true });
  box.querySelector(".poll-body").replaceChildren(results);
  fitCloud(results);
}

// The room left for the poll changes with the banners above it and the window's size.
function fitPoll() {
  fitCloud($("screen-poll").querySelector(".poll-results"));
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
  renderPoll();
  renderCount();
  fitQuestion();
}

function onMessage(message) {
  const parts = model.apply(message);
  if (parts.includes("session")) {
    renderSession();
    fitQuestion(); // the closed banner leaves less room
    fitPoll();
  }
  if (parts.includes("agenda")) {
    renderNow();
    fitQuestion(); // a break banner or longer title leaves less room
    fitPoll();
  }
  if (parts.includes("questions")) renderQuestion();
  if (parts.includes("polls") || parts.includes("tallies")) renderPoll();
  if (parts.includes("presence")) renderCount();
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
});
renderAll();
live.start();
