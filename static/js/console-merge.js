// The console's merge dialog: choose the question a duplicate goes into, and put focus on
// that question afterwards (or back on the row that opened the dialog when cancelled).
import { t, count } from "./i18n.js";
import { el } from "./ui.js";
import { firstControl } from "./console-focus.js";

const $ = (id) => document.getElementById(id);
// The targets are listed by status in this order, then by votes.
const STATUS_ORDER = ["highlighted", "live", "pending", "answered", "hidden"];

export class MergePanel {
  /** state: console-state.js; send(message) resolves with the ack or false. */
  constructor({ state, send }) {
    this.state = state;
    this.send = send;
    this.source = null;
    this.into = null; // the question a merge just went into, for the focus
  }

  open(id) {
    this.source = id;
    this.render();
    $("merge-dialog").showModal();
  }

  /** Redraws the targets while the dialog is open (questions changed, language changed). */
  refresh() {
    if ($("merge-dialog").open) this.render();
  }

  render() {
    const model = this.state.model;
    const source = model.questions.get(this.source);
    if (!source || source.status === "merged") {
      $("merge-dialog").close();
      return;
    }
    $("merge-source").textContent = source.text;
    const targets = [...model.questions.values()]
      .filter((q) => q.id !== source.id && q.status !== "merged")
      .sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || b.votes - a.votes);
    $("merge-targets").replaceChildren(
      ...targets.map((q) =>
        el(
          "li",
          {},
          el(
            "button",
            { type: "button", class: "merge-target", dataset: { mergeTarget: q.id } },
            el("span", { class: "status", dataset: { status: q.status } }, t(`moderator.status_${q.status}`)),
            el("span", { class: "merge-text" }, q.text),
            el("span", { class: "merge-votes" }, count("common.votes", q.votes)),
          ),
        ),
      ),
    );
    $("merge-none").hidden = targets.length > 0;
  }

  wire() {
    const dialog = $("merge-dialog");
    $("merge-cancel").addEventListener("click", () => dialog.close());
    $("merge-targets").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-merge-target]");
      if (!button || this.source === null) return;
      // Known before the request: the merge event may close the dialog before the ack comes.
      this.into = Number(button.dataset.mergeTarget);
      const ok = await this.send({ type: "question.merge", question: this.source, into: this.into });
      if (ok) dialog.close();
      else this.into = null;
    });
    dialog.addEventListener("close", () => {
      const source = this.source;
      const into = this.into;
      this.source = null;
      this.into = null;
      // After a merge the duplicate's row is gone: focus goes to the question it went into
      // (or, in another tab, to the tab list). Cancelled: back to the row that opened it.
      const row = document.querySelector(`#queue li[data-id="${into ?? source}"]`);
      if (row && !row.contains(document.activeElement)) firstControl(row)?.focus();
      else if (!row && (!document.activeElement || document.activeElement === document.body)) $(`tab-${this.state.tab}`).focus();
    });
  }
}
