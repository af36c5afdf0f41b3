// The camera page: pick a camera and a microphone, preview, Go live / Stop.
// It publishes over WHIP (POST /whip/SESSION with the moderator key as Bearer token) and
// follows the session as a moderator, so the status it shows is the server's.
import { count, onLanguageChange, t } from "./i18n.js";
import { Live } from "./live.js";
import { ModeratorKey } from "./moderator-key.js";
import { SessionModel } from "./model.js";
import { el, showConnection, timeOfDay, toast } from "./ui.js";
import { end, iceServers, negotiate } from "./whip-client.js";

const $ = (id) => document.getElementById(id);
const root = $("camera");
const SESSION = root.dataset.session;
const GATHER_MS = 2000;

const model = new SessionModel();
const preview = $("preview");
const pickCamera = $("pick-camera");
const pickMicrophone = $("pick-microphone");
const goLive = $("go-live");
const stopLive = $("stop-live");

let key = null;
let media = null; // the MediaStream being previewed (and sent when live)
let pc = null;
let resource = null; // the WHIP session URL, for DELETE
let phase = "idle"; // idle | starting | live | stopping
let focusFollows = false; // keyboard focus was on Gå live / Avsluta when it was swapped
let settingsLoaded = false;

// -- the key (moderator-key.js, shared with the console) -----------------------------
const keyStore = new ModeratorKey(SESSION);

function needKey() {
  keyStore.clear();
  $("camera-main").hidden = true;
  $("need-key").hidden = false;
  showConnection("live");
}

// -- devices and preview ---------------------------------------------------------------
function constraints() {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  if (pickCamera.value) video.deviceId = { exact: pickCamera.value };
  let audio = true;
  if (pickMicrophone.value === "none") audio = false;
  else if (pickMicrophone.value) audio = { deviceId: { exact: pickMicrophone.value } };
  return { video, audio };
}

function fillSelect(select, devices, extra = []) {
  const current = select.value;
  select.replaceChildren(
    ...extra,
    ...devices.map((d, i) => el("option", { value: d.deviceId }, d.label || `${select.id === "pick-camera" ? t("stream.camera") : t("stream.microphone")} ${i + 1}`)),
  );
  if ([...select.options].some((o) => o.value === current)) select.value = current;
  select.disabled = select.options.length === 0;
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillSelect(pickCamera, devices.filter((d) => d.kind === "videoinput"));
  fillSelect(
    pickMicrophone,
    devices.filter((d) => d.kind === "audioinput"),
    [el("option", { value: "none", "data-i18n": "stream.no_microphone" }, t("stream.no_microphone"))],
  );
  // Show the devices actually in use.
  for (const track of media?.getTracks() ?? []) {
    const id = track.getSettings().deviceId;
    const select = track.kind === "video" ? pickCamera : pickMicrophone;
    if (id && [...select.options].some((o) => o.value === id)) select.value = id;
  }
}

async function startPreview() {
  $("camera-error").hidden = true;
  $("retry-camera").hidden = true;
  try {
    const next = await navigator.mediaDevices.getUserMedia(constraints());
    const previous = media;
    media = next;
    preview.srcObject = media;
    preview.play().catch(() => {});
    if (pc) await replaceTracks();
    for (const track of previous?.getTracks() ?? []) track.stop();
    await listDevices();
  } catch (error) {
    $("camera-error").textContent = t("stream.camera_error");
    $("camera-error").hidden = false;
    $("retry-camera").hidden = false;
    console.warn("getUserMedia failed", error);
  }
  render();
}

async function replaceTracks() {
  for (const sender of pc.getSenders()) {
    const kind = sender.track?.kind ?? null;
    const track = media.getTracks().find((t) => t.kind === kind) ?? null;
    if (kind) await sender.replaceTrack(track);
  }
}

// -- publishing over WHIP --------------------------------------------------------------
async function start() {
  if (!media || phase !== "idle") return;
  phase = "starting";
  render();
  // The server's TURN servers, so a camera behind a strict NAT can still publish.
  const connection = new RTCPeerConnection({ iceServers: await iceServers(SESSION, key) });
  pc = connection;
  for (const track of media.getTracks()) {
    connection.addTransceiver(track, { direction: "sendonly", streams: [media] });
  }
  connection.addEventListener("connectionstatechange", () => {
    if (pc !== connection) return;
    if (connection.connectionState === "connected" && phase === "starting") {
      phase = "live";
      render();
    } else if (connection.connectionState === "failed") {
      toast(() => t("stream.connection_lost"));
      teardown();
    }
  });
  try {
    resource = await negotiate(connection, `/whip/${encodeURIComponent(SESSION)}`, key, { gatherMs: GATHER_MS });
  } catch (error) {
    if (error.status === 401 || error.status === 403) needKey();
    toast(() => t(error.status === 409 ? "stream.busy" : "stream.publish_failed"));
    teardown();
  }
}

