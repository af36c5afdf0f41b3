// The moderator console: agenda and timer on the left, the question queue on the right.
// Every change goes to the server as a request; the console redraws only from server
// events (snapshot, questions, counts, agenda, session, presence), so every open
// console and the big screen show the same state and a reload shows it again.
import { t, count, formatNumber, onLanguageChange, currentLang } from "./i18n.js";
import { el, excerpt, toast, errorText, showConnection, showWaiting, timeOfDay } from "./ui.js";
import { AccessPanel } from "./console-access.js";
import { ConsoleNav } from "./console-nav.js";
import { renderAgenda, renderTimer, wireAgenda } from "./console-agenda.js";
import { firstControl, redrawKeepingFocus } from "./console-focus.js";
import { StagePanel } from "./console-stage.js";
import { balancedOrder, nudges } from "./fairness.js";
import { StreamPanel } from "./console-stream.js";
import { Live } from "./live.js";
import { ModeratorKey } from "./moderator-key.js";
import { SessionModel } from "./model.js";
import { PollConsole } from "./poll-console.js";

const $ = (id) => document.getElementById(id);
const root = $("mod");
const SESSION = root.dataset.session;

// Which question statuses each tab lists; "live" includes the highlighted one.
const TABS = {
  pending: ["pending"],
  live: ["highlighted", "live"],
  answered: ["answered"],
  hidden: ["hidden"],
};
// The actions the domain allows per status (companion/domain/questions.py).
const ACTIONS = {
  pending: ["approve", "highlight", "answer", "edit", "merge", "hide"],
  live: ["highlight", "answer", "edit", "merge", "hide"],
  highlighted: ["unhighlight", "answer", "edit", "merge", "hide"],
  answered: ["reopen", "edit", "merge", "hide"],
  hidden: ["approve", "edit", "merge"],
};
const REQUESTS = {
  approve: "question.approve",
  reopen: "question.approve", // approving an answered question reopens it
  hide: "question.hide",
  "hide-asker": "question.hide_asker",
  highlight: "question.highlight",
  unhighlight: "question.unhighlight",
  answer: "question.answer",
};
const LABELS = {
  approve: "moderator.approve",
  reopen: "moderator.reopen",
  hide: "moderator.hide",
  "hide-asker": "moderator.hide_asker",
  edit: "moderator.edit",
  merge: "moderator.merge_into",
  highlight: "moderator.highlight",
  unhighlight: "moderator.unhighlight",
  answer: "moderator.mark_answered",
};
const PRIMARY = new Set(["approve", "reopen", "highlight"]);

const model = new SessionModel();
let live = null;
let ready = false;
let tab = null; // chosen from the first snapshot, then by the moderator
let order = "votes"; // the live tab's order: "votes" or "balanced" (fairness.js)
const NUDGE_MINUTES = Number(root.dataset.nudgeMinutes ?? 20);
const editing = new Map(); // question id -> draft text, kept across redraws
let mergeSource = null;
let mergedInto = null; // the question a merge just went into, for the focus
const known = new Set(); // question ids seen, to announce only new pending ones
const inflight = new Set(); // requests not answered yet: a double tap sends once
const rendered = new Map(); // question id -> {sig, node}: unchanged rows are kept as is
// The polls panel and the report (poll-console.js); `key` is read when a report is asked for.
const pollConsole = new PollConsole({ model, send, session: SESSION, key: () => key });
const streamPanel = new StreamPanel({ model, session: SESSION }); // console-stream.js
const stagePanel = new StagePanel({ session: SESSION, send, announce }); // console-stage.js
const nav = new ConsoleNav({ grid: $("console"), nav: $("mod-nav") }); // console-nav.js
const access = new AccessPanel({ model, root, session: SESSION, send, announce, onNewKey: (fresh) => useNewKey(fresh) });
let key = null; // the moderator key in use; replaced when the moderator makes a new one

// -- the key (moderator-key.js) ------------------------------------------------------
const keyStore = new ModeratorKey(SESSION);

function needKey() {
  keyStore.clear(key);
  key = null;
  live?.stop();
  live = null; // controls then send nothing at all
  ready = false;
  $("console").hidden = true;
  $("need-key").hidden = false;
  showConnection("live"); // hides the banner: there is nothing to reconnect to
}

