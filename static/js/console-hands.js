// The console's raised hands ("Vill prata"): the queue in the order raised with each name
// (or "Anonym"), audience and topic; invite one onto the stage, mute or end them
// (docs/protocol.md hand.invite, hand.mute, hand.end, `hands`).
import { formatNumber, t } from "./i18n.js";
import { el } from "./ui.js";

const $ = (id) => document.getElementById(id);
// Why an on-stage speaker's microphone does not reach the room, as their page reported it.
const MIC = { denied: "hands.mic_denied", missing: "hands.mic_missing", failed: "hands.mic_failed" };

export class HandsPanel {
  /** send(message) resolves with the ack or false (console-state.js); announce(text) speaks;
   * nav: the narrow screen's bar (console-nav.js), whose badge counts the hands raised. */
  constructor({ model, send, announce, nav }) {
    this.model = model;
    this.nav = nav;
    this.send = send;
    this.announce = announce;
    this.known = null; // hand ids seen, to announce new ones (null before the first snapshot)
  }

  name(hand) {
    return hand.name ?? t("hands.anonymous");
  }

  /** Announce hands raised since the last render (not those of the first snapshot). */
  announceNew() {
    const ids = new Set(this.model.hands.map((h) => h.id));
    if (this.known !== null) {
      const fresh = this.model.hands.filter((h) => !this.known.has(h.id));
      if (fresh.length) this.announce(t("hands.new", { name: this.name(fresh.at(-1)) }));
    }
    this.known = ids;
  }

  button(label, aria, message, done) {
    const attrs = { type: "button" };
    if (aria) attrs["aria-label"] = aria;
    const button = el("button", attrs, label);
    button.addEventListener("click", async () => {
      if ((await this.send(message)) && done) this.announce(done);
    });
    return button;
  }

  render() {
    const hands = this.model.hands;
    const full = hands.filter((h) => h.status === "on_stage").length >= 2;
    const raised = hands.filter((h) => h.status === "raised").length;
    this.nav.setHands(raised);
    // Beside the heading too (the bar is for narrow screens); the number is for the eye,
    // a screen reader hears each new hand announced.
    $("hands-count").hidden = raised === 0;
    $("hands-count").textContent = formatNumber(raised);
    $("hands-none").hidden = hands.length > 0;
    $("hands-list").replaceChildren(
      ...hands.map((hand) => {
        const name = this.name(hand);
        const onStage = hand.status === "on_stage";
        const who = el(
          "p",
          { class: "hand-who" },
          el("strong", {}, name),
          ` · ${t(hand.where === "room" ? "hands.room" : "hands.remote")}`,
          onStage ? el("span", { class: "hand-badge" }, t("hands.on_stage")) : null,
          onStage && hand.muted ? el("span", { class: "hand-badge muted" }, t("hands.muted")) : null,
          onStage && MIC[hand.mic] ? el("span", { class: "hand-badge problem" }, t(MIC[hand.mic])) : null,
        );
        const topic = hand.topic ? el("p", { class: "hand-topic" }, hand.topic) : null;
        const actions = el("div", { class: "button-row hand-actions" });
        if (onStage) {
          actions.append(
            this.button(
              t(hand.muted ? "hands.unmute" : "hands.mute"),
              t(hand.muted ? "hands.unmute_named" : "hands.mute_named", { name }),
              { type: "hand.mute", hand: hand.id, on: !hand.muted },
            ),
          );
        } else if (!full) {
          actions.append(
            this.button(
              t("hands.invite"),
              t("hands.invite_named", { name }),
              { type: "hand.invite", hand: hand.id },
              t("hands.invited", { name }),
            ),
          );
        }
        actions.append(
          this.button(
            t(onStage ? "hands.end" : "hands.decline"),
            t(onStage ? "hands.end_named" : "hands.decline_named", { name }),
            { type: "hand.end", hand: hand.id },
          ),
        );
        return el("li", { class: "hand", dataset: { id: hand.id, status: hand.status } }, who, topic, actions);
      }),
    );
  }
}
