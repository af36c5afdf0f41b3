// The participant page: phone in the room (/room/CODE) or laptop at a distance (/remote/CODE).
// One script for both; the remote parts (stream, full agenda) exist only in remote mode.
import { renderNowNext, speakerNames } from "./agenda-view.js";
import { count, formatTime, onLanguageChange, t } from "./i18n.js";
import { Live } from "./live.js";
import { SessionModel } from "./model.js";
import { MyData } from "./my-data.js";
import { PollList } from "./polls.js";
import { StreamPlayer } from "./player.js";
import { SpeakPanel } from "./speak.js";
import { el, errorText, remember, showConnection, showWaiting, toast } from "./ui.js";

const root = document.getElementById("participant");
let code = root.dataset.code; // follows the session's join code when the moderator replaces it
// A members-only session's remote page carries the member's own participant token (made
// from their personal link): it is who this page joins and watches as.
if (root.dataset.memberToken) localStorage.setItem(`companion.token.${code}`, root.dataset.memberToken);
const mode = root.dataset.mode === "remote" ? "remote" : "room";
const profile = remember.get("profile", {}) ?? {};
const myName = typeof profile.name === "string" ? profile.name.trim() : "";

const model = new SessionModel();
// Statuses anyone may see; own pending questions are added on top.
const PUBLIC = ["live", "highlighted", "answered"];
const VOTABLE = new Set(["live", "highlighted"]);

const $ = (id) => document.getElementById(id);
const form = $("ask-form");
const textarea = $("question-text");
const charCount = $("char-count");
const showName = $("show-name");
const list = $("questions");
const announcer = $("announce");
const sortButtons = { votes: $("sort-votes"), newest: $("sort-newest") };

let order = remember.get("sort", "votes") === "newest" ? "newest" : "votes";
let ready = false; // no announcements before the first snapshot
const rows = new Map(); // question id -> <li>
const busyVotes = new Set(); // question ids with a vote request in flight
let asking = null; // text of the question being sent: its event may arrive before the ack
// Polls (polls.js): answer forms and results; answers go out as `poll.answer`.
const polls = new PollList({
  section: $("polls"),
  list: $("poll-list"),
  closedSection: $("poll-results"),
  closedList: $("poll-results-list"),
  closedCount: $("poll-results-count"),
  model,
  send: (poll, answer) => live.request({ type: "poll.answer", poll, answer }),
  notify: (text, kind = "error") => toast(text, kind),
});

// -- helpers -------------------------------------------------------------------------


function visibleQuestions() {
  return model
    .list([...PUBLIC, "pending"], order)
    .filter((q) => q.status !== "pending" || model.mine.has(q.id));
}

// -- rendering: now / next / break / stream / agenda ---------------------------------

function renderNow() {
  const box = $("current-item");
  const next = $("next-item");
  renderNowNext(
    {
      box,
      title: box.querySelector(".item-title"),
      speakers: box.querySelector(".item-speakers"),
      time: box.querySelector(".item-time"),
      next,
      nextTime: next.querySelector(".item-time"),
      nextTitle: next.querySelector(".item-title"),
      breakBanner: $("break-banner"),
    },
    model,
  );
}

// The remote page plays the stream over WHEP with this page's participant token (player.js).
// Media is addressed by the session id, never the join code: the proxy sends a session's
// WHIP and WHEP to one server process by a hash of that id (deploy/nginx.conf).
const player =
  mode === "remote" && $("stream")
    ? new StreamPlayer({
        root: $("stream"),
        session: root.dataset.session,
        endpoint: `/whep/${encodeURIComponent(root.dataset.session)}`,
        token: () => localStorage.getItem(`companion.token.${code}`),
      })
    : null;

function renderStream() {
  const status = model.session?.stream?.status ?? "offline";
  $("stream-badge").hidden = status !== "live"; // in the room too: "this is being streamed"
  player?.setStatus(status);
  const slate = model.show?.stream === "slate";
  $("stream")?.setAttribute("data-show-stream", slate ? "slate" : "camera");
  if ($("stream-slate")) $("stream-slate").hidden = !slate;
}