// -- requests --------------------------------------------------------------------------
// Resolves with the server's ack (truthy), or false when the request was refused.
async function send(message) {
  const sig = JSON.stringify(message);
  if (!live || inflight.has(sig)) return false;
  inflight.add(sig);
  try {
    return (await live.request(message)) ?? true;
  } catch (error) {
    toast(() => errorText(error));
    return false;
  } finally {
    inflight.delete(sig);
  }
}

// -- questions -------------------------------------------------------------------------
function sortedFor(name) {
  const questions = model.list(TABS[name]);
  if (name === "pending") questions.sort((a, b) => a.asked_at - b.asked_at); // first come, first moderated
  if (name === "live" && order === "balanced") {
    const on = questions.filter((q) => q.status === "highlighted");
    return [...on, ...balancedOrder(questions.filter((q) => q.status !== "highlighted"), model.presence)];
  }
  if (name === "live") questions.sort((a, b) => (b.status === "highlighted") - (a.status === "highlighted"));
  if (name === "answered") questions.sort((a, b) => (b.answered_at ?? 0) - (a.answered_at ?? 0));
  if (name === "hidden") questions.sort((a, b) => b.asked_at - a.asked_at);
  return questions; // Array.sort is stable, so "live" keeps the vote order under the highlight
}

function authorCounts() {
  const counts = new Map();
  // Only named questions carry `author`: an anonymous one is linked to nobody, here too.
  for (const q of model.questions.values()) {
    if (q.author) counts.set(q.author, (counts.get(q.author) ?? 0) + 1);
  }
  return counts;
}

function questionRow(q, byAuthor) {
  const textId = `q-text-${q.id}`;
  const draft = editing.get(q.id);
  const body = [];
  if (draft === undefined) {
    body.push(el("p", { class: "q-text", id: textId }, q.text));
  } else {
    const field = `q-edit-${q.id}`;
    body.push(
      el(
        "form",
        { class: "q-edit", dataset: { id: q.id } },
        el("label", { for: field }, t("moderator.question_text")),
        el("textarea", { id: field, maxlength: model.limits.question_chars, rows: 3, dataset: { action: "draft" } }, draft),
        el(
          "div",
          { class: "button-row" },
          el("button", { type: "submit", class: "primary", dataset: { action: "save" } }, t("moderator.save")),
          el("button", { type: "button", dataset: { action: "cancel" } }, t("moderator.cancel")),
        ),
      ),
    );
  }
  const asked = q.author ? (byAuthor.get(q.author) ?? 1) : 1;
  body.push(
    el(
      "p",
      { class: "q-meta" },
      el("span", { class: "q-name" }, q.name ?? t("common.anonymous")),
      el("span", { class: "q-where", dataset: { where: q.where } }, t(q.where === "room" ? "common.in_room" : "common.remote")),
      el("span", { class: "q-audience" }), // the audience's size in balanced order, set on each render
      // Who asked is the name (or "Anonym"); never a piece of the internal id.
      asked > 1 ? el("span", { class: "q-author" }, count("moderator.author_questions", asked)) : null,
      el("span", { class: "q-time" }, timeOfDay(q.asked_at)),
      q.edited ? el("span", { class: "q-edited" }, t("moderator.edited")) : null,
    ),
  );
  if (q.merged_from.length) {
    body.push(
      el(
        "div",
        { class: "q-merged" },
        el("span", { class: "q-merged-label" }, t("moderator.merged_from")),
        el(
          "ul",
          {},
          q.merged_from.map((id) => el("li", { dataset: { merged: id } }, model.questions.get(id)?.text ?? "")),
        ),
      ),
    );
  }
  if (draft === undefined) {
    body.push(
      el(
        "div",
        { class: "q-actions", role: "group", "aria-label": t("moderator.actions_for", { text: excerpt(q.text) }) },
        // Muting the asker is offered on anonymous questions: the server finds the asker
        // by question id, so the console never learns who it is.
        [...(ACTIONS[q.status] ?? []), ...(q.name == null && ACTIONS[q.status] ? ["hide-asker"] : [])].map((action) =>
          el(
            "button",
            {
              type: "button",
              class: [PRIMARY.has(action) ? "primary" : "", action.startsWith("hide") ? "danger" : ""].join(" ").trim() || null,
              dataset: { action },
              "aria-describedby": textId,
              "aria-haspopup": action === "merge" ? "dialog" : null,
            },
            t(LABELS[action]),
          ),
        ),
      ),
    );
  }
  return el(
    "li",
    { class: "question", id: `q-${q.id}`, dataset: { id: q.id, status: q.status } },
    el(
      "div",
      { class: "q-side" },
      el("span", { class: "q-votes" }, String(q.votes)),
      el("span", { class: "q-votes-label" }, count("common.votes_noun", q.votes)),
    ),
    el(
      "div",
      { class: "q-body" },
      q.status === "highlighted" ? el("span", { class: "badge on-screen-badge" }, t("questions.highlighted")) : null,
      body,
    ),
  );
}

