// The console's presence panel: how many are in the room, remote, moderating and on screens,
// and the participant identities that look like vote stuffing (docs/security.md).
import { t, count, formatNumber } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class PresencePanel {
  /** streamPanel (console-stream.js) shows the viewers, so it redraws with presence. */
  constructor({ model, streamPanel }) {
    this.model = model;
    this.streamPanel = streamPanel;
  }

  render() {
    const p = this.model.presence;
    for (const name of ["room", "remote", "moderators", "screens"]) {
      const n = p[name] ?? 0;
      $(`count-${name}`).textContent = formatNumber(n);
      const noun = $(`count-${name}-noun`);
      noun.dataset.i18nCount = String(n);
      noun.textContent = count(noun.dataset.i18n, n);
    }
    this.renderIdentities();
    this.streamPanel.render();
  }

  // New participant identities and the most from one network: far more than the people in
  // the room, from one address, is what vote stuffing looks like (docs/security.md).
  renderIdentities() {
    const ids = this.model.presence.identities;
    $("identities").hidden = !ids || !ids.new;
    if (!ids) return;
    $("count-new").textContent = formatNumber(ids.new);
    const noun = $("count-new-noun");
    noun.dataset.i18nCount = String(ids.new);
    noun.textContent = count(noun.dataset.i18n, ids.new);
    $("one-address").textContent = t("moderator.presence_one_address", {
      n: formatNumber(ids.most_from_one_address),
    });
  }
}
