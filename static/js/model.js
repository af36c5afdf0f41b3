// The client-side copy of a session's state, kept current by the server's events.

export class SessionModel {
  constructor() {
    this.session = null;
    this.agenda = null;
    this.questions = new Map();
    this.mine = new Set();
    this.myVotes = new Set();
    this.polls = new Map(); // poll id -> poll view (with its results)
    this.myAnswers = new Map(); // poll id -> this participant's answer
    this.attendance = null; // peaks, moderators only
    this.hands = []; // raised hands in the order raised (names and topics: moderators only)
    this.myHand = null; // this participant's live hand id, or null
    this.show = { screen: "qr", stream: "camera", slate_audio: "muted", item: null, poll: null }; // the scene shown now
    this.presence = { room: 0, remote: 0, moderators: 0, screens: 0 };
    this.clockOffset = 0; // server time minus local time, seconds
    this.limits = {}; // text limits from the server's welcome (question_chars, answer_chars, ...)
  }

  welcome(message) {
    this.clockOffset = message.server_time - Date.now() / 1000;
    this.limits = message.limits ?? {};
  }

  /** Server time now, in unix seconds. */
  now() {
    return Date.now() / 1000 + this.clockOffset;
  }

  /** Fold one server event in; returns the names of the parts that changed. */
  apply(message) {
    switch (message.type) {
      case "snapshot":
        this.session = message.session;
        this.agenda = message.agenda;
        this.questions = new Map(message.questions.map((q) => [q.id, q]));
        this.mine = new Set(message.mine);
        this.myVotes = new Set(message.my_votes);
        this.polls = new Map((message.polls ?? []).map((p) => [p.id, p]));
        this.myAnswers = new Map(Object.entries(message.my_answers ?? {}).map(([id, a]) => [Number(id), a]));
        this.attendance = message.attendance ?? null;
        if (message.show) this.show = message.show;
        this.hands = message.hands ?? [];
        this.myHand = message.my_hand ?? null;
        return ["session", "agenda", "questions", "polls", "attendance", "show", "hands"];
      case "questions":
        for (const q of message.questions) this.questions.set(q.id, q);
        for (const id of message.removed) this.questions.delete(id);
        return ["questions"];
      case "counts":
        for (const [id, votes] of Object.entries(message.counts)) {
          const q = this.questions.get(Number(id));
          if (q) q.votes = votes;
        }
        if (!message.tallies) return ["counts"];
        for (const [id, results] of Object.entries(message.tallies)) {
          const poll = this.polls.get(Number(id));
          if (poll) poll.results = results;
        }
        return ["counts", "tallies"];
      case "polls":
        for (const poll of message.polls) this.polls.set(poll.id, poll);
        return ["polls"];
      case "attendance":
        this.attendance = message.attendance;
        return ["attendance"];
      case "agenda": {
        // A move carries the new scene and the polls it changed: one event, one redraw.
        this.agenda = message.agenda;
        const parts = ["agenda"];
        if (message.show) {
          this.show = message.show;
          parts.push("show");
        }
        for (const poll of message.polls ?? []) this.polls.set(poll.id, poll);
        if (message.polls) parts.push("polls");
        return parts;
      }
      case "show":
        this.show = message.show;
        return ["show"];
      case "hands":
        this.hands = message.hands;
        // A hand that is gone was lowered, left or ended: this device has none then.
        if (this.myHand !== null && !this.hands.some((h) => h.id === this.myHand)) this.myHand = null;
        return ["hands"];
      case "session":
        this.session = message.session;
        return ["session"];
      case "presence":
        this.presence = message;
        return ["presence"];
      default:
        return [];
    }
  }

  /** Questions with one of the statuses, sorted by votes (then oldest) or newest first. */
  list(statuses, order = "votes") {
    const chosen = [...this.questions.values()].filter((q) => statuses.includes(q.status));
    if (order === "newest") chosen.sort((a, b) => b.asked_at - a.asked_at);
    else chosen.sort((a, b) => b.votes - a.votes || a.asked_at - b.asked_at);
    return chosen;
  }

  /** This participant's live hand (its public view), or null. */
  myHandView() {
    return this.hands.find((h) => h.id === this.myHand) ?? null;
  }

  /** The poll on the big screen, or null. */
  pollOnScreen() {
    return [...this.polls.values()].find((p) => p.on_screen) ?? null;
  }

  highlighted() {
    return [...this.questions.values()].find((q) => q.status === "highlighted") ?? null;
  }

  item(id) {
    return this.agenda?.items.find((item) => item.id === id) ?? null;
  }

  currentItem() {
    return this.item(this.agenda?.current);
  }

  nextItem() {
    return this.item(this.agenda?.next);
  }

  /** Questions of the current item first, then the rest; each part keeps its order. */
  currentFirst(questions) {
    const current = this.agenda?.current ?? null;
    if (current === null) return questions;
    return [...questions.filter((q) => q.item_id === current), ...questions.filter((q) => q.item_id !== current)];
  }

  /** Seconds left on the current item's timer (negative when over time). */
  timeLeft() {
    const timer = this.agenda?.timer;
    if (!timer) return null;
    const running = timer.running_since === null ? 0 : Math.max(0, this.now() - timer.running_since);
    return timer.planned_seconds - timer.elapsed - running;
  }
}