function renderQueue() {
  if (!ready) return;
  const list = $("queue");
  const byAuthor = authorCounts();
  const questions = sortedFor(tab);
  const balanced = tab === "live" && order === "balanced";
  const lang = currentLang();
  redrawKeepingFocus(list, () => {
    const rows = questions.map((q) => {
      // Votes are left out of the signature: counts arrive often and only change a number,
      // so a row being tapped is not replaced under the finger.
      const { votes, ...rest } = q;
      const sig = JSON.stringify([rest, lang, editing.has(q.id), byAuthor.get(q.author), q.merged_from.map((id) => model.questions.get(id)?.text)]);
      let entry = rendered.get(q.id);
      if (!entry || entry.sig !== sig) {
        entry = { sig, node: questionRow(q, byAuthor) };
        rendered.set(q.id, entry);
      }
      entry.node.querySelector(".q-votes").textContent = formatNumber(votes);
      entry.node.querySelector(".q-votes-label").textContent = count("common.votes_noun", votes);
      const size = entry.node.querySelector(".q-audience");
      size.hidden = !balanced;
      size.textContent = balanced ? count("moderator.audience_present", model.presence[q.where] ?? 0) : "";
      return entry.node;
    });
    const wanted = new Set(rows);
    for (const node of [...list.children]) if (!wanted.has(node)) node.remove();
    rows.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    });
  }, () => $(`tab-${tab}`).focus()); // no question left in the tab: focus the tab
  for (const id of rendered.keys()) if (!model.questions.has(id)) rendered.delete(id);
  for (const id of editing.keys()) if (model.questions.get(id)?.status === "merged") editing.delete(id);
  $("queue-empty").hidden = questions.length > 0;

  for (const name of Object.keys(TABS)) $(`count-${name}`).textContent = String(model.list(TABS[name]).length);
  const pending = model.list(TABS.pending).length;
  $("tab-pending").dataset.attention = String(pending > 0);
  nav.setPending(pending); // the badge of the portrait console's Questions button

  $("queue-order").hidden = tab !== "live";
  renderNudge();

  const shown = model.highlighted();
  $("on-screen").hidden = !shown;
  $("on-screen-text").textContent = shown ? shown.text : "";
  if ($("merge-dialog").open) renderMergeTargets();
}

// An audience kept waiting: live questions and none of theirs answered for NUDGE_MINUTES.
function renderNudge() {
  const waiting = nudges([...model.questions.values()], model.now(), NUDGE_MINUTES);
  const text = waiting.map((where) => count(`moderator.nudge_${where}`, NUDGE_MINUTES)).join(" ");
  const nudge = $("fairness-nudge");
  if (nudge.textContent !== text) nudge.textContent = text; // unchanged text is not announced again
  nudge.hidden = !text;
}

function selectOrder(name) {
  order = name;
  for (const button of document.querySelectorAll("#queue-order [data-order]")) {
    button.setAttribute("aria-pressed", String(button.dataset.order === name));
  }
  renderQueue();
}

function selectTab(name, focus = false) {
  tab = name;
  for (const button of document.querySelectorAll("#tabs [role=tab]")) {
    const selected = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    if (selected && focus) button.focus();
  }
  $("queue-panel").setAttribute("aria-labelledby", `tab-${name}`);
  renderQueue();
}

// -- merging ---------------------------------------------------------------------------
function openMerge(id) {
  mergeSource = id;
  renderMergeTargets();
  $("merge-dialog").showModal();
}

