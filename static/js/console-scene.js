// The console's run of show: what the big screen and the stream show now (the moderator's
// override, `show.screen` / `show.stream` / `show.slate_audio`), and the scene editor of
// each agenda item (`scene.set`): screen, stream, the room's sound under a slate and the
// poll that opens when the item starts.
import { t } from "./i18n.js";
import { el } from "./ui.js";

const $ = (id) => document.getElementById(id);
export const SCREENS = ["qr", "poll", "agenda", "speaker", "break"];
export const STREAMS = ["camera", "slate"];
export const SLATE_AUDIO = ["muted", "room"];

function options(select, values, label, chosen) {
  select.replaceChildren(...values.map((v) => el("option", { value: v }, t(`${label}${v}`))));
  select.value = chosen;
}

export class ScenePanel {
  /** model: model.js; send(message) resolves with the ack or false; announce(text) speaks. */
  constructor({ model, send, announce }) {
    this.model = model;
    this.send = send;
    this.announce = announce;
    this.item = null; // the item whose scene the dialog edits
    this.opener = null;
  }

  /** The "showing now" controls, from the show. */
  render() {
    const show = this.model.show;
    const select = $("show-screen");
    if (select.options.length !== SCREENS.length || select.dataset.lang !== document.documentElement.lang) {
      options(select, SCREENS, "scene.screen_", show.screen);
      select.dataset.lang = document.documentElement.lang;
    }
    select.value = show.screen;
    for (const button of document.querySelectorAll("#show-stream [data-stream]")) {
      button.setAttribute("aria-pressed", String(button.dataset.stream === show.stream));
    }
    $("now-card").dataset.stream = show.stream;
    // The room's sound matters only while the stream shows the slate.
    $("show-slate-audio").hidden = show.stream !== "slate";
    for (const button of document.querySelectorAll("#show-slate-audio [data-audio]")) {
      button.setAttribute("aria-pressed", String(button.dataset.audio === (show.slate_audio || "muted")));
    }
  }

  open(itemId, opener) {
    const item = this.model.item(itemId);
    if (!item) return;
    this.item = item.id;
    this.opener = opener;
    $("scene-heading").textContent = t("scene.heading", { title: item.title });
    options($("scene-screen"), SCREENS, "scene.screen_", item.scene.screen);
    options($("scene-stream"), STREAMS, "scene.stream_", item.scene.stream);
    options($("scene-slate-audio"), SLATE_AUDIO, "scene.audio_", item.scene.slate_audio || "muted");
    // The item's own polls and the session's, as the server allows.
    const polls = [...this.model.polls.values()].filter((p) => p.item_id === null || p.item_id === item.id);
    const poll = $("scene-poll");
    poll.replaceChildren(
      el("option", { value: "" }, t("scene.no_poll")),
      ...polls.map((p) => el("option", { value: String(p.id) }, p.text)),
    );
    poll.value = item.scene.poll === null ? "" : String(item.scene.poll);
    $("scene-reset").hidden = !item.scene_planned;
    $("scene-dialog").showModal();
    $("scene-screen").focus();
  }

  async save(scene) {
    const ok = await this.send({ type: "scene.set", item: this.item, scene });
    if (!ok) return;
    $("scene-dialog").close();
    this.announce(t("scene.saved"));
  }

  wire() {
    $("show-screen").addEventListener("change", async (event) => {
      const ok = await this.send({ type: "show.screen", screen: event.target.value });
      if (!ok) this.render(); // the server's choice again
    });
    $("show-stream").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-stream]");
      if (button && button.getAttribute("aria-pressed") !== "true") {
        this.send({ type: "show.stream", stream: button.dataset.stream });
      }
    });
    $("show-slate-audio").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-audio]");
      if (button && button.getAttribute("aria-pressed") !== "true") {
        this.send({ type: "show.slate_audio", audio: button.dataset.audio });
      }
    });
    $("scene-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const poll = $("scene-poll").value;
      this.save({
        screen: $("scene-screen").value,
        stream: $("scene-stream").value,
        slate_audio: $("scene-slate-audio").value,
        poll: poll ? Number(poll) : null,
      });
    });
    $("scene-reset").addEventListener("click", () => this.save(null));
    $("scene-cancel").addEventListener("click", () => $("scene-dialog").close());
    $("scene-dialog").addEventListener("close", () => this.opener?.isConnected && this.opener.focus());
  }
}
