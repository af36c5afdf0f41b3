// The console's question queue: the tabs by status, the sort orders (the live tab by votes
// or in the fairness 'Balanserad ordning', fairness.js), each question's actions and its
// edit form, and the nudge when an audience has waited too long.
import { t, count, formatNumber, currentLang } from "./i18n.js";
import { el, excerpt, timeOfDay } from "./ui.js";
import { redrawKeepingFocus } from "./console-focus.js";
import { balancedOrder, nudges } from "./fairness.js";

const $ = (id) => document.getElementById(id);

// Which question statuses each tab lists; "live" includes the highlighted one.
const TABS = {
  pending: ["pending"],
  live: ["highlighted", "live"],
  answered: ["answered"],
  hidden: ["hidden"],
};
// The actions the domain allows per status (companion/domain/questions.py).
const ACTIONS = {
  pending: ["approve", "highlight", "answer", "edit", "merge", "hide"],
  live: ["highlight", "answer", "edit", "merge", "hide"],
  highlighted: ["unhighlight", "answer", "edit", "merge", "hide"],
  answered: ["reopen", "edit", "merge", "hide"],
  hidden: ["approve", "edit", "merge"],
};
const REQUESTS = {
  approve: "question.approve",
  reopen: "question.approve", // approving an answered question reopens it
  hide: "question.hide",
  "hide-asker": "question.hide_asker",
  highlight: "question.highlight",
  unhighlight: "question.unhighlight",
  answer: "question.answer",
};
const LABELS = {
  approve: "moderator.approve",
  reopen: "moderator.reopen",
  hide: "moderator.hide",
  "hide-asker": "moderator.hide_asker",
  edit: "moderator.edit",
  merge: "moderator.merge_into",
  highlight: "moderator.highlight",
  unhighlight: "moderator.unhighlight",
  answer: "moderator.mark_answered",
};
const PRIMARY = new Set(["approve", "reopen", "highlight"]);

export class QueuePanel {
  /**
   * state: console-state.js; send(message) resolves with the ack or false; nav: console-nav.js
   * (the pending badge); merge: console-merge.js; announce(text) speaks; nudgeMinutes: the
   * fairness nudge's wait.
   */
  constructor({ state, send, nav, merge, announce, nudgeMinutes }) {
    this.state = state;
    this.model = state.model;
    this.send = send;
    this.nav = nav;
    this.merge = merge;
    this.announce = announce;
    this.nudgeMinutes = nudgeMinutes;
    this.known = new Set(); // question ids seen, to announce only new pending ones
    this.rendered = new Map(); // question id -> {sig, node}: unchanged rows are kept as is
  }

  /** Before a `questions` event is applied: announce the pending questions not seen yet. */
  announceNew(message) {
    if (message.type !== "questions") return;
    for (const q of message.questions) {
      if (!this.known.has(q.id) && q.status === "pending") this.announce(t("moderator.new_pending", { text: q.text }));
    }
  }

  /** A snapshot: every question is drawn anew. */
  reset() {
    this.known.clear();
    this.rendered.clear();
    $("queue").replaceChildren();
  }

  /** After an event is applied: the questions now known are not announced again. */
  remember() {
    for (const id of this.model.questions.keys()) this.known.add(id);
  }

  /** The language changed: every row is built again. */
  forget() {
    this.rendered.clear();
  }

  sortedFor(name) {
    const questions = this.model.list(TABS[name]);
    if (name === "pending") questions.sort((a, b) => a.asked_at - b.asked_at); // first come, first moderated
    if (name === "live" && this.state.order === "balanced") {
      const on = questions.filter((q) => q.status === "highlighted");
      return [...on, ...balancedOrder(questions.filter((q) => q.status !== "highlighted"), this.model.presence)];
    }
    if (name === "live") questions.sort((a, b) => (b.status === "highlighted") - (a.status === "highlighted"));
    if (name === "answered") questions.sort((a, b) => (b.answered_at ?? 0) - (a.answered_at ?? 0));
    if (name === "hidden") questions.sort((a, b) => b.asked_at - a.asked_at);
    // Array.sort is stable, so "live" keeps the vote order under the highlight
    return this.byItem(questions);
  }

  /** The item filter: one item's questions, or all with the current item's first (the
   * highlighted question stays on top either way). */
  byItem(questions) {
    const chosen = this.state.itemFilter ?? "";
    if (chosen === "none") return questions.filter((q) => q.item_id === null);
    if (chosen) return questions.filter((q) => q.item_id === chosen);
    const on = questions.filter((q) => q.status === "highlighted");
    return [...on, ...this.model.currentFirst(questions.filter((q) => q.status !== "highlighted"))];
  }