function renderMergeTargets() {
  const source = model.questions.get(mergeSource);
  if (!source || source.status === "merged") {
    $("merge-dialog").close();
    return;
  }
  $("merge-source").textContent = source.text;
  const order = ["highlighted", "live", "pending", "answered", "hidden"];
  const targets = [...model.questions.values()]
    .filter((q) => q.id !== source.id && q.status !== "merged")
    .sort((a, b) => order.indexOf(a.status) - order.indexOf(b.status) || b.votes - a.votes);
  $("merge-targets").replaceChildren(
    ...targets.map((q) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "merge-target", dataset: { mergeTarget: q.id } },
          el("span", { class: "status", dataset: { status: q.status } }, t(`moderator.status_${q.status}`)),
          el("span", { class: "merge-text" }, q.text),
          el("span", { class: "merge-votes" }, count("common.votes", q.votes)),
        ),
      ),
    ),
  );
  $("merge-none").hidden = targets.length > 0;
}

// -- presence and settings -------------------------------------------------------------
function renderPresence() {
  const p = model.presence;
  for (const name of ["room", "remote", "moderators", "screens"]) {
    const n = p[name] ?? 0;
    $(`count-${name}`).textContent = formatNumber(n);
    const noun = $(`count-${name}-noun`);
    noun.dataset.i18nCount = String(n);
    noun.textContent = count(noun.dataset.i18n, n);
  }
  renderIdentities();
  streamPanel.render();
}

// New participant identities and the most from one network: far more than the people in
// the room, from one address, is what vote stuffing looks like (docs/security.md).
function renderIdentities() {
  const ids = model.presence.identities;
  $("identities").hidden = !ids || !ids.new;
  if (!ids) return;
  $("count-new").textContent = formatNumber(ids.new);
  const noun = $("count-new-noun");
  noun.dataset.i18nCount = String(ids.new);
  noun.textContent = count(noun.dataset.i18n, ids.new);
  $("one-address").textContent = t("moderator.presence_one_address", {
    n: formatNumber(ids.most_from_one_address),
  });
}

function renderSession() {
  if (model.session) $("premoderation").checked = Boolean(model.session.premoderation);
  access.render();
  streamPanel.render();
}

// -- access (console-access.js): a new moderator key in use at once --------------------
function useNewKey(fresh) {
  key = fresh;
  keyStore.write(fresh);
  if (live) live.join.moderator_token = fresh;
  streamPanel.keyChanged(); // the stream key changed too: fetched again after the reconnect
}

// -- events from the server ------------------------------------------------------------
function announce(text) {
  $("announce").textContent = text;
}

function onMessage(message) {
  if (message.type === "questions") {
    for (const q of message.questions) {
      if (!known.has(q.id) && q.status === "pending") announce(t("moderator.new_pending", { text: q.text }));
    }
  }
  const changed = model.apply(message);
  if (message.type === "snapshot") {
    known.clear();
    rendered.clear();
    $("queue").replaceChildren();
    if (!ready) {
      ready = true;
      $("console").removeAttribute("aria-busy");
      // Start where the work is: pending questions when pre-moderating.
      if (tab === null) tab = message.session.premoderation ? "pending" : "live";
      selectTab(tab);
    }
  }
  for (const id of model.questions.keys()) known.add(id);
  if (changed.includes("session")) renderSession();
  if (changed.includes("agenda")) {
    renderAgenda(model);
    pollConsole.renderItemChoices();
  }
  if (changed.includes("questions") || changed.includes("counts")) renderQueue();
  if (changed.includes("presence")) {
    renderPresence();
    if (ready && order === "balanced") renderQueue(); // the weights are votes per person present
  }
  if (changed.includes("polls") || changed.includes("tallies") || changed.includes("agenda")) pollConsole.render();
  if (changed.includes("attendance")) pollConsole.renderAttendance();
  if (message.type === "snapshot" || message.type === "stage") stagePanel.show(message.stage);
}

function onStatus(status, error) {
  root.dataset.connection = status;
  if (status === "failed") {
    if (error?.code !== "forbidden") toast(() => errorText(error ?? {}));
    else if (!followSharedKey()) needKey();
    return;
  }
  showConnection(status);
}