async function stop() {
  if (!pc || phase === "stopping") return;
  phase = "stopping";
  render();
  if (resource) await end(resource, key, { timeoutMs: 3000 }); // before closing (whip-client.js)
  teardown();
}

function teardown() {
  pc?.close();
  pc = null;
  resource = null;
  phase = "idle";
  render();
}

// -- the stream key for OBS ------------------------------------------------------------
async function loadSettings() {
  const response = await fetch(`/api/stream/${encodeURIComponent(SESSION)}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  if (response.status === 401 || response.status === 403) {
    needKey();
    return;
  }
  if (!response.ok) return;
  const info = await response.json();
  $("whip-url").value = info.whip_url;
  $("stream-key").value = info.stream_key;
}

function wireKeyControls() {
  const showKey = $("show-key");
  showKey.addEventListener("click", () => {
    const shown = $("stream-key").type === "text";
    $("stream-key").type = shown ? "password" : "text";
    showKey.setAttribute("aria-pressed", shown ? "false" : "true");
    showKey.dataset.i18n = shown ? "stream.show_key" : "stream.hide_key";
    showKey.textContent = t(showKey.dataset.i18n);
  });
  for (const button of root.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const input = $(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(input.value);
      } catch {
        input.type = "text";
        input.select();
        document.execCommand("copy");
      }
      toast(() => t("stream.copied"), "info");
    });
  }
}

// -- status ----------------------------------------------------------------------------
function render() {
  const stream = model.session?.stream ?? { status: "offline", since: null };
  const viewers = model.presence?.viewers ?? 0;
  const serverLive = stream.status === "live";
  const box = $("camera-status");
  let text;
  if (phase === "starting") text = t("stream.starting");
  else if (phase === "stopping") text = t("stream.stopping");
  else if (serverLive) {
    const since = stream.since ? t("stream.live_since", { time: timeOfDay(stream.since) }) : t("stream.live");
    text = `${since} · ${count("stream.viewers", viewers)}`;
  } else text = t("stream.not_live");
  box.textContent = text;
  box.dataset.status = phase === "idle" ? (serverLive ? "live-elsewhere" : "offline") : phase;
  const mine = phase !== "idle";
  const active = document.activeElement;
  focusFollows = active === goLive || active === stopLive || (focusFollows && (!active || active === document.body));
  goLive.hidden = mine;
  // Someone else (OBS, another tab) is live: one publisher per session.
  goLive.disabled = !media || serverLive;
  stopLive.hidden = !mine;
  // Busy while stopping, not disabled: a disabled button would drop keyboard focus.
  stopLive.setAttribute("aria-disabled", String(phase === "stopping"));
  // Gå live and Avsluta take each other's place: focus follows to the one shown (waiting
  // until it is enabled, while the server still reports the stream) instead of <body>.
  const now = document.activeElement;
  if (focusFollows && (!now || now === document.body || now.hidden || now.disabled)) {
    [goLive, stopLive].find((b) => !b.hidden && !b.disabled)?.focus();
  }
  pickCamera.disabled = pickCamera.options.length === 0;
  pickMicrophone.disabled = pickMicrophone.options.length === 0;
}

function onMessage(message) {
  const changed = model.apply(message);
  if (changed.includes("session") || changed.includes("presence")) render();
}

// -- start -----------------------------------------------------------------------------
key = keyStore.take();
if (!key) {
  needKey();
} else {
  wireKeyControls();
  goLive.addEventListener("click", start);
  stopLive.addEventListener("click", stop);
  $("retry-camera").addEventListener("click", startPreview);
  pickCamera.addEventListener("change", startPreview);
  pickMicrophone.addEventListener("change", startPreview);
  // Leaving the page ends the publication at once instead of after a timeout.
  window.addEventListener("pagehide", () => {
    if (resource) end(resource, key, { keepalive: true });
  });
  const live = new Live({
    join: { role: "moderator", session: SESSION, moderator_token: key },
    onMessage,
    onWelcome: (message) => {
      model.welcome(message);
      if (!settingsLoaded) loadSettings(); // once the key is known to be right
      settingsLoaded = true;
    },
    onStatus: (status, error) => {
      if (status === "failed" && error?.code === "forbidden") needKey();
      else showConnection(status);
    },
  });
  live.start();
  onLanguageChange(render);
  render();
  startPreview();
}