function renderAgenda() {
  const agenda = $("agenda");
  if (!agenda) return;
  const items = model.agenda?.items ?? [];
  agenda.replaceChildren(
    ...items.map((item) => {
      const current = item.id === model.agenda.current;
      return el(
        "li",
        {
          class: `agenda-item${current ? " current" : ""}`,
          dataset: { item: item.id, status: item.status, kind: item.kind },
          "aria-current": current ? "true" : null,
        },
        el("span", { class: "agenda-time" }, formatTime(item.start)),
        el(
          "div",
          { class: "agenda-body" },
          el("span", { class: "agenda-title" }, item.title),
          speakerNames(item) ? el("span", { class: "agenda-speakers" }, speakerNames(item)) : null,
          el(
            "span",
            { class: "agenda-meta" },
            el("span", { class: "agenda-kind" }, t(`common.kind_${item.kind}`)),
            item.minutes ? el("span", { class: "agenda-minutes" }, count("common.minutes", item.minutes)) : null,
            el("span", { class: "status", dataset: { status: item.status } }, t(`common.status_${item.status}`)),
          ),
        ),
      );
    }),
  );
}

// -- rendering: questions ------------------------------------------------------------

function badge(kind, key) {
  return el("span", { class: `badge badge-${kind}` }, t(key));
}

function createRow(id) {
  return el(
    "li",
    { class: "question", dataset: { id } },
    el(
      "div",
      { class: "q-body" },
      el("div", { class: "q-badges" }),
      el("p", { class: "q-text" }),
      el("p", { class: "q-meta" }, el("span", { class: "q-name" }), el("span", { class: "q-where" })),
    ),
    el(
      "button",
      { type: "button", class: "vote-button", dataset: { id } },
      el("span", { class: "vote-arrow", "aria-hidden": "true" }, "▲"),
      el("span", { class: "q-votes" }),
      el("span", { class: "vote-name visually-hidden" }),
    ),
  );
}

