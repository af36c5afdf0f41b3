// This participant's microphone on stage: published over WHIP to /whip-stage/SESSION with
// the participant token while the moderator has them on stage, stopped when the turn ends
// (docs/streaming.md, "On stage"). Echo cancellation stays on: the speaker may hear the
// room through the stream in the same page.
//
// When things go wrong: a microphone the browser refuses (or does not have) is not asked
// for again by itself, since a prompt in a loop helps nobody; the participant fixes it and
// presses "Försök igen". A connection that fails, or stays disconnected, is made again
// with a growing pause (as the player's) for as long as the participant is on stage, with
// the microphone already granted. The page's realtime connection notices a dead server
// within about a second (live.js), the browser's ICE only after 5 s or more: so when the
// realtime connection drops and the return feed has stopped arriving too, the voice is
// made again at once (not after ICE gives up), and as soon as a new realtime connection
// has joined, a voice waiting for its next try connects without waiting out the pause.
// Muted by the moderator, the page stops sending (the
// sender gets no track) as well as the server dropping the voice.
//
// The connection is sendrecv: the server sends back this speaker's return feed, the room
// and the other voice on stage without their own (mix-minus). onReturn(track) hands it to
// the player, which plays it instead of the stream's sound; onReturn(null) at the end.
//
// Camera optional: when camera() says so at the start of a turn, the camera is asked for
// with the microphone (one prompt) and sent too (sendonly), a tile in the stream's picture.
// A camera refused or missing does not stop the turn: the microphone alone is asked for
// and onCamera("refused") lets the page say so; onCamera("on" | "off") otherwise.
import { end, iceServers, negotiate } from "./whip-client.js";

const DROP_MS = 2500; // disconnected this long (no ICE answers): connect again
const MAX_RETRY_MS = 15000;
const SILENT_MS = 1000; // realtime lost and no return feed heard for this long: the server is gone
// A tile is a quarter of the stream's width: a small picture is enough, and light to send.
const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 30 } };
const MICROPHONE = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Bytes of audio this connection has received (the return feed, paced at 20 ms). */
async function received(pc) {
  let bytes = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") bytes += r.bytesReceived;
  });
  return bytes;
}

/** Why getUserMedia failed, as a state: "denied" | "missing" | "failed". */
function micProblem(error) {
  if (error?.name === "NotAllowedError" || error?.name === "SecurityError") return "denied";
  if (error?.name === "NotFoundError" || error?.name === "OverconstrainedError") return "missing";
  return "failed";
}

export class StageVoice {
  /** token(): the participant token; onState(state): "connecting" | "live" | "muted" |
   * "reconnecting" | "denied" | "missing" | "failed" | "off"; onReturn(track | null): the
   * return feed came (a new one on each connection) or the turn is over. */
  constructor({ session, token, onState, onReturn = () => {}, camera = () => false, onCamera = () => {} }) {
    this.session = session;
    this.token = token;
    this.onState = onState;
    this.onReturn = onReturn;
    this.camera = camera; // whether the participant chose to show their camera too
    this.onCamera = onCamera;
    this.pc = null;
    this.sender = null;
    this.stream = null;
    this.resource = null;
    this.wanted = false;
    this.muted = false;
    this.retries = 0;
    this.retryTimer = null;
    this.dropTimer = null;
    this.checking = false; // a realtimeLost() check is under way
    window.addEventListener("pagehide", () => this.stop(true));
  }

  /** Go on stage: ask for the microphone and publish it (once; idempotent). */
  async start() {
    if (this.wanted) return;
    this.wanted = true;
    this.retries = 0;
    await this.connect();
  }

