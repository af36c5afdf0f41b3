// Poll widgets shared by the participant pages, the moderator console and the big screen:
// results (bars, average and distribution, word cloud) and the answer form.
// Bar widths and word sizes are CSS custom properties set through the CSSOM, which the
// Content-Security-Policy allows (inline style attributes it does not).
import { count, formatNumber, formatPercent, t } from "./i18n.js";
import { el, errorText } from "./ui.js";

export function respondentsText(n) {
  return count("polls.respondents", n);
}

/** Whether these results carry tallies (false while the moderator hides them). */
export function hasTallies(results) {
  return Boolean(results && ("counts" in results || "distribution" in results || "words" in results));
}

function percent(count, total) {
  return total ? Math.round((100 * count) / total) : 0;
}

function bars(rows, total) {
  return el(
    "ol",
    { class: "poll-bars" },
    rows.map(({ label, count }) => {
      const pct = percent(count, total);
      const fill = el("span", { class: "poll-fill" });
      fill.style.setProperty("--pct", String(pct));
      return el(
        "li",
        { class: "poll-bar-row" },
        el("span", { class: "poll-label" }, label),
        el("span", { class: "poll-bar", "aria-hidden": "true" }, fill),
        el("span", { class: "poll-num" }, `${formatNumber(count)} (${formatPercent(pct)})`),
      );
    }),
  );
}

function cloud(words) {
  const highest = words.length ? words[0][1] : 0;
  const list = el(
    "ul",
    { class: "poll-cloud" },
    words.map(([word, count]) => {
      const item = el("li", { class: "poll-word" }, word, el("span", { class: "poll-word-count" }, ` ${count}`));
      // Relative frequency: 0 for a word with one answer, 1 for the most frequent one; words
      // that are all equally frequent are all drawn at the base size.
      item.style.setProperty("--w", highest > 1 ? ((count - 1) / (highest - 1)).toFixed(3) : "0");
      return item;
    }),
  );
  // The more words, the narrower the range between the rarest and the most frequent one.
  list.dataset.spread = Math.max(0.4, Math.min(1, 8 / Math.max(1, words.length))).toFixed(3);
  list.style.setProperty("--spread", list.dataset.spread);
  return list;
}

function moreWordsText(n) {
  return count("polls.more_words", n);
}

// Scale factors tried by fitCloud, largest first; the smallest keeps words readable from
// the back of the room, and below it the rarest words are left out (and counted) instead.
const CLOUD_FITS = [2.4, 2, 1.7, 1.45, 1.25, 1.1, 1, 0.9, 0.8, 0.72, 0.65];

/**
 * Make a word cloud that is already in the page fit its box (a box with a bounded height,
 * such as the big screen's poll area): the largest scale at which every word fits, and
 * when none does, the most frequent words that fit at the smallest scale and a note with
 * how many are left out.
 */
export function fitCloud(results) {
  const list = results?.querySelector(".poll-cloud");
  if (!list) return;
  const words = [...list.children];
  const overflows = () => list.scrollHeight > list.clientHeight + 1 || list.scrollWidth > list.clientWidth + 1;
  results.querySelector(".poll-more")?.remove();
  const more = el("p", { class: "poll-more" });
  const show = (n) => {
    words.forEach((word, i) => {
      word.hidden = i >= n;
    });
    if (n === words.length) more.remove();
    else {
      more.textContent = moreWordsText(words.length - n);
      if (!more.isConnected) list.after(more);
    }
  };
  // The largest scale at which the first n words fit, or false.
  const fits = (n) => {
    show(n);
    for (const fit of CLOUD_FITS) {
      list.style.setProperty("--fit", String(fit));
      if (!overflows()) return true;
    }
    return false;
  };
  // The most words (most frequent first) that fit at the smallest scale, by halving.
  const most = () => {
    let low = 0;
    let high = words.length;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      show(mid);
      if (overflows()) high = mid - 1;
      else low = mid;
    }
    return low;
  };
  // Sizes by frequency with every word whole on one line; else the rarest words left out.
  // Only when not even the most frequent word fits that way (a long answer without a
  // space on a crowded screen) are all words drawn at one size, breaking one too wide.
  list.style.setProperty("--spread", list.dataset.spread);
  list.classList.remove("poll-cloud-wrap");
  if (fits(words.length)) return;
  let shown = most();
  if (shown === 0) {
    list.style.setProperty("--spread", "0");
    list.classList.add("poll-cloud-wrap");
    if (fits(words.length)) return;
    shown = most();
  }
  show(shown);
}