  /** The filter's choices: every item that has questions, and the current one. */
  renderItemFilter() {
    const select = $("queue-item");
    const agenda = this.model.agenda;
    if (!select || !agenda) return;
    const asked = new Set([...this.model.questions.values()].map((q) => q.item_id));
    const options = [el("option", { value: "" }, t("questions.filter_all"))];
    for (const item of agenda.items) {
      if (asked.has(item.id) || item.id === agenda.current) options.push(el("option", { value: item.id }, item.title));
    }
    if (asked.has(null)) options.push(el("option", { value: "none" }, t("questions.no_item")));
    const sig = JSON.stringify(options.map((o) => [o.value, o.textContent]));
    if (select.dataset.sig !== sig) {
      select.replaceChildren(...options);
      select.dataset.sig = sig;
    }
    const wanted = this.state.itemFilter ?? "";
    select.value = options.some((o) => o.value === wanted) ? wanted : "";
  }

  authorCounts() {
    const counts = new Map();
    // Only named questions carry `author`: an anonymous one is linked to nobody, here too.
    for (const q of this.model.questions.values()) {
      if (q.author) counts.set(q.author, (counts.get(q.author) ?? 0) + 1);
    }
    return counts;
  }

  questionRow(q, byAuthor) {
    const model = this.model;
    const textId = `q-text-${q.id}`;
    const draft = this.state.editing.get(q.id);
    const body = [];
    if (draft === undefined) {
      body.push(el("p", { class: "q-text", id: textId }, q.text));
    } else {
      const field = `q-edit-${q.id}`;
      body.push(
        el(
          "form",
          { class: "q-edit", dataset: { id: q.id } },
          el("label", { for: field }, t("moderator.question_text")),
          el("textarea", { id: field, maxlength: model.limits.question_chars, rows: 3, dataset: { action: "draft" } }, draft),
          el(
            "div",
            { class: "button-row" },
            el("button", { type: "submit", class: "primary", dataset: { action: "save" } }, t("moderator.save")),
            el("button", { type: "button", dataset: { action: "cancel" } }, t("moderator.cancel")),
          ),
        ),
      );
    }
    const asked = q.author ? (byAuthor.get(q.author) ?? 1) : 1;
    body.push(
      el(
        "p",
        { class: "q-meta" },
        el("span", { class: "q-name" }, q.name ?? t("common.anonymous")),
        el("span", { class: "q-where", dataset: { where: q.where } }, t(q.where === "room" ? "common.in_room" : "common.remote")),
        el("span", { class: "q-audience" }), // the audience's size in balanced order, set on each render
        // Who asked is the name (or "Anonym"); never a piece of the internal id.
        asked > 1 ? el("span", { class: "q-author" }, count("moderator.author_questions", asked)) : null,
        el("span", { class: "q-time" }, timeOfDay(q.asked_at)),
        el("span", { class: "q-item" }, model.item(q.item_id)?.title ?? t("questions.no_item")),
        q.edited ? el("span", { class: "q-edited" }, t("moderator.edited")) : null,
      ),
    );
    if (q.merged_from.length) {
      body.push(
        el(
          "div",
          { class: "q-merged" },
          el("span", { class: "q-merged-label" }, t("moderator.merged_from")),
          el(
            "ul",
            {},
            q.merged_from.map((id) => el("li", { dataset: { merged: id } }, model.questions.get(id)?.text ?? "")),
          ),
        ),
      );
    }
    if (draft === undefined) {
      body.push(
        el(
          "div",
          { class: "q-actions", role: "group", "aria-label": t("moderator.actions_for", { text: excerpt(q.text) }) },
          // Muting the asker is offered on anonymous questions: the server finds the asker
          // by question id, so the console never learns who it is.
          [...(ACTIONS[q.status] ?? []), ...(q.name == null && ACTIONS[q.status] ? ["hide-asker"] : [])].map((action) =>
            el(
              "button",
              {
                type: "button",
                class: [PRIMARY.has(action) ? "primary" : "", action.startsWith("hide") ? "danger" : ""].join(" ").trim() || null,
                dataset: { action },
                "aria-describedby": textId,
                "aria-haspopup": action === "merge" ? "dialog" : null,
              },
              t(LABELS[action]),
            ),
          ),
        ),
      );
    }
    return el(
      "li",
      { class: "question", id: `q-${q.id}`, dataset: { id: q.id, status: q.status } },
      el(
        "div",
        { class: "q-side" },
        el("span", { class: "q-votes" }, String(q.votes)),
        el("span", { class: "q-votes-label" }, count("common.votes_noun", q.votes)),
      ),
      el(
        "div",
        { class: "q-body" },
        q.status === "highlighted" ? el("span", { class: "badge on-screen-badge" }, t("questions.highlighted")) : null,
        body,
      ),
    );
  }

