// "Jag vill prata" on the remote page: raise a hand with an optional topic, lower it, and
// once the moderator invites this participant, be on stage until they leave or are ended
// (docs/protocol.md hand.raise, hand.lower, `hands`).
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class SpeakPanel {
  /** request(message) resolves with the ack or rejects with the error (live.js);
   * notify(error) shows a refusal. */
  constructor({ model, request, notify, announce }) {
    this.model = model;
    this.request = request;
    this.notify = notify;
    this.announce = announce;
    this.busy = false;
    this.status = undefined; // what was last shown: null, "raised" or "on_stage"
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
    $("speak-panel").dataset.status = status ?? "none";
    if (this.status !== undefined && status !== this.status) {
      this.announce(status === null ? t("speak.lowered") : text);
    }
    this.status = status;
  }
}
