// The live-stream player of the remote page: plays the session's stream over WHEP.
//
// It connects when the session's stream goes live and keeps the connection while the
// publisher stops and starts again (the server keeps viewers across publishers), so the
// picture comes back without a reload; meanwhile it shows whatever pictures still come
// (the server's slate for a publisher that dropped). A connection that fails, or that stays silent
// while the stream is live, is replaced, with a growing pause between attempts.
//
// On stage, the stream would bring the speaker's own voice back a few hundred milliseconds
// late, so the stream's sound is muted here and their return feed (the room and the other
// voice, without theirs) plays instead; the picture goes on. After the turn the stream's
// sound is as the person had it before (muted or not).
import { t } from "./i18n.js";
import { end, iceServers, negotiate } from "./whip-client.js";

const GATHER_MS = 1500;
const STALL_MS = 5000; // live but no new frame for this long: reconnect
const MAX_RETRY_MS = 15000;

export class StreamPlayer {
  /**
   * root: the section holding video, .stream-status, .stream-mute, .stream-fullscreen
   * and .stream-frame. session: the session id; endpoint: the WHEP URL. token(): the
   * Bearer token (or null).
   */
  constructor({ root, session, endpoint, token }) {
    this.root = root;
    this.frame = root.querySelector(".stream-frame");
    this.video = root.querySelector("video");
    this.overlay = root.querySelector(".stream-status");
    this.muteButton = root.querySelector(".stream-mute");
    this.fullscreenButton = root.querySelector(".stream-fullscreen");
    this.session = session;
    this.endpoint = endpoint;
    this.token = token;
    this.status = "offline"; // the session's stream status, from the server
    this.pc = null;
    this.resource = null;
    this.connecting = false;
    this.failed = false; // refused for good (bad token): say so, stop trying
    this.lastFrame = 0;
    this.liveSince = 0;
    this.retries = 0;
    this.retryTimer = null;
    this.returnAudio = null; // on stage: plays the speaker's return feed
    this.mutedBefore = true; // the stream's mute before the turn, restored after it
    // Attached to the video at the first track: an empty stream would keep the video
    // element loading, and with it the page's load event.
    this.stream = new MediaStream();
    this.watchFrames();
    this.wireControls();
    setInterval(() => this.check(), 1000);
    window.addEventListener("pagehide", () => this.hangUp(true));
  }

  /** The server's stream status changed ("live" | "offline"). */
  setStatus(status) {
    const wasLive = this.status === "live";
    this.status = status === "live" ? "live" : "offline";
    if (this.status === "live" && !wasLive) {
      this.liveSince = Date.now();
      this.retries = 0;
      if (!this.pc && !this.connecting) this.connect();
    }
    this.render();
  }