  render() {
    const { state, model, rendered } = this;
    if (!state.ready) return;
    const list = $("queue");
    const byAuthor = this.authorCounts();
    const questions = this.sortedFor(state.tab);
    const balanced = state.tab === "live" && state.order === "balanced";
    const lang = currentLang();
    redrawKeepingFocus(list, () => {
      const rows = questions.map((q) => {
        // Votes are left out of the signature: counts arrive often and only change a number,
        // so a row being tapped is not replaced under the finger.
        const { votes, ...rest } = q;
        const sig = JSON.stringify([rest, lang, state.editing.has(q.id), byAuthor.get(q.author), q.merged_from.map((id) => model.questions.get(id)?.text)]);
        let entry = rendered.get(q.id);
        if (!entry || entry.sig !== sig) {
          entry = { sig, node: this.questionRow(q, byAuthor) };
          rendered.set(q.id, entry);
        }
        entry.node.querySelector(".q-votes").textContent = formatNumber(votes);
        entry.node.querySelector(".q-votes-label").textContent = count("common.votes_noun", votes);
        const size = entry.node.querySelector(".q-audience");
        size.hidden = !balanced;
        size.textContent = balanced ? count("moderator.audience_present", model.presence[q.where] ?? 0) : "";
        return entry.node;
      });
      const wanted = new Set(rows);
      for (const node of [...list.children]) if (!wanted.has(node)) node.remove();
      rows.forEach((node, i) => {
        if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
      });
    }, () => $(`tab-${state.tab}`).focus()); // no question left in the tab: focus the tab
    for (const id of rendered.keys()) if (!model.questions.has(id)) rendered.delete(id);
    for (const id of state.editing.keys()) if (model.questions.get(id)?.status === "merged") state.editing.delete(id);
    $("queue-empty").hidden = questions.length > 0;

    for (const name of Object.keys(TABS)) $(`count-${name}`).textContent = String(this.byItem(model.list(TABS[name])).length);
    this.renderItemFilter();
    const pending = model.list(TABS.pending).length;
    $("tab-pending").dataset.attention = String(pending > 0);
    this.nav.setPending(pending); // the badge of the portrait console's Questions button

    $("queue-order").hidden = state.tab !== "live";
    this.renderNudge();

    const shown = model.highlighted();
    $("on-screen").hidden = !shown;
    $("on-screen-text").textContent = shown ? shown.text : "";
    this.merge.refresh();
  }

  // An audience kept waiting: live questions and none of theirs answered for nudgeMinutes.
  renderNudge() {
    const minutes = this.nudgeMinutes;
    const waiting = nudges([...this.model.questions.values()], this.model.now(), minutes);
    const text = waiting.map((where) => count(`moderator.nudge_${where}`, minutes)).join(" ");
    const nudge = $("fairness-nudge");
    if (nudge.textContent !== text) nudge.textContent = text; // unchanged text is not announced again
    nudge.hidden = !text;
  }

  selectOrder(name) {
    this.state.order = name;
    for (const button of document.querySelectorAll("#queue-order [data-order]")) {
      button.setAttribute("aria-pressed", String(button.dataset.order === name));
    }
    this.render();
  }

  selectTab(name, focus = false) {
    this.state.tab = name;
    for (const button of document.querySelectorAll("#tabs [role=tab]")) {
      const selected = button.dataset.tab === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      if (selected && focus) button.focus();
    }
    $("queue-panel").setAttribute("aria-labelledby", `tab-${name}`);
    this.render();
  }

  wire() {
    const { state } = this;
    for (const button of document.querySelectorAll("#queue-order [data-order]")) {
      button.addEventListener("click", () => this.selectOrder(button.dataset.order));
    }
    setInterval(() => state.ready && this.renderNudge(), 15_000); // time passes between events
    $("queue-item").addEventListener("change", (event) => {
      state.itemFilter = event.target.value;
      this.render();
    });

    const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
    for (const button of tabs) button.addEventListener("click", () => this.selectTab(button.dataset.tab));
    $("tabs").addEventListener("keydown", (event) => {
      const index = tabs.findIndex((b) => b.dataset.tab === state.tab);
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
      this.selectTab(next.dataset.tab, true);
    });

    const queue = $("queue");
    queue.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const id = Number(button.closest("li.question").dataset.id);
      const action = button.dataset.action;
      if (action === "save") return; // handled by the form's submit
      if (action === "edit") {
        state.editing.set(id, this.model.questions.get(id)?.text ?? "");
        this.render();
        const field = $(`q-edit-${id}`);
        field?.focus();
        field?.setSelectionRange(field.value.length, field.value.length);
      } else if (action === "cancel") {
        this.stopEditing(id);
      } else if (action === "merge") {
        this.merge.open(id);
      } else if (REQUESTS[action]) {
        this.send({ type: REQUESTS[action], question: id });
      }
    });
    queue.addEventListener("input", (event) => {
      if (event.target.matches("textarea[data-action=draft]")) {
        state.editing.set(Number(event.target.closest("form").dataset.id), event.target.value);
      }
    });
    queue.addEventListener("keydown", (event) => {
      if (!event.target.matches("textarea[data-action=draft]")) return;
      const id = Number(event.target.closest("form").dataset.id);
      if (event.key === "Escape") this.stopEditing(id);
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.saveEdit(id);
    });
    queue.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveEdit(Number(event.target.dataset.id));
    });
  }

  stopEditing(id) {
    this.state.editing.delete(id);
    this.render();
    document.querySelector(`#queue li[data-id="${id}"] [data-action=edit]`)?.focus();
  }

  async saveEdit(id) {
    const text = (this.state.editing.get(id) ?? "").trim();
    if (text === this.model.questions.get(id)?.text) {
      this.stopEditing(id);
      return;
    }
    if (await this.send({ type: "question.edit", question: id, text })) this.stopEditing(id);
  }
}
