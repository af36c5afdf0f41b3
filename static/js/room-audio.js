// The room's speakers: plays the voices on stage, received over WHEP from
// /whep-room-audio/SESSION with the moderator key (docs/streaming.md, "On stage"). One
// press starts the sound (browsers play audio only after one); a lost connection is made
// again after a pause. data-level on the page is the loudness heard now (0–1).
import { onLanguageChange, t } from "./i18n.js";
import { ModeratorKey } from "./moderator-key.js";
import { end, iceServers, negotiate } from "./whip-client.js";

const $ = (id) => document.getElementById(id);
const root = $("room-audio");
const SESSION = root.dataset.session;
const RETRY_MS = 3000;
const STATES = {
  off: "roomaudio.state_off",
  connecting: "roomaudio.state_connecting",
  live: "roomaudio.state_live",
  refused: "roomaudio.state_refused",
  lost: "roomaudio.state_lost",
};

const key = new ModeratorKey(SESSION).take();
let pc = null;
let resource = null;
let meter = null; // the AudioContext that measures what plays
let metering = null;

function show(state) {
  root.dataset.state = state;
  $("room-audio-state").textContent = t(STATES[state]);
  $("room-audio-start").hidden = state !== "off";
}

async function connect() {
  show("connecting");
  const here = new RTCPeerConnection({ iceServers: await iceServers(SESSION, key) });
  pc = here;
  here.addTransceiver("audio", { direction: "recvonly" });
  here.addEventListener("track", (event) => {
    const stream = new MediaStream([event.track]);
    $("room-audio-player").srcObject = stream;
    measure(stream);
  });
  here.addEventListener("connectionstatechange", () => {
    if (here !== pc) return;
    if (here.connectionState === "connected") show("live");
    if (["failed", "closed"].includes(here.connectionState)) retry();
  });
  try {
    resource = await negotiate(here, `/whep-room-audio/${encodeURIComponent(SESSION)}`, key);
  } catch (error) {
    here.close();
    pc = null;
    if (error.status === 401 || error.status === 403) {
      show("refused");
      return;
    }
    retry();
  }
}

function retry() {
  pc?.close();
  pc = null;
  show("lost");
  setTimeout(connect, RETRY_MS);
}

/** The loudness of what plays, on the page (and for whoever looks at the meter). */
function measure(stream) {
  if (!meter) return;
  const analyser = meter.createAnalyser();
  meter.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  clearInterval(metering);
  metering = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    root.dataset.level = Math.sqrt(sum / samples.length).toFixed(4);
  }, 100);
}

window.addEventListener("pagehide", () => {
  if (resource) end(resource, key, { keepalive: true });
});
onLanguageChange(() => show(root.dataset.state));

if (!key) {
  $("need-key").hidden = false;
  $("room-audio-start").hidden = true;
} else {
  show("off");
  $("room-audio-start").addEventListener("click", () => {
    // Made in the press, so the browser lets it run.
    meter = new AudioContext();
    meter.resume().catch(() => {});
    $("room-audio-player").play().catch(() => {});
    connect();
  });
}