// Rows are patched in place, never replaced, so a tap that lands while counts arrive still counts.
function updateRow(row, q) {
  const mine = model.mine.has(q.id);
  const voted = model.myVotes.has(q.id);
  row.dataset.status = q.status;
  row.classList.toggle("mine", mine);
  const badges = [];
  if (mine) badges.push(badge("mine", "questions.mine"));
  if (q.status === "pending") badges.push(badge("pending", "questions.pending"));
  if (q.status === "highlighted") badges.push(badge("highlighted", "questions.highlighted"));
  if (q.status === "answered") badges.push(badge("answered", "questions.answered"));
  const badgeBox = row.querySelector(".q-badges");
  badgeBox.replaceChildren(...badges);
  badgeBox.hidden = badges.length === 0;
  setText(row.querySelector(".q-text"), q.text);
  setText(row.querySelector(".q-name"), q.name || t("common.anonymous"));
  const where = row.querySelector(".q-where");
  setText(where, q.where ? t(q.where === "room" ? "common.in_room" : "common.remote") : "");
  where.hidden = !q.where;
  const button = row.querySelector(".vote-button");
  button.setAttribute("aria-pressed", voted ? "true" : "false");
  // Named by its content, so the name starts with what it shows (the count): "3 röster.
  // Rösta på frågan: …" (WCAG 2.5.3, label in name).
  setText(
    button.querySelector(".vote-name"),
    ` ${count("common.votes_noun", q.votes)}. ${t("questions.vote_for", { text: q.text })}`,
  );
  // Withdrawing stays possible after a question is answered; casting does not.
  // A closed session takes no votes at all, not even withdrawals.
  button.disabled = sessionClosed() || !(VOTABLE.has(q.status) || voted);
  button.setAttribute("aria-busy", busyVotes.has(q.id) ? "true" : "false");
  setText(button.querySelector(".q-votes"), String(q.votes));
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderQuestions() {
  const focused = document.activeElement;
  const wanted = visibleQuestions();
  const keep = new Set(wanted.map((q) => q.id));
  for (const [id, row] of rows) {
    if (!keep.has(id)) {
      row.remove();
      rows.delete(id);
    }
  }
  // With an item current, its questions come first under "Frågor för den här delen".
  const current = model.agenda?.current ?? null;
  const parts = { current: [], other: [] };
  for (const q of wanted) parts[current === null || q.item_id === current ? "current" : "other"].push(q);
  for (const [part, questions] of Object.entries(parts)) {
    const box = part === "current" ? $("questions-current") : $("questions-other");
    questions.forEach((q, index) => {
      let row = rows.get(q.id);
      if (!row) {
        row = createRow(q.id);
        rows.set(q.id, row);
      }
      updateRow(row, q);
      if (box.children[index] !== row) box.insertBefore(row, box.children[index] ?? null);
    });
  }
  const split = current !== null && parts.other.length > 0;
  $("questions-current-heading").hidden = !split || parts.current.length === 0;
  $("questions-current").hidden = parts.current.length === 0;
  $("questions-other-heading").hidden = !split;
  $("questions-other").hidden = parts.other.length === 0;
  // Named by the part's heading when there are two parts, else by "Frågor".
  $("questions-current").setAttribute("aria-labelledby", split ? "questions-current-heading" : "questions-heading");
  $("questions-empty").hidden = wanted.length > 0;
  // Moving a row drops focus from its button; give it back.
  if (focused && focused !== document.activeElement && list.contains(focused)) focused.focus();
}

function renderSort() {
  for (const [name, button] of Object.entries(sortButtons)) {
    button.setAttribute("aria-pressed", name === order ? "true" : "false");
  }
}

function renderAskForm() {
  const left = textarea.maxLength - textarea.value.length; // the server's limit (template, welcome)
  charCount.textContent = count("questions.chars_left", left);
  charCount.classList.toggle("low", left <= 50);
  const row = $("show-name-row");
  row.hidden = !myName;
  row.querySelector(".show-name-label").textContent = myName ? t("questions.show_name_as", { name: myName }) : "";
  // The organiser allows no anonymous questions: the name goes with every question, and
  // whoever joined without one is shown the way back to give it.
  const named = model.session?.anonymous === false;
  if (named) showName.checked = true;
  showName.disabled = named;
  $("name-needed").hidden = !(named && !myName);
  // Who will see the name, said before sending: without it not even the moderator can
  // tell who asked (the server sends them no asker id for an anonymous question).
  const withName = Boolean(myName) && showName.checked;
  $("who-sees").textContent = t(withName ? "questions.who_sees_named" : "questions.who_sees_anonymous");
}

// -- rendering: locked (no new questions) and closed (no questions, votes or answers) --

function sessionClosed() {
  return Boolean(model.session?.closed);
}

function renderAccess() {
  const closed = sessionClosed();
  const locked = Boolean(model.session?.locked);
  root.dataset.closed = String(closed);
  root.dataset.locked = String(locked);
  $("session-closed").hidden = !closed;
  $("ask-locked").hidden = !locked || closed;
  const blocked = locked || closed;
  textarea.disabled = blocked;
  showName.disabled = blocked;
  // While a question is being sent the button is only marked busy: a disabled button would
  // drop keyboard focus to the page's body.
  $("ask-submit").disabled = blocked;
  $("ask-submit").setAttribute("aria-disabled", String(blocked || asking !== null));
  const why = closed ? "session-closed" : locked ? "ask-locked" : null;
  textarea.setAttribute("aria-describedby", why ? `${why} char-count` : "char-count");
}

// The moderator made a new join code: the old one no longer opens the session, so this page
// reconnects, reloads and plays with the new one, and keeps this participant's token.
function followCode(next) {
  if (!next || next === code) return;
  const token = localStorage.getItem(`companion.token.${code}`);
  code = next;
  root.dataset.code = next;
  if (token) localStorage.setItem(`companion.token.${next}`, token);
  live.join.code = next;
  live.tokenKey = `companion.token.${next}`;
  history.replaceState(history.state, "", `/${mode}/${encodeURIComponent(next)}${location.search}`);
}

function renderSession() {
  followCode(model.session?.join_code);
  renderStream();
  renderAccess();
  renderAskForm(); // anonymous questions allowed or not
  renderQuestions(); // vote buttons follow `closed`
  polls.render(); // and so do poll answers
}

function renderAll() {
  renderNow();
  renderStream();
  renderAccess();
  renderAgenda();
  renderQuestions();
  renderSort();
  renderAskForm();
  polls.render();
  speak?.render();
}

// -- live updates --------------------------------------------------------------------

function announceNew(message) {
  if (!ready) return;
  for (const q of message.questions) {
    if (!rows.has(q.id) && PUBLIC.includes(q.status) && !model.mine.has(q.id) && q.text !== asking) {
      announcer.textContent = t("questions.new_question", { text: q.text });
    }
  }
}

function onMessage(message) {
  if (message.type === "questions") announceNew(message);
  const parts = model.apply(message);
  if (message.type === "snapshot") ready = true;
  if (parts.includes("session")) renderSession();
  if (parts.includes("show")) renderStream();
  if (parts.includes("agenda")) {
    renderNow();
    renderAgenda();
  }
  // A move changes which questions are "for this part".
  if (parts.includes("questions") || parts.includes("counts") || parts.includes("agenda")) renderQuestions();
  if (parts.includes("polls") || parts.includes("tallies")) polls.render();
  if (parts.includes("hands")) speak?.render();
}

const live = new Live({
  join: { code, where: profile.where || mode, name: myName || null },
  tokenKey: `companion.token.${code}`,
  onMessage,
  onWelcome: (welcome) => {
    model.welcome(welcome);
    if (welcome.limits?.question_chars) textarea.maxLength = welcome.limits.question_chars;
    renderAskForm();
  },
  onWaiting: showWaiting,
  onStatus: (status, error) => {
    showConnection(status);
    speak?.connection(status); // defined below; the first status comes from live.start()
    if (status === "failed") {
      // Live has given up (e.g. unknown code): say why instead of "connecting" forever.
      const message = error ? errorText(error) : t("error.generic");
      document.getElementById("conn-status").textContent = message;
      toast(message);
    }
  },
});

// -- actions -------------------------------------------------------------------------

textarea.addEventListener("input", renderAskForm);
showName.addEventListener("change", renderAskForm);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (asking !== null) return; // one question at a time; a second press is ignored
  const text = textarea.value.trim();
  if (!text) {
    toast(() => errorText({ code: "text_empty" }));
    textarea.focus();
    return;
  }
  const name = showName.checked && myName ? myName : null;
  asking = text;
  renderAccess();
  try {
    const ack = await live.request({ type: "ask", text, name });
    model.mine.add(ack.question);
    // A held question never reaches us as an event, so show it from what we sent.
    if (!model.questions.has(ack.question)) {
      model.questions.set(ack.question, {
        id: ack.question,
        text,
        name,
        where: profile.where || mode,
        status: ack.status,
        votes: 0,
        asked_at: model.now(),
        item_id: model.agenda?.current ?? null, // the server tags it with the current item too
      });
    }
    textarea.value = "";
    renderAskForm();
    renderQuestions();
    const said = { pending: "questions.held", hidden: "questions.withheld" }[ack.status] ?? "questions.sent";
    toast(() => t(said), "info");
  } catch (error) {
    toast(() => errorText(error));
  } finally {
    asking = null;
    renderAccess(); // enables the form again, unless questions were locked meanwhile
  }
});