/** The results of a poll as one element: bars, average with distribution, or a word cloud. */
export function resultsView(poll, { large = false } = {}) {
  const results = poll.results ?? { respondents: 0 };
  const box = el("div", { class: `poll-results${large ? " poll-large" : ""}`, dataset: { kind: poll.kind } });
  const total = el("p", { class: "poll-respondents" }, respondentsText(results.respondents));
  if (!hasTallies(results)) {
    box.append(el("p", { class: "poll-hidden" }, t("polls.hidden")), total);
    return box;
  }
  if (poll.kind === "single" || poll.kind === "multiple") {
    const rows = poll.options.map((option, i) => ({ label: option.text, count: results.counts[i] ?? 0 }));
    box.append(bars(rows, results.respondents));
  } else if (poll.kind === "rating") {
    const average = results.average === null ? "–" : formatNumber(results.average);
    box.append(el("p", { class: "poll-average" }, t("polls.average", { value: average })));
    const rows = results.distribution.map((count, i) => ({ label: String(i + 1), count }));
    box.append(bars(rows, results.respondents));
  } else {
    box.append(cloud(results.words));
  }
  box.append(total);
  return box;
}

/** An answer as text, for "Your answer: …". */
export function answerText(poll, answer) {
  if (answer === undefined || answer === null) return "";
  const option = (id) => poll.options.find((o) => o.id === id)?.text ?? String(id);
  if (poll.kind === "single") return option(answer);
  if (poll.kind === "multiple") return answer.map(option).join(", ");
  return String(answer);
}

function hint(poll) {
  if (poll.kind === "single") return t("polls.choose_one");
  if (poll.kind === "multiple") return count("polls.choose_up_to", poll.max_choices);
  if (poll.kind === "rating") return t("polls.rate", { n: poll.scale });
  return "";
}

/**
 * The answer form of an open poll, filled with the current answer.
 * onSubmit(answer) is called with the answer in protocol form (see docs/protocol.md).
 */
export function answerForm(poll, current, onSubmit, maxChars = null) {
  const name = `poll-${poll.id}`;
  const legendId = `poll-legend-${poll.id}`;
  const hintId = `poll-hint-${poll.id}`;
  const form = el("form", { class: "poll-form", dataset: { id: poll.id, kind: poll.kind }, novalidate: true });
  let field;
  if (poll.kind === "words") {
    const inputId = `poll-input-${poll.id}`;
    field = el(
      "div",
      { class: "poll-field" },
      el("label", { for: inputId, class: "visually-hidden" }, poll.text),
      el("input", {
        type: "text",
        id: inputId,
        name,
        maxlength: maxChars, // the server's limit (welcome.limits.answer_chars)
        autocomplete: "off",
        placeholder: t("polls.word_placeholder"),
        value: typeof current === "string" ? current : null,
      }),
    );
  } else {
    const multiple = poll.kind === "multiple";
    const choices =
      poll.kind === "rating"
        ? Array.from({ length: poll.scale }, (_, i) => ({ id: i + 1, text: String(i + 1) }))
        : poll.options;
    const chosen = new Set(multiple ? (current ?? []) : current === undefined || current === null ? [] : [current]);
    field = el(
      "fieldset",
      { class: `poll-choices${poll.kind === "rating" ? " poll-scale" : ""}`, "aria-describedby": hintId },
      el("legend", { id: legendId, class: "visually-hidden" }, poll.text),
      choices.map((choice) =>
        el(
          "label",
          { class: "poll-choice" },
          el("input", {
            type: multiple ? "checkbox" : "radio",
            name,
            value: choice.id,
            checked: chosen.has(choice.id),
          }),
          el("span", {}, choice.text),
        ),
      ),
    );
    if (multiple) {
      // Leave no way to tick more than allowed; the server checks it too.
      const limit = () => {
        const boxes = [...field.querySelectorAll("input")];
        const full = boxes.filter((b) => b.checked).length >= poll.max_choices;
        for (const b of boxes) b.disabled = full && !b.checked;
      };
      field.addEventListener("change", limit);
      limit();
    }
  }
  const answered = current !== undefined && current !== null;
  // A poll without a hint (a word cloud) has none: append() would write null as "null".
  const hintNode = hint(poll) ? el("p", { class: "poll-hint", id: hintId }, hint(poll)) : null;
  const actions = el(
    "div",
    { class: "poll-actions" },
    el("button", { type: "submit", class: "primary" }, t(answered ? "polls.change" : "polls.send")),
  );
  form.append(...[hintNode, field, actions].filter(Boolean));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (poll.kind === "words") {
      onSubmit(form.querySelector("input").value);
      return;
    }
    const values = [...form.querySelectorAll("input:checked")].map((input) => Number(input.value));
    if (poll.kind === "multiple") onSubmit(values);
    else onSubmit(values.length ? values[0] : null);
  });
  return form;
}

/**
 * The polls on a participant page: a card per open poll with its answer form (in `list`),
 * and a card per closed poll with its results (in `closedList`, folded below the questions).
 * send(pollId, answer) makes the request and resolves with the ack.
 */
