// The console's panel for the stage monitor: a preset or free message to the speaker, and
// the messages shown there now, each with its dismiss button (docs/protocol.md stage.send).
import { t } from "./i18n.js";
import { el } from "./ui.js";

const $ = (id) => document.getElementById(id);

export class StagePanel {
  /** send(message) resolves with the ack or false (moderator.js); announce(text) speaks. */
  constructor({ session, send, announce }) {
    this.session = session;
    this.send = send;
    this.announce = announce;
    this.messages = [];
  }

  wire() {
    for (const button of $("stage-presets").querySelectorAll("button[data-preset]")) {
      button.addEventListener("click", () => this.post(t(button.dataset.preset)));
    }
    $("stage-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = $("stage-text");
      if (!input.value.trim()) return;
      if (await this.post(input.value)) input.value = "";
    });
  }

  async post(text) {
    const ack = await this.send({ type: "stage.send", text });
    if (ack) this.announce(t("stage.sent"));
    return ack;
  }

  /** The stage monitor opens with the same key as this console, in its fragment. */
  load(key) {
    $("link-stage").href = `/stage/${encodeURIComponent(this.session)}#key=${encodeURIComponent(key)}`;
    // The room's speakers (room-audio.js) open with the key too.
    $("link-room-audio").href = `/room-audio/${encodeURIComponent(this.session)}#key=${encodeURIComponent(key)}`;
  }

  /** From a snapshot or a `stage` event: the messages shown now. */
  show(stage) {
    this.messages = stage?.messages ?? [];
    this.render();
  }

  render() {
    $("stage-none").hidden = this.messages.length > 0;
    $("stage-shown").replaceChildren(
      ...this.messages.map((m) => {
        const dismiss = el(
          "button",
          { type: "button", class: "stage-dismiss", "aria-label": t("stage.dismiss_named", { text: m.text }) },
          t("stage.dismiss"),
        );
        dismiss.addEventListener("click", async () => {
          if (await this.send({ type: "stage.dismiss", message: m.id })) this.announce(t("stage.dismissed"));
        });
        return el("li", { dataset: { id: m.id } }, el("span", { class: "stage-shown-text" }, m.text), dismiss);
      }),
    );
  }
}