  // -- connection ----------------------------------------------------------------------
  async connect() {
    if (this.failed || this.connecting) return;
    clearTimeout(this.retryTimer);
    this.connecting = true;
    this.hangUp(false);
    // The server's STUN/TURN servers, so a viewer behind a strict NAT gets a relay.
    const servers = await iceServers(this.session, this.token());
    const pc = new RTCPeerConnection({ iceServers: servers });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
      for (const old of this.stream.getTracks().filter((x) => x.kind === event.track.kind)) {
        this.stream.removeTrack(old);
      }
      this.stream.addTrack(event.track);
      if (this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
      this.video.play().catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.lost();
      this.render();
    });
    try {
      const resource = await negotiate(pc, this.endpoint, this.token(), { gatherMs: GATHER_MS });
      if (this.pc !== pc) return;
      this.resource = resource;
    } catch (error) {
      if (error.status === 401 || error.status === 403) this.failed = true; // refused for good
      console.warn("stream: could not connect", error);
      if (this.pc === pc) this.lost();
    } finally {
      this.connecting = false;
      this.render();
    }
  }

  /** Close the connection (and tell the server, unless it is already gone). */
  hangUp(tellServer = true) {
    const { pc, resource } = this;
    this.pc = null;
    this.resource = null;
    if (!pc) return;
    if (!tellServer || !resource) {
      pc.close();
      return;
    }
    end(resource, this.token(), { keepalive: true }).finally(() => pc.close()); // before closing
    setTimeout(() => pc.close(), 2000);
  }

  lost() {
    this.hangUp(true);
    if (this.failed || this.status !== "live") return; // reconnect when it is live again
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.retries) * (0.75 + Math.random() * 0.5);
    this.retries = Math.min(this.retries + 1, 5);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Once a second: a live stream that shows nothing new is reconnected. */
  check() {
    if (this.status !== "live" || !this.pc || this.connecting) {
      this.render();
      return;
    }
    const quietSince = Math.max(this.lastFrame, this.liveSince);
    if (Date.now() - quietSince > STALL_MS) {
      this.liveSince = Date.now(); // the next check waits a full STALL_MS again
      this.lost();
    }
    this.render();
  }

  watchFrames() {
    const video = this.video;
    if ("requestVideoFrameCallback" in video) {
      const seen = () => {
        this.lastFrame = Date.now();
        this.retries = 0;
        this.render();
        video.requestVideoFrameCallback(seen);
      };
      video.requestVideoFrameCallback(seen);
    } else {
      video.addEventListener("timeupdate", () => {
        this.lastFrame = Date.now();
        this.render();
      });
    }
  }

  // -- on stage ------------------------------------------------------------------------
  /** The speaker's return feed came (again, on a new connection): play it, not the stream's sound. */
  hearReturn(track) {
    if (!this.returnAudio) {
      this.mutedBefore = this.video.muted;
      this.video.muted = true;
      this.returnAudio = document.createElement("audio");
      this.returnAudio.className = "stream-return";
      this.root.append(this.returnAudio);
    }
    this.returnAudio.srcObject = new MediaStream([track]);
    this.returnAudio.play().catch(() => {});
    this.render();
  }

  /** The turn is over: no return feed, the stream's sound as it was before. */
  endReturn() {
    if (!this.returnAudio) return;
    this.returnAudio.srcObject = null;
    this.returnAudio.remove();
    this.returnAudio = null;
    this.video.muted = this.mutedBefore;
    if (!this.video.muted) this.video.play().catch(() => {});
    this.render();
  }

  /** What the mute button acts on: the return feed on stage, else the stream. */
  heard() {
    return this.returnAudio ?? this.video;
  }

  // -- controls ------------------------------------------------------------------------
  wireControls() {
    this.muteButton?.addEventListener("click", () => {
      const heard = this.heard();
      heard.muted = !heard.muted;
      if (!heard.muted) heard.play().catch(() => {});
      this.render();
    });
    this.fullscreenButton?.addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else this.frame.requestFullscreen?.().catch(() => {});
    });
    document.addEventListener("fullscreenchange", () => this.render());
    this.fullscreenButton.hidden = !document.fullscreenEnabled;
  }

  // -- what the viewer sees ------------------------------------------------------------
  state() {
    const playing = this.pc?.connectionState === "connected" && Date.now() - this.lastFrame < 2000;
    // Offline yet pictures come: the server's "we'll be right back" slate for a publisher
    // that dropped. A publisher that stopped leaves no pictures: offline within 2 s.
    if (this.status !== "live") return playing ? "live" : "offline";
    if (this.failed) return "unavailable";
    if (playing) return "live";
    return this.retries > 0 ? "reconnecting" : "connecting";
  }

  render() {
    const state = this.state();
    if (this.overlay.dataset.status !== state) {
      this.overlay.dataset.status = state;
      this.root.dataset.player = state;
    }
    this.overlay.hidden = state === "live";
    setText(this.overlay, t(`stream.${state}`));
    if (this.muteButton) {
      this.muteButton.hidden = state !== "live"; // nothing to hear without a picture
      const key = this.heard().muted ? "stream.unmute" : "stream.mute";
      this.muteButton.dataset.i18n = key;
      setText(this.muteButton, t(key));
    }
    if (this.fullscreenButton) {
      const key = document.fullscreenElement ? "stream.exit_fullscreen" : "stream.fullscreen";
      this.fullscreenButton.dataset.i18n = key;
      setText(this.fullscreenButton, t(key));
    }
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
