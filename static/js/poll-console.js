// The moderator console's polls panel: create, open/close/reopen, hide results, put a
// poll on the big screen; live results; attendance peaks and the report downloads.
// Like the rest of the console it redraws only from server events.
import { count, formatTime, t } from "./i18n.js";
import { resultsView } from "./polls.js";
import { el, errorText, excerpt, toast } from "./ui.js";

// A poll action and the one its row shows in its place once it is done.
const TOGGLED = { open: "close", close: "reopen", reopen: "close", show: "unshow", unshow: "show" };

const $ = (id) => document.getElementById(id);

export class PollConsole {
  /** send(message) -> Promise<boolean>; key() -> the moderator token. */
  constructor({ model, send, session, key }) {
    this.model = model;
    this.send = send;
    this.session = session;
    this.key = key;
    this.rows = new Map(); // poll id -> {sig, node}
  }

  wire() {
    const kind = $("poll-kind");
    kind.addEventListener("change", () => this.showKindFields());
    this.showKindFields();
    $("poll-create").addEventListener("toggle", () => {
      // A new poll belongs to what is on now, unless the moderator picks otherwise.
      if ($("poll-create").open && !$("poll-text").value) $("poll-item").value = this.model.agenda?.current ?? "";
    });
    $("poll-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    $("poll-admin").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const poll = Number(button.closest("li.poll-row").dataset.id);
      const action = button.dataset.action;
      if (action === "hide-results") {
        this.send({ type: "poll.hide_results", poll, hide: button.getAttribute("aria-pressed") !== "true" });
      } else {
        this.send({ type: `poll.${action === "reopen" ? "open" : action}`, poll });
      }
    });
    for (const button of document.querySelectorAll(".report-row button[data-format]")) {
      button.addEventListener("click", () => this.report(button.dataset.format));
    }
  }

  showKindFields() {
    const kind = $("poll-kind").value;
    $("poll-options-row").hidden = !(kind === "single" || kind === "multiple");
    $("poll-max-row").hidden = kind !== "multiple";
    $("poll-scale-row").hidden = kind !== "rating";
  }

  async create() {
    const kind = $("poll-kind").value;
    const message = {
      type: "poll.create",
      kind,
      text: $("poll-text").value,
      hide_results: $("poll-hide").checked,
    };
    if (kind === "single" || kind === "multiple") {
      message.options = $("poll-options")
        .value.split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
    }
    if (kind === "multiple") message.max_choices = Number($("poll-max").value);
    if (kind === "rating") message.scale = Number($("poll-scale").value);
    if ($("poll-item").value) message.item = $("poll-item").value;
    if (await this.send(message)) {
      $("poll-text").value = "";
      $("poll-options").value = "";
      $("poll-hide").checked = false;
      $("poll-text").focus();
    }
  }

  itemTitle(id) {
    if (!id) return t("polls.whole_session");
    return this.model.item(id)?.title ?? id;
  }

  row(poll) {
    const textId = `poll-q-${poll.id}`;
    const button = (action, key, extra = {}) =>
      el("button", { type: "button", dataset: { action }, "aria-describedby": textId, ...extra }, t(key));
    const actions = [];
    if (poll.status === "draft") actions.push(button("open", "polls.open", { class: "primary" }));
    if (poll.status === "open") actions.push(button("close", "polls.close"));
    if (poll.status === "closed") actions.push(button("reopen", "polls.reopen"));
    if (poll.status !== "draft") {
      actions.push(poll.on_screen ? button("unshow", "polls.unshow") : button("show", "polls.show"));
    }
    actions.push(
      button("hide-results", "polls.hide_results_short", {
        "aria-pressed": String(poll.hide_results),
        title: t("polls.hide_results"),
      }),
    );
    return el(
      "li",
      { class: "poll-row", dataset: { id: poll.id, status: poll.status } },
      el(
        "p",
        { class: "poll-row-head" },
        el("span", { class: "status", dataset: { status: poll.status } }, t(`polls.status_${poll.status}`)),
        poll.on_screen ? el("span", { class: "badge on-screen-badge" }, t("polls.on_screen")) : null,
        el("span", { class: "poll-kind" }, t(`polls.kind_${poll.kind}`)),
        el("span", { class: "poll-item" }, this.itemTitle(poll.item_id)),
      ),
      el("p", { class: "poll-question", id: textId }, poll.text),
      el("div", { class: "poll-result-slot" }),
      el("div", { class: "q-actions", role: "group", "aria-label": t("polls.actions_for", { text: excerpt(poll.text) }) }, actions),
    );
  }

  /** The agenda items a new poll can belong to, kept up with the organiser's live edits. */
  renderItemChoices() {
    const select = $("poll-item");
    const chosen = select.value;
    const items = this.model.agenda?.items ?? [];
    const options = items.map((item) =>
      el("option", { value: item.id }, item.start ? `${formatTime(item.start)} ${item.title}` : item.title),
    );
    select.replaceChildren(select.options[0], ...options);
    select.value = items.some((item) => item.id === chosen) ? chosen : "";
  }

  render() {
    const list = $("poll-admin");
    const polls = [...this.model.polls.values()].sort((a, b) => b.id - a.id); // newest first
    const active = document.activeElement;
    const focus = list.contains(active) ? [active.closest("li")?.dataset.id, active.dataset.action] : null;
    const nodes = polls.map((poll) => {
      const { results, ...rest } = poll; // results change often and only redraw their slot
      const sig = JSON.stringify([document.documentElement.lang, rest, this.model.agenda?.items.map((i) => i.title)]);
      let entry = this.rows.get(poll.id);
      if (!entry || entry.sig !== sig) {
        entry = { sig, node: this.row(poll) };
        this.rows.set(poll.id, entry);
      }
      entry.node.querySelector(".poll-result-slot").replaceChildren(resultsView(poll));
      return entry.node;
    });
    for (const node of [...list.children]) if (!nodes.includes(node)) node.remove();
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    });
    $("polls-empty").hidden = polls.length > 0;
    if (focus && !list.contains(document.activeElement)) {
      // The row was redrawn: focus the same action, else the one that replaced it (Visa on
      // screen becomes Ta bort från skärmen), else the row's first.
      const row = list.querySelector(`li[data-id="${CSS.escape(focus[0] ?? "")}"]`);
      const action = focus[1] ?? "";
      const control =
        row?.querySelector(`[data-action="${CSS.escape(action)}"]`) ??
        (TOGGLED[action] ? row?.querySelector(`[data-action="${TOGGLED[action]}"]`) : null) ??
        row?.querySelector("button");
      control?.focus();
    }
  }

  renderAttendance() {
    const a = this.model.attendance;
    $("attendance-peaks").textContent = t("polls.peaks", {
      room: count("common.on_site_count", a?.peak_room ?? 0),
      remote: count("common.remote_count", a?.peak_remote ?? 0),
    });
  }

  async report(format) {
    const key = this.key();
    if (!key) return;
    const url = `/moderate/${encodeURIComponent(this.session)}/report.${format}`;
    if (format === "html") {
      // A POST in a new tab: the printable page loads its own CSS, and the key stays out of URLs.
      const form = el(
        "form",
        { method: "post", action: url, target: "_blank", hidden: true },
        el("input", { type: "hidden", name: "key", value: key }),
      );
      document.body.append(form);
      form.submit();
      form.remove();
      return;
    }
    try {
      const response = await fetch(url, { headers: { Authorization: `Bearer ${key}` } });
      if (!response.ok) {
        const error = await response.json().catch(() => ({}));
        toast(() => errorText(error));
        return;
      }
      const name = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1];
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: name ?? `report.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch {
      toast(() => errorText({ code: "connection_lost" }));
    }
  }
}
