// The moderator console: agenda and timer on the left, the question queue on the right.
// Every change goes to the server as a request; the console redraws only from server
// events (snapshot, questions, counts, agenda, session, presence), so every open
// console and the big screen show the same state and a reload shows it again.
// This file is the wiring: it makes the shared state (console-state.js), opens the live
// connection and hands each event to the panels (one module per panel).
import { onLanguageChange } from "./i18n.js";
import { showConnection, showWaiting, toast, errorText } from "./ui.js";
import { AccessPanel } from "./console-access.js";
import { ConsoleNav } from "./console-nav.js";
import { renderAgenda, renderTimer, wireAgenda } from "./console-agenda.js";
import { HandsPanel } from "./console-hands.js";
import { MergePanel } from "./console-merge.js";
import { PresencePanel } from "./console-presence.js";
import { QueuePanel } from "./console-queue.js";
import { ScenePanel } from "./console-scene.js";
import { StagePanel } from "./console-stage.js";
import { consoleState, sender } from "./console-state.js";
import { StreamPanel } from "./console-stream.js";
import { Live } from "./live.js";
import { ModeratorKey } from "./moderator-key.js";
import { PollConsole } from "./poll-console.js";

const $ = (id) => document.getElementById(id);
const root = $("mod");
const SESSION = root.dataset.session;

const state = consoleState(SESSION);
const model = state.model;
const send = sender(state);
// The polls panel and the report (poll-console.js); the key is read when a report is asked for.
const pollConsole = new PollConsole({ model, send, session: SESSION, key: () => state.key });
const streamPanel = new StreamPanel({ model, session: SESSION }); // console-stream.js
const stagePanel = new StagePanel({ session: SESSION, send, announce }); // console-stage.js
const nav = new ConsoleNav({ grid: $("console"), nav: $("mod-nav") }); // console-nav.js
const hands = new HandsPanel({ model, send, announce, nav }); // console-hands.js
const access = new AccessPanel({ model, root, session: SESSION, send, announce, onNewKey: (fresh) => useNewKey(fresh) });
const merge = new MergePanel({ state, send }); // console-merge.js
const nudgeMinutes = Number(root.dataset.nudgeMinutes ?? 20);
const queue = new QueuePanel({ state, send, nav, merge, announce, nudgeMinutes }); // console-queue.js
const presence = new PresencePanel({ model, streamPanel }); // console-presence.js
const scenes = new ScenePanel({ model, send, announce }); // console-scene.js

// -- the key (moderator-key.js) ------------------------------------------------------
const keyStore = new ModeratorKey(SESSION);

function needKey() {
  keyStore.clear(state.key);
  state.key = null;
  state.live?.stop();
  state.live = null; // controls then send nothing at all
  state.ready = false;
  $("console").hidden = true;
  $("need-key").hidden = false;
  showConnection("live"); // hides the banner: there is nothing to reconnect to
}

function renderSession() {
  if (model.session) $("premoderation").checked = Boolean(model.session.premoderation);
  access.render();
  streamPanel.render();
}

// -- access (console-access.js): a new moderator key in use at once --------------------
function useNewKey(fresh) {
  state.key = fresh;
  keyStore.write(fresh);
  if (state.live) state.live.join.moderator_token = fresh;
  streamPanel.keyChanged(); // the stream key changed too: fetched again after the reconnect
}

// -- events from the server ------------------------------------------------------------
function announce(text) {
  $("announce").textContent = text;
}

function onMessage(message) {
  queue.announceNew(message);
  const changed = model.apply(message);
  if (message.type === "snapshot") {
    queue.reset();
    if (!state.ready) {
      state.ready = true;
      $("console").removeAttribute("aria-busy");
      // Start where the work is: pending questions when pre-moderating.
      if (state.tab === null) state.tab = message.session.premoderation ? "pending" : "live";
      queue.selectTab(state.tab);
    }
  }
  queue.remember();
  if (changed.includes("session")) renderSession();
  if (changed.includes("agenda") || changed.includes("polls")) renderAgenda(model); // scenes name polls
  if (changed.includes("agenda")) pollConsole.renderItemChoices();
  if (changed.includes("show")) scenes.render();
  // A move changes which item's questions come first.
  if (changed.includes("questions") || changed.includes("counts") || changed.includes("agenda")) queue.render();
  if (changed.includes("presence")) {
    presence.render();
    if (state.ready && state.order === "balanced") queue.render(); // the weights are votes per person present
  }
  if (changed.includes("polls") || changed.includes("tallies") || changed.includes("agenda")) pollConsole.render();
  if (changed.includes("attendance")) pollConsole.renderAttendance();
  if (message.type === "snapshot" || message.type === "stage") stagePanel.show(message.stage);
  if (changed.includes("hands")) {
    hands.announceNew();
    hands.render();
  }
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
  wireAgenda(model, send, (item, opener) => scenes.open(item, opener));
  scenes.wire();

  const premoderation = $("premoderation");
  premoderation.addEventListener("change", async () => {
    const ok = await send({ type: "session.premoderation", on: premoderation.checked });
    if (!ok) renderSession(); // show the server's setting again
  });

  queue.wire();
  merge.wire();
}

// -- start -----------------------------------------------------------------------------
onLanguageChange(() => {
  if (!state.ready) return;
  queue.forget();
  renderAgenda(model);
  scenes.render();
  queue.render();
  merge.refresh();
  pollConsole.render();
  pollConsole.renderAttendance();
  presence.renderIdentities();
  streamPanel.render();
  stagePanel.render();
  hands.render();
});

function connect() {
  state.live = new Live({
    join: { role: "moderator", session: SESSION, moderator_token: state.key },
    onMessage,
    onStatus,
    onWaiting: showWaiting,
    onWelcome: (message) => {
      model.welcome(message);
      if (message.join_code) access.showJoinCode(message.join_code);
      streamPanel.load(state.key); // only once the key is known to be right
      stagePanel.load(state.key);
    },
  });
  state.live.start();
}

// The key was refused. When another tab of this device made a new key, it kept it here:
// carry on with that one instead of asking for the link again.
function followSharedKey() {
  const shared = keyStore.shared();
  if (!shared || shared === state.key) return false;
  state.key = shared;
  keyStore.write(shared);
  streamPanel.keyChanged();
  connect();
  return true;
}

state.key = keyStore.take();
if (!state.key) {
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
