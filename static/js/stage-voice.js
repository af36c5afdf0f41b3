// This participant's microphone on stage: published over WHIP to /whip-stage/SESSION with
// the participant token while the moderator has them on stage, stopped when the turn ends
// (docs/streaming.md, "On stage"). Echo cancellation stays on: the speaker may hear the
// room through the stream in the same page.
import { end, iceServers, negotiate } from "./whip-client.js";

export class StageVoice {
  /** token(): the participant token; onState(state): "connecting" | "live" | "failed" | "off". */
  constructor({ session, token, onState }) {
    this.session = session;
    this.token = token;
    this.onState = onState;
    this.pc = null;
    this.stream = null;
    this.resource = null;
    this.wanted = false;
    window.addEventListener("pagehide", () => this.stop(true));
  }

  /** Go on stage: ask for the microphone and publish it (once; idempotent). */
  async start() {
    if (this.wanted) return;
    this.wanted = true;
    this.onState("connecting");
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      if (!this.wanted) return this.release();
      const token = this.token();
      const pc = new RTCPeerConnection({ iceServers: await iceServers(this.session, token) });
      this.pc = pc;
      for (const track of this.stream.getAudioTracks()) pc.addTransceiver(track, { direction: "sendonly" });
      pc.addEventListener("connectionstatechange", () => {
        if (pc !== this.pc) return;
        if (pc.connectionState === "connected") this.onState("live");
        if (["failed", "closed"].includes(pc.connectionState)) this.onState(this.wanted ? "failed" : "off");
      });
      this.resource = await negotiate(pc, `/whip-stage/${encodeURIComponent(this.session)}`, token);
      if (!this.wanted) return this.stop();
    } catch (error) {
      this.release();
      this.wanted = false;
      this.onState("failed", error);
    }
  }

  /** Leave the stage: end the publication and let go of the microphone. */
  async stop(leaving = false) {
    this.wanted = false;
    const resource = this.resource;
    this.resource = null;
    if (resource) await end(resource, this.token(), { keepalive: leaving, timeoutMs: 3000 });
    this.release();
    this.onState("off");
  }

  release() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.pc?.close();
    this.pc = null;
  }
}
