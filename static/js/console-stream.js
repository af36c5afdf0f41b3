// The console's Stream panel: live or not, since when, how many watch; the camera link and
// what OBS needs (the WHIP URL and the stream key, fetched with the moderator key).
import { count, t } from "./i18n.js";
import { timeOfDay } from "./ui.js";

const $ = (id) => document.getElementById(id);

export class StreamPanel {
  constructor({ model, session }) {
    this.model = model;
    this.session = session;
    this.loaded = false; // the camera link and OBS details are set for the current key
  }

  render() {
    const stream = this.model.session?.stream ?? { status: "offline", since: null };
    const box = $("stream-state");
    box.dataset.status = stream.status;
    box.textContent =
      stream.status === "live"
        ? `${t("stream.live_since", { time: stream.since ? timeOfDay(stream.since) : "–" })} · ${count("stream.viewers", this.model.presence.viewers ?? 0)}`
        : t("stream.not_live");
  }

  /** With a key the server accepted: the camera link and the OBS details (once per key). */
  async load(key) {
    if (this.loaded) return;
    this.loaded = true;
    // The camera page takes the key from its fragment, like this console.
    $("link-camera").href = `/camera/${encodeURIComponent(this.session)}#key=${encodeURIComponent(key)}`;
    try {
      const response = await fetch(`/api/stream/${encodeURIComponent(this.session)}`, {
        headers: { Authorization: `Bearer ${key}` },
      });
      if (!response.ok) return;
      const info = await response.json();
      $("obs-whip-url").textContent = info.whip_url;
      $("obs-stream-key").textContent = info.stream_key;
    } catch {
      /* offline: the OBS details stay empty until the next load */
    }
  }

  /** The key changed (a new moderator link): load again after the reconnect. */
  keyChanged() {
    this.loaded = false;
  }
}
