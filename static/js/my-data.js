// "Mina uppgifter" on the participant page: what this device's participant has sent in the
// session (from the server, `me.data`), downloaded as JSON, a name taken off a question, a
// question withdrawn, and the device forgotten (`participant.forget`, then the token goes).
import { count, t } from "./i18n.js";
import { el, errorText, toast } from "./ui.js";

const $ = (id) => document.getElementById(id);

export class MyData {
  /**
   * live: the page's Live connection; model: its SessionModel (question and poll texts);
   * code: the join code (the download's name); tokenKey(): where the token is kept;
   * name: the name kept on this device (or ""); onForgotten(): stop the page's connection.
   */
  constructor({ live, model, code, tokenKey, name, onForgotten }) {
    this.live = live;
    this.model = model;
    this.code = code;
    this.tokenKey = tokenKey;
    this.name = name;
    this.onForgotten = onForgotten;
    this.data = null; // the last `me.data` answer
    this.fold = $("my-data-fold");
    this.fold.addEventListener("toggle", () => {
      if (this.fold.open) this.refresh();
    });
    $("my-data-questions").addEventListener("click", (event) => this.act(event));
    $("my-data-download").addEventListener("click", () => this.download());
    $("my-data-forget").addEventListener("click", () => this.confirming(true));
    $("my-data-forget-cancel").addEventListener("click", () => this.confirming(false));
    $("my-data-forget-confirm").addEventListener("click", () => this.forget());
  }

  async refresh() {
    const status = $("my-data-status");
    if (!this.data) status.textContent = t("mydata.loading");
    try {
      this.data = (await this.live.request({ type: "me.data" })).data;
      status.textContent = "";
      this.render();
    } catch (error) {
      status.textContent = errorText(error);
    }
  }

  /** Draw what the last answer holds (again after a language switch). */
  render() {
    const data = this.data;
    if (!data) return;
    $("my-data-body").hidden = false;
    $("my-data-name").textContent = this.name
      ? t("mydata.name_value", { name: this.name })
      : t("mydata.name_none");

    const questions = $("my-data-questions");
    questions.replaceChildren(
      ...data.questions.map((q) => {
        const state = q.withdrawn ? "withdrawn" : q.status;
        const who = q.name ? t("mydata.with_name", { name: q.name }) : t("mydata.without_name");
        const actions = el("div", { class: "my-data-actions" });
        if (q.name) {
          actions.append(
            el("button", { type: "button", dataset: { act: "unname", id: q.id } }, t("mydata.unname")),
          );
        }
        if (!q.withdrawn && q.status !== "merged") {
          actions.append(
            el("button", { type: "button", dataset: { act: "withdraw", id: q.id } }, t("mydata.withdraw")),
          );
        }
        return el(
          "li",
          { dataset: { id: q.id } },
          el("p", { class: "my-data-text" }, q.text),
          el("p", { class: "hint" }, t(`mydata.status_${state}`)),
          el("p", { class: "hint" }, who),
          actions,
        );
      }),
    );
    if (!data.questions.length) questions.append(el("li", { class: "empty" }, t("mydata.questions_none")));

    const votes = $("my-data-votes");
    $("my-data-votes-count").textContent = data.votes.length
      ? count("mydata.votes", data.votes.length)
      : t("mydata.votes_none");
    votes.replaceChildren(
      ...data.votes.map((id) => el("li", {}, this.model.questions.get(id)?.text ?? t("mydata.vote_elsewhere"))),
    );
    votes.hidden = !data.votes.length;

    const answers = $("my-data-answers");
    answers.replaceChildren(
      ...data.answers.map((a) =>
        el(
          "li",
          {},
          el("p", { class: "my-data-text" }, this.model.polls.get(a.poll)?.text ?? ""),
          el("p", { class: "hint" }, t("mydata.your_answer", { answer: this.answerText(a) })),
        ),
      ),
    );
    if (!data.answers.length) answers.append(el("li", { class: "empty" }, t("mydata.answers_none")));

    // A raised hand ("Jag vill prata"): what the moderator sees of it.
    const hand = data.hand;
    $("my-data-hand").textContent = !hand
      ? t("mydata.hand_none")
      : hand.topic
        ? t("mydata.hand_topic", { topic: hand.topic })
        : t("mydata.hand_raised");
  }

  answerText({ poll: id, answer }) {
    const poll = this.model.polls.get(id);
    const option = (n) => poll?.options?.find((o) => o.id === n)?.text ?? String(n);
    if (Array.isArray(answer)) return answer.map(option).join(", ");
    return poll?.kind === "single" ? option(answer) : String(answer);
  }

  async act(event) {
    const button = event.target.closest("button[data-act]");
    if (!button) return;
    const id = Number(button.dataset.id);
    const act = button.dataset.act;
    button.setAttribute("aria-busy", "true");
    try {
      await this.live.request({ type: act === "unname" ? "question.unname" : "question.withdraw", question: id });
      toast(() => t(act === "unname" ? "mydata.unnamed" : "mydata.withdrawn"), "info");
      await this.refresh();
      // The row was drawn again: keep the focus in it, on its remaining button or its text.
      const row = $("my-data-questions").querySelector(`li[data-id="${id}"]`);
      const next = row?.querySelector("button") ?? row;
      if (next) {
        if (next.tagName === "LI") next.tabIndex = -1;
        next.focus();
      }
    } catch (error) {
      toast(() => errorText(error));
      button.removeAttribute("aria-busy");
    }
  }

  download() {
    const body = {
      session: this.code,
      downloaded_at: new Date().toISOString(),
      name_on_this_device: this.name || null,
      ...this.data,
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }));
    const link = el("a", { href: url, download: `mina-uppgifter-${this.code}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  confirming(on) {
    $("my-data-forget").hidden = on;
    $("my-data-forget-confirm").hidden = !on;
    $("my-data-forget-cancel").hidden = !on;
    (on ? $("my-data-forget-confirm") : $("my-data-forget")).focus();
  }

  async forget() {
    const button = $("my-data-forget-confirm");
    button.setAttribute("aria-busy", "true");
    try {
      await this.live.request({ type: "participant.forget" });
    } catch (error) {
      button.removeAttribute("aria-busy");
      toast(() => errorText(error));
      return;
    }
    localStorage.removeItem(this.tokenKey());
    this.onForgotten();
    this.data = null;
    $("my-data-body").hidden = true;
    const done = $("my-data-forgotten");
    done.hidden = false;
    done.querySelector("a").focus();
  }
}