list.addEventListener("click", async (event) => {
  const button = event.target.closest(".vote-button");
  if (!button || button.disabled) return;
  const id = Number(button.dataset.id);
  // Ignore taps while a vote is in flight; not `disabled`, which would drop keyboard focus.
  if (busyVotes.has(id)) return;
  busyVotes.add(id);
  button.setAttribute("aria-busy", "true");
  try {
    const ack = await live.request({ type: "vote", question: id });
    const q = model.questions.get(ack.question);
    if (q) q.votes = ack.votes;
    if (ack.voted) model.myVotes.add(ack.question);
    else model.myVotes.delete(ack.question);
  } catch (error) {
    toast(() => errorText(error));
  } finally {
    busyVotes.delete(id);
    renderQuestions();
  }
});

for (const [name, button] of Object.entries(sortButtons)) {
  button.addEventListener("click", () => {
    order = name;
    remember.set("sort", order);
    renderSort();
    renderQuestions();
  });
}

// "Jag vill prata" (speak.js): on the remote page only.
const speak = $("speak-panel")
  ? new SpeakPanel({
      model,
      request: (message) => live.request(message),
      notify: (error) => toast(() => errorText(error ?? {})),
      announce: (text) => (announcer.textContent = text),
      session: root.dataset.session,
      token: () => localStorage.getItem(`companion.token.${code}`),
      player,
    })
  : null;
speak?.wire();

const myData = new MyData({
  live,
  model,
  code,
  tokenKey: () => live.tokenKey,
  name: myName,
  onForgotten: () => {
    // Nothing on this page is this device's any more: no "your question", no pressed votes.
    live.stop();
    model.mine.clear();
    model.myVotes.clear();
    renderQuestions();
  },
});

onLanguageChange(() => {
  renderAll();
  myData.render();
});
renderAll();
live.start();