export class PollList {
  constructor({ section, list, closedSection, closedList, closedCount, model, send, notify }) {
    this.section = section;
    this.list = list;
    this.closedSection = closedSection;
    this.closedList = closedList;
    this.closedCount = closedCount;
    this.model = model;
    this.send = send;
    this.notify = notify; // (text or () => text, kind = "error") -> shows a toast
    this.cards = new Map(); // poll id -> {sig, node}
    this.busy = new Set();
  }

  render() {
    const polls = [...this.model.polls.values()].filter((p) => p.status !== "draft");
    const open = polls.filter((p) => p.status === "open").sort((a, b) => (b.opened_at ?? 0) - (a.opened_at ?? 0));
    const closed = polls.filter((p) => p.status !== "open").sort((a, b) => (b.closed_at ?? 0) - (a.closed_at ?? 0));
    this.section.hidden = open.length === 0;
    this.closedSection.hidden = closed.length === 0;
    this.closedCount.textContent = closed.length ? `(${closed.length})` : "";
    const focused = document.activeElement;
    const place = focusPlace(focused);
    const keep = new Set(polls.map((p) => p.id));
    for (const id of [...this.cards.keys()]) if (!keep.has(id)) this.cards.delete(id);
    this.fill(this.list, open);
    this.fill(this.closedList, closed);
    if (!focused || focused === document.activeElement) return;
    if (focused.isConnected) focused.focus();
    else if (place) refocus(place); // the card was rebuilt (answered, closed): same control in the new one
  }

  fill(list, polls) {
    const nodes = polls.map((poll) => {
      const mine = this.model.myAnswers.get(poll.id);
      // The form is rebuilt only when what it offers changes, never on a tally, so a
      // choice being made is not lost when results arrive.
      const closed = Boolean(this.model.session?.closed); // a closed session takes no answers
      const sig = JSON.stringify([document.documentElement.lang, poll.status, poll.text, poll.options, mine, closed]);
      let entry = this.cards.get(poll.id);
      if (!entry || entry.sig !== sig) {
        entry = { sig, node: this.card(poll, mine) };
        this.cards.set(poll.id, entry);
      }
      this.updateResults(entry.node, poll, mine);
      return entry.node;
    });
    for (const node of [...list.children]) if (!nodes.includes(node)) node.remove();
    nodes.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null);
    });
  }

  card(poll, mine) {
    const answered = mine !== undefined && mine !== null;
    let form = null;
    if (poll.status === "open") {
      form = answerForm(poll, mine, (answer) => this.submit(poll, answer), this.model.limits.answer_chars);
      if (this.model.session?.closed) for (const control of form.elements) control.disabled = true;
    }
    return el(
      "li",
      { class: "poll-card", dataset: { id: poll.id, status: poll.status, kind: poll.kind } },
      el("h3", { class: "poll-question" }, poll.text),
      form ?? el("p", { class: "poll-state" }, t("polls.closed")),
      answered ? el("p", { class: "poll-mine" }, t("polls.your_answer", { answer: answerText(poll, mine) })) : null,
      el("div", { class: "poll-result-slot" }),
    );
  }

  updateResults(node, poll, mine) {
    const slot = node.querySelector(".poll-result-slot");
    // Results after answering (no nudge before), or for everyone once the poll is closed.
    const show = poll.status !== "open" || (mine !== undefined && mine !== null);
    slot.replaceChildren(...(show ? [resultsView(poll)] : []));
  }

  async submit(poll, answer) {
    if (answer === null || (Array.isArray(answer) && answer.length === 0)) {
      this.notify(() =>
        poll.kind === "multiple" ? count("polls.choose_up_to", poll.max_choices) : t("polls.choose_one"),
      );
      return;
    }
    if (this.busy.has(poll.id)) return;
    this.busy.add(poll.id);
    try {
      const ack = await this.send(poll.id, answer);
      this.model.myAnswers.set(ack.poll, ack.answer);
      this.notify(() => t("polls.answered"), "info");
    } catch (error) {
      this.notify(() => errorText(error));
    } finally {
      this.busy.delete(poll.id);
      this.render();
    }
  }
}

// Where focus was inside a poll card, described so it can be found again in a rebuilt card:
// the card's id and the control (the submit button, or a choice by its value).
function focusPlace(node) {
  const card = node?.closest?.("li.poll-card");
  if (!card) return null;
  const control = node.type === "submit" ? "button[type=submit]" : node.value ? `input[value="${CSS.escape(node.value)}"]` : null;
  return { id: card.dataset.id, control };
}

function refocus({ id, control }) {
  const card = document.querySelector(`li.poll-card[data-id="${CSS.escape(id)}"]`);
  if (!card) return;
  const target = (control && card.querySelector(control)) || card.querySelector("button, input") || card.querySelector("h3");
  if (target && !target.matches("button, input")) target.tabIndex = -1; // a closed card's heading
  target?.focus();
}
