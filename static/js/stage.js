// The stage monitor: faces the speaker. The time left on the current item in very large
// digits (amber in the last two minutes, red and counting up when over), the highlighted
// question, the next item and the moderator's messages until dismissed. It joins with the
// moderator link's key (moderator-key.js) because the messages go to moderators only; it
// sends nothing.
import { renderBreak } from "./agenda-view.js";
import { formatTime, onLanguageChange, t } from "./i18n.js";
import { Live } from "./live.js";
import { ModeratorKey } from "./moderator-key.js";
import { SessionModel } from "./model.js";
import { clock, el, errorText, showConnection, toast } from "./ui.js";

const $ = (id) => document.getElementById(id);
const root = $("stage");
const SESSION = root.dataset.session;
const WARNING_SECONDS = 120; // amber from here on
const model = new SessionModel();
let messages = [];
let live = null;
const keyStore = new ModeratorKey(SESSION);
let key = keyStore.take();

function needKey() {
  keyStore.clear(key);
  live?.stop();
  live = null;
  root.setAttribute("aria-busy", "false");
  for (const part of root.children) part.hidden = part.id !== "need-key";
  showConnection("live");
}

// Shrink a text one step at a time until its box shows all of it (nothing clipped).
const FIT_STEPS = Array.from({ length: 15 }, (_, i) => 1 - i * 0.05); // 1 … 0.3
function fit(node) {
  for (const step of FIT_STEPS) {
    node.style.setProperty("--fit", String(step));
    if (node.scrollHeight <= node.clientHeight + 1 && node.scrollWidth <= node.clientWidth + 1) return;
  }
}

function renderTimer() {
  const timer = $("stage-timer");
  const label = $("stage-timer-label");
  const left = model.currentItem() ? model.timeLeft() : null;
  let state = "none";
  let text = "–";
  if (left !== null) {
    state = left < 0 ? "over" : left <= WARNING_SECONDS ? "warning" : "normal";
    text = left < 0 ? `+${clock(-left)}` : clock(Math.ceil(left));
  }
  const paused = model.agenda?.timer?.running_since === null;
  if (timer.textContent !== text) {
    const longer = timer.textContent.length !== text.length; // "9:59" -> "+10:00" may not fit
    timer.textContent = text;
    if (longer) fit(timer);
  }
  timer.dataset.state = state;
  timer.dataset.paused = String(Boolean(left !== null && paused));
  const words =
    left === null ? t("stage.no_timer") : paused ? t("stage.paused") : state === "over" ? t("stage.over_time") : t("stage.time_left");
  if (label.textContent !== words) label.textContent = words;
}

function renderAgenda() {
  const item = model.currentItem();
  $("stage-current-title").textContent = item ? item.title : t("common.no_current_item");
  const next = model.nextItem();
  const box = $("stage-next");
  box.hidden = !next;
  if (next) {
    box.querySelector(".next-time").textContent = formatTime(next.start);
    box.querySelector(".next-title").textContent = next.title;
  }
  renderBreak($("stage-break"), model);
  fit($("stage-current-title").parentElement);
  renderTimer();
  fit($("stage-next").querySelector(".stage-next-title"));
}

function renderQuestion() {
  const q = model.highlighted();
  const text = $("stage-q-text");
  text.textContent = q ? q.text : t("stage.no_question");
  text.dataset.empty = String(!q);
  $("stage-q-name").textContent = q ? q.name || t("common.anonymous") : "";
  fit(text);
}

function renderMessages() {
  const box = $("stage-messages");
  box.hidden = messages.length === 0;
  root.classList.toggle("has-messages", messages.length > 0);
  $("stage-message-list").replaceChildren(
    ...messages.map((m) => el("li", { class: "stage-message", dataset: { id: m.id } }, m.text)),
  );
  for (const node of box.querySelectorAll(".stage-message")) fit(node);
  // The messages take room from the timer and the question.
  fit($("stage-timer"));
  fit($("stage-q-text"));
}

function onMessage(message) {
  if (message.type === "snapshot" || message.type === "stage") {
    messages = message.stage?.messages ?? [];
    renderMessages();
  }
  const parts = model.apply(message);
  if (parts.includes("agenda")) renderAgenda();
  if (parts.includes("questions")) renderQuestion();
  if (message.type === "snapshot") root.setAttribute("aria-busy", "false");
}

function renderAll() {
  renderAgenda();
  renderQuestion();
  renderMessages();
  fit($("stage-timer"));
}

if (!key) {
  needKey();
} else {
  live = new Live({
    join: { role: "moderator", session: SESSION, moderator_token: key },
    onMessage,
    onWelcome: (welcome) => model.welcome(welcome),
    onStatus: (status, error) => {
      if (status === "failed" && error?.code === "forbidden") {
        needKey(); // a new moderator link replaced this key
        return;
      }
      showConnection(status);
      if (status === "failed") toast(() => (error ? errorText(error) : t("error.generic")));
    },
  });
  onLanguageChange(renderAll);
  window.addEventListener("resize", renderAll);
  renderAll();
  live.start();
  // The timer is computed locally from the server's clock; redraw it often enough that a
  // second never shows late.
  setInterval(renderTimer, 250);
}