  async connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.wanted) return;
    this.onState(this.retries ? "reconnecting" : "connecting");
    const track = await this.microphone();
    if (!track) return;
    const token = this.token();
    const servers = await iceServers(this.session, token);
    if (!this.wanted) return;
    this.closePeer();
    const pc = new RTCPeerConnection({ iceServers: servers });
    this.pc = pc;
    this.sender = pc.addTransceiver(track, { direction: "sendrecv" }).sender;
    const camera = this.stream?.getVideoTracks().find((t) => t.readyState === "live");
    if (camera) pc.addTransceiver(camera, { direction: "sendonly" });
    this.applyMute();
    pc.addEventListener("connectionstatechange", () => this.watch(pc));
    pc.addEventListener("track", (event) => {
      if (pc === this.pc && this.wanted) this.onReturn(event.track);
    });
    try {
      const resource = await negotiate(pc, `/whip-stage/${encodeURIComponent(this.session)}`, token);
      if (pc !== this.pc) return end(resource, token, { timeoutMs: 3000 }); // stopped meanwhile
      this.resource = resource;
    } catch (error) {
      if (pc !== this.pc) return;
      if (error.status === 401) return this.fail("failed"); // the token: trying again will not help
      // Network, a busy or restarting server, or the invitation not yet seen by the media's
      // process (403): try again while on stage; the end of the turn stops it.
      console.warn("stage: could not publish", error);
      this.lost();
    }
  }

  /** The microphone's track, asked for once per turn; null (and the reason shown) if refused. */
  async microphone() {
    const live = this.stream?.getAudioTracks().find((t) => t.readyState === "live");
    if (live) return live;
    const withCamera = Boolean(this.camera());
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(
        withCamera ? { audio: MICROPHONE, video: CAMERA } : { audio: MICROPHONE },
      );
      this.onCamera(withCamera ? "on" : "off");
    } catch (error) {
      if (withCamera) return this.microphoneAlone(error);
      console.warn("stage: no microphone", error);
      this.fail(micProblem(error));
      return null;
    }
    return this.granted();
  }

  /** The camera and microphone together were refused: the microphone alone, and the
   * page says the camera is not shown. */
  async microphoneAlone(cameraError) {
    console.warn("stage: no camera", cameraError);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: MICROPHONE });
    } catch (error) {
      console.warn("stage: no microphone", error);
      this.fail(micProblem(error));
      return null;
    }
    this.onCamera("refused");
    return this.granted();
  }

  granted() {
    if (!this.wanted) {
      this.release();
      return null;
    }
    return this.stream.getAudioTracks()[0] ?? null;
  }

  watch(pc) {
    if (pc !== this.pc) return;
    clearTimeout(this.dropTimer);
    const state = pc.connectionState;
    if (state === "connected") {
      this.retries = 0;
      this.onState(this.muted ? "muted" : "live");
    } else if (state === "disconnected") {
      this.dropTimer = setTimeout(() => {
        if (pc === this.pc && pc.connectionState !== "connected") this.lost();
      }, DROP_MS);
    } else if (state === "failed" || state === "closed") {
      this.lost();
    }
  }

  /** The page's realtime connection dropped. A live return feed means this voice's server
   * is still there (the realtime server alone may have gone, or the store): keep it. */
  async realtimeLost() {
    const pc = this.pc;
    if (!this.wanted || this.checking || pc?.connectionState !== "connected") return;
    this.checking = true;
    try {
      const before = await received(pc);
      await new Promise((resolve) => setTimeout(resolve, SILENT_MS));
      if (pc !== this.pc || pc.connectionState === "closed") return;
      if ((await received(pc)) === before) this.lost();
    } catch (error) {
      console.warn("stage: could not read the connection's figures", error);
    } finally {
      this.checking = false;
    }
  }

  /** A new realtime connection has joined: the server answers again, so a voice waiting
   * for its next try connects now (a failure still grows the pause). */
  realtimeBack() {
    if (this.wanted && this.retryTimer !== null) this.connect();
  }

  /** The connection is gone while on stage: tell the server and connect again, later. */
  lost() {
    if (!this.wanted) return;
    const resource = this.resource;
    this.resource = null;
    if (resource) end(resource, this.token(), { timeoutMs: 3000 });
    this.closePeer();
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.retries) * (0.75 + Math.random() * 0.5);
    this.retries = Math.min(this.retries + 1, 5);
    this.onState("reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Stopped for a reason the page must show: not tried again until start(). */
  fail(state) {
    this.wanted = false;
    this.release();
    this.onReturn(null);
    this.onCamera("off");
    this.onState(state);
  }

  /** The moderator muted (or unmuted) this voice: send nothing while muted. */
  setMuted(muted) {
    if (this.muted === muted) return;
    this.muted = muted;
    this.applyMute();
    if (this.pc?.connectionState === "connected") this.onState(muted ? "muted" : "live");
  }

  applyMute() {
    const track = this.stream?.getAudioTracks()[0] ?? null;
    if (track) track.enabled = !this.muted;
    this.sender?.replaceTrack(this.muted ? null : track).catch(() => {});
  }

  /** Leave the stage: end the publication and let go of the microphone. `ended`: the
   * server ended the turn (a `hands` event) and has closed the publication itself, so no
   * DELETE is sent (it would only get a 404). */
  async stop(leaving = false, ended = false) {
    this.wanted = false;
    this.muted = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.dropTimer);
    // Taken at once, so a start() while the DELETE is on its way gets a microphone and a
    // connection of its own, not these (closed when the DELETE is answered).
    const { resource, pc, stream } = this;
    Object.assign(this, { resource: null, pc: null, sender: null, stream: null });
    this.onReturn(null); // the stream's sound as it was before the turn
    this.onCamera("off");
    this.onState("off");
    if (resource && !ended) {
      await end(resource, this.token(), { keepalive: leaving, timeoutMs: 3000 });
    }
    for (const track of stream?.getTracks() ?? []) track.stop();
    pc?.close();
  }

  closePeer() {
    clearTimeout(this.dropTimer);
    this.pc?.close();
    this.pc = null;
    this.sender = null;
  }

  release() {
    clearTimeout(this.retryTimer);
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.closePeer();
  }
}
