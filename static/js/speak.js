// "Jag vill prata" on the remote page: raise a hand with an optional topic, lower it, and
// once the moderator invites this participant, be on stage until they leave or are ended
// (docs/protocol.md hand.raise, hand.lower, `hands`).
import { t } from "./i18n.js";
import { StageVoice } from "./stage-voice.js";

const $ = (id) => document.getElementById(id);
// What the page says about the microphone, by StageVoice's state.
const MIC = {
  off: "speak.mic_connecting",
  connecting: "speak.mic_connecting",
  live: "speak.mic_live",
  muted: "speak.mic_muted",
  reconnecting: "speak.mic_reconnecting",
  denied: "speak.mic_denied",
  missing: "speak.mic_missing",
  failed: "speak.mic_failed",
};
// What the page says about the camera, when the participant chose to show it.
const CAMERA_NOTE = { on: "speak.camera_on", refused: "speak.camera_refused" };
// States in which the microphone is not asked for again until the participant says so.
const STOPPED = new Set(["denied", "missing", "failed"]);

export class SpeakPanel {
  /** request(message) resolves with the ack or rejects with the error (live.js);
   * notify(error) shows a refusal. */
  constructor({ model, request, notify, announce, session, token, player = null }) {
    this.model = model;
    // The microphone, published only while on stage (stage-voice.js); the return feed it
    // brings back plays in the stream's player instead of the stream's sound (player.js).
    this.voice = new StageVoice({
      session,
      token,
      onState: (state) => this.voiceState(state),
      onReturn: (track) => this.hearReturn(track),
      camera: () => $("speak-camera").checked,
      onCamera: (state) => this.showCamera(state),
    });
    this.camera = "off"; // "on" | "refused" | "off": what the page says about the camera
    this.player = player;
    this.returning = false; // the return feed plays (in place of the stream's sound)
    this.mic = "off";
    this.request = request;
    this.notify = notify;
    this.announce = announce;
    this.busy = false;
    this.status = undefined; // what was last shown: null, "raised" or "on_stage"
    this.reported = null; // the microphone problem the moderator was last told of
  }

  wire() {
    $("speak-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const topic = $("speak-topic").value.trim();
      await this.act({ type: "hand.raise", topic: topic || null }, (ack) => {
        this.model.myHand = ack.hand;
        $("speak-topic").value = "";
      });
    });
    $("speak-lower").addEventListener("click", () => this.act({ type: "hand.lower" }, () => {
      this.model.myHand = null;
    }));
    $("speak-retry").addEventListener("click", () => {
      this.mic = "connecting";
      this.render(); // asks for the microphone again (a press: the browser may prompt)
      $("speak-lower").focus(); // the pressed button goes away
    });
  }

  /** The page's realtime connection changed (live.js onStatus): it notices a dead server
   * much sooner than the voice's own connection does. */
  connection(status) {
    if (status === "reconnecting") this.voice.realtimeLost();
    else if (status === "live") this.voice.realtimeBack();
  }

  hearReturn(track) {
    if (track) this.player?.hearReturn(track);
    else this.player?.endReturn();
    this.returning = Boolean(track && this.player);
    // Not a whole render: this comes from inside StageVoice's own stop and fail, where a
    // render would start the microphone again before the new state is known.
    $("speak-return").hidden = this.status !== "on_stage" || !this.returning;
  }

  showCamera(state = this.camera) {
    this.camera = state;
    // Not a whole render, for the same reason as hearReturn.
    const note = $("speak-camera-note");
    note.hidden = this.status !== "on_stage" || state === "off";
    note.dataset.state = state;
    if (state !== "off") setText(note, t(CAMERA_NOTE[state]));
  }

  voiceState(state) {
    this.mic = state;
    // The moderator sees why the room hears nothing (hand.mic), and when it works again.
    const problem = STOPPED.has(state) ? state : ["live", "muted"].includes(state) ? null : undefined;
    if (problem !== undefined && problem !== this.reported) {
      this.reported = problem;
      this.request({ type: "hand.mic", problem }).catch(() => {}); // off stage meanwhile: moot
    }
    this.render();
  }

  async act(message, done) {
    if (this.busy) return; // one press at a time
    this.busy = true;
    try {
      done(await this.request(message));
    } catch (error) {
      this.notify(error);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  render() {
    const hand = this.model.myHandView();
    // Our own raise is acked before or after its `hands` event: until the event, "raised".
    const status = hand?.status ?? (this.model.myHand !== null ? "raised" : null);
    $("speak-form").hidden = status !== null;
    $("speak-state").hidden = status === null;
    const lower = $("speak-lower");
    lower.textContent = t(status === "on_stage" ? "speak.leave" : "speak.lower");
    let text = t("speak.waiting");
    if (status === "on_stage") text = t(hand?.muted ? "speak.muted" : "speak.invited");
    $("speak-status").textContent = text;
    // On stage, the microphone is published (and sends nothing while the moderator has it
    // muted); off stage (left, ended), it is let go. A microphone the browser refused is
    // not asked for again by itself (that would loop): the hand stays on stage, so the
    // moderator keeps the turn open, and "Försök igen" asks again once the participant
    // has allowed it; they can also leave the stage.
    if (status === "on_stage") {
      this.voice.setMuted(Boolean(hand?.muted));
      if (!STOPPED.has(this.mic)) this.voice.start();
    } else if (this.voice.wanted || this.voice.resource) {
      this.voice.stop(false, true); // off stage by a `hands` event: the server closed the voice
    }
    if (status !== "on_stage" && STOPPED.has(this.mic)) this.mic = "off";
    if (status !== "on_stage") this.reported = null; // the hand, and what was said of it, is gone
    const mic = $("speak-mic");
    mic.hidden = status !== "on_stage";
    mic.dataset.state = this.mic;
    setText(mic, t(MIC[this.mic]));
    $("speak-retry").hidden = status !== "on_stage" || !STOPPED.has(this.mic);
    $("speak-return").hidden = status !== "on_stage" || !this.returning;
    $("speak-panel").dataset.status = status ?? "none";
    if (this.status !== undefined && status !== this.status) {
      this.announce(status === null ? t("speak.lowered") : text);
    }
    this.status = status;
    this.showCamera();
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text; // a live region speaks changes only
}