// -- controls --------------------------------------------------------------------------
function wireControls() {
  wireAgenda(model, send);

  const premoderation = $("premoderation");
  premoderation.addEventListener("change", async () => {
    const ok = await send({ type: "session.premoderation", on: premoderation.checked });
    if (!ok) renderSession(); // show the server's setting again
  });


  for (const button of document.querySelectorAll("#queue-order [data-order]")) {
    button.addEventListener("click", () => selectOrder(button.dataset.order));
  }
  setInterval(() => ready && renderNudge(), 15_000); // time passes between events

  const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
  for (const button of tabs) button.addEventListener("click", () => selectTab(button.dataset.tab));
  $("tabs").addEventListener("keydown", (event) => {
    const index = tabs.findIndex((b) => b.dataset.tab === tab);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    selectTab(next.dataset.tab, true);
  });

  const queue = $("queue");
  queue.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.closest("li.question").dataset.id);
    const action = button.dataset.action;
    if (action === "save") return; // handled by the form's submit
    if (action === "edit") {
      editing.set(id, model.questions.get(id)?.text ?? "");
      renderQueue();
      const field = $(`q-edit-${id}`);
      field?.focus();
      field?.setSelectionRange(field.value.length, field.value.length);
    } else if (action === "cancel") {
      stopEditing(id);
    } else if (action === "merge") {
      openMerge(id);
    } else if (REQUESTS[action]) {
      send({ type: REQUESTS[action], question: id });
    }
  });
  queue.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-action=draft]")) {
      editing.set(Number(event.target.closest("form").dataset.id), event.target.value);
    }
  });
  queue.addEventListener("keydown", (event) => {
    if (!event.target.matches("textarea[data-action=draft]")) return;
    const id = Number(event.target.closest("form").dataset.id);
    if (event.key === "Escape") stopEditing(id);
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) saveEdit(id);
  });
  queue.addEventListener("submit", (event) => {
    event.preventDefault();
    saveEdit(Number(event.target.dataset.id));
  });

  const dialog = $("merge-dialog");
  $("merge-cancel").addEventListener("click", () => dialog.close());
  $("merge-targets").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-merge-target]");
    if (!button || mergeSource === null) return;
    // Known before the request: the merge event may close the dialog before the ack comes.
    mergedInto = Number(button.dataset.mergeTarget);
    const ok = await send({ type: "question.merge", question: mergeSource, into: mergedInto });
    if (ok) dialog.close();
    else mergedInto = null;
  });
  dialog.addEventListener("close", () => {
    const source = mergeSource;
    const into = mergedInto;
    mergeSource = null;
    mergedInto = null;
    // After a merge the duplicate's row is gone: focus goes to the question it went into
    // (or, in another tab, to the tab list). Cancelled: back to the row that opened it.
    const row = document.querySelector(`#queue li[data-id="${into ?? source}"]`);
    if (row && !row.contains(document.activeElement)) firstControl(row)?.focus();
    else if (!row && (!document.activeElement || document.activeElement === document.body)) $(`tab-${tab}`).focus();
  });
}

function stopEditing(id) {
  editing.delete(id);
  renderQueue();
  document.querySelector(`#queue li[data-id="${id}"] [data-action=edit]`)?.focus();
}

async function saveEdit(id) {
  const text = (editing.get(id) ?? "").trim();
  if (text === model.questions.get(id)?.text) {
    stopEditing(id);
    return;
  }
  if (await send({ type: "question.edit", question: id, text })) stopEditing(id);
}

// -- start -----------------------------------------------------------------------------
onLanguageChange(() => {
  if (!ready) return;
  rendered.clear();
  renderAgenda(model);
  renderQueue();
  if ($("merge-dialog").open) renderMergeTargets();
  pollConsole.render();
  pollConsole.renderAttendance();
  renderIdentities();
  streamPanel.render();
  stagePanel.render();
});

function connect() {
  live = new Live({
    join: { role: "moderator", session: SESSION, moderator_token: key },
    onMessage,
    onStatus,
    onWaiting: showWaiting,
    onWelcome: (message) => {
      model.welcome(message);
      if (message.join_code) access.showJoinCode(message.join_code);
      streamPanel.load(key); // only once the key is known to be right
      stagePanel.load(key);
    },
  });
  live.start();
}

// The key was refused. When another tab of this device made a new key, it kept it here:
// carry on with that one instead of asking for the link again.
function followSharedKey() {
  const shared = keyStore.shared();
  if (!shared || shared === key) return false;
  key = shared;
  keyStore.write(shared);
  streamPanel.keyChanged();
  connect();
  return true;
}

key = keyStore.take();
if (!key) {
  needKey();
} else {
  wireControls();
  access.wire();
  pollConsole.wire();
  stagePanel.wire();
  connect();
  // The timer is computed locally from the server's clock; redraw it every half second.
  setInterval(() => renderTimer(model), 500);
}
