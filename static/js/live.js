// The realtime connection: join, resume from the last seq after a drop, requests with replies.
// Protocol: docs/protocol.md.

// Every server message that carries the session's seq: a resume asks for what came after
// the last of them (a type left out here is replayed on every resume: an old "raised" once
// took a speaker off stage for a moment and dropped their microphone).
const EVENT_TYPES = new Set([
  "snapshot", "questions", "counts", "agenda", "session", "presence", "resumed", "polls", "attendance", "stage",
  "show", "hands",
]);

function realtimeUrl() {
  const configured = document.querySelector('meta[name="companion-ws-url"]');
  if (configured) return configured.content;
  const port = document.querySelector('meta[name="companion-ws-port"]').content;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.hostname}:${port}/ws`;
}

// A network that goes silent (out of Wi-Fi range, a NAT that forgot us) closes nothing: the
// socket stays open and hears nothing. So the client listens: after a quiet spell it sends
// a `ping` (docs/protocol.md 3.2), and a connection that answers nothing within the
// deadline is given up and replaced, resuming from the last seq.
const QUIET_MS = 3000; // nothing heard for this long: ping
const DEADLINE_MS = 3000; // a ping unanswered for this long: the connection is dead
const CONNECT_MS = 6000; // a new connection not joined within this: try another
const WAIT_MS = 15000; // an action taken while disconnected waits this long, then fails

// Every request that changes something carries a random `key` (docs/protocol.md 3.6), so a
// resend of the same action cannot apply twice: a second vote would withdraw the first.
// These types change nothing or are safe to repeat, and take no key.
const UNKEYED = new Set(["join", "ping", "session.rotate_key", "session.new_code"]);
// Actions whose outcome is unknown (the connection dropped, or the store did not answer):
// the person trying the same action again soon reuses its key. Later, the page has shown
// what happened, so the same tap means a new action (withdrawing the vote that did count).
const UNCERTAIN = new Set(["connection_lost", "store_unavailable"]);
const UNCERTAIN_KEPT = 50; // oldest forgotten first
const RETRY_MS = 60000; // how long a failed action's key is reused

function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Live {
  /**
   * join: the join message fields (code/role/where/name/session/moderator_token).
   * tokenKey: where to keep the participant token on this device (null: none).
   * onMessage(msg), onStatus("connecting" | "live" | "reconnecting" | "failed", error?),
   * onWaiting(n): how many actions wait for the connection to come back.
   */
  constructor({ join, tokenKey = null, onMessage, onStatus, onWelcome = () => {}, onWaiting = () => {} }) {
    this.join = join;
    this.tokenKey = tokenKey;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onWelcome = onWelcome;
    this.onWaiting = onWaiting;
    this.seq = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // sent, waiting for the reply
    this.waiting = []; // not sent yet: taken while disconnected
    this.uncertain = new Map(); // the action (as JSON) -> {key, at} of its failed attempt
    this.retries = 0;
    this.stopped = false;
    this.joined = false;
    this.heard = 0; // when the server was last heard from
    this.probing = null; // when the unanswered ping was sent, or null
    setInterval(() => this.watch(), 500);
  }

  start() {
    this.onStatus(this.seq === null ? "connecting" : "reconnecting");
    const ws = new WebSocket(realtimeUrl());
    this.ws = ws;
    this.heard = Date.now();
    this.probing = null;
    ws.addEventListener("open", () => this.sendJoin());
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", () => this.closed(ws));
    // A connection attempt into a silent network neither opens nor fails for minutes.
    setTimeout(() => {
      if (this.ws === ws && !this.joined) this.abandon(ws);
    }, CONNECT_MS);
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }

  /** Twice a second: ping a quiet connection, give up one that does not answer. */
  watch() {
    const ws = this.ws;
    if (!ws || !this.joined || this.stopped) return;
    const now = Date.now();
    if (this.probing !== null && now - this.probing > DEADLINE_MS) this.abandon(ws);
    else if (this.probing === null && now - this.heard > QUIET_MS) this.probe();
  }

  probe() {
    if (this.probing !== null || this.ws?.readyState !== WebSocket.OPEN) return;
    this.probing = Date.now();
    this.ws.send(JSON.stringify({ type: "ping", id: this.nextId++ }));
  }

  /** Treat a connection as lost without waiting for a close that may never come. */
  abandon(ws) {
    if (ws !== this.ws) return;
    this.closed(ws);
    this.ws = null; // its own close event, whenever it comes, changes nothing
    try {
      ws.close();
    } catch {
      /* already closing */
    }
  }

  sendJoin() {
    const message = { type: "join", ...this.join, since: this.seq };
    if (this.tokenKey) {
      const token = localStorage.getItem(this.tokenKey);
      if (token) message.token = token;
    }
    this.transmit(message).catch((error) => {
      if (error.code === "connection_lost") return; // the next connection joins again
      if (this.tokenKey && (error.code === "invalid_token" || error.code === "token_expired")) {
        localStorage.removeItem(this.tokenKey);
        this.sendJoin();
        return;
      }
      this.stopped = true;
      this.onStatus("failed", error);
      this.dropWaiting({ code: error.code ?? "connection_lost" });
    });
  }

  receive(raw) {
    this.heard = Date.now();
    this.probing = null;
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message.type === "welcome") {
      this.joined = true;
      this.retries = 0;
      if (this.tokenKey && message.participant) {
        localStorage.setItem(this.tokenKey, message.participant.token);
      }
      this.onWelcome(message);
      this.onStatus("live");
    }
    if (message.re !== undefined && message.re !== null && this.pending.has(message.re)) {
      const { resolve, reject } = this.pending.get(message.re);
      this.pending.delete(message.re);
      if (message.type === "error") reject(message);
      else resolve(message);
    }
    if (EVENT_TYPES.has(message.type) && typeof message.seq === "number") {
      this.seq = message.seq;
    }
    if (message.type === "status") {
      // The server is up but its shared store is not: show it like a lost connection.
      this.onStatus(message.store === "ok" ? "live" : "reconnecting");
      return;
    }
    if (message.type !== "ack" && message.type !== "pong") this.onMessage(message);
    // Joined again (after the snapshot or replay the welcome brings): send what waited.
    if (message.type === "welcome") this.flushWaiting();
  }

  closed(ws) {
    if (ws !== this.ws) return;
    this.joined = false;
    // Sent but unanswered: whether the server got it is unknown. A keyed action waits to be
    // sent again, with its key, once joined (the server makes it at most once); anything
    // else fails and the page says it did not go through.
    const unanswered = [...this.pending.values()];
    this.pending.clear();
    for (const { message, resolve, reject } of unanswered) {
      if (message.key && !this.stopped) this.wait(message, resolve, reject);
      else reject({ code: "connection_lost" });
    }
    if (this.stopped) return;
    this.onStatus("reconnecting");
    const delay = Math.min(5000, 400 * 2 ** this.retries) * (0.75 + Math.random() * 0.5);
    this.retries = Math.min(this.retries + 1, 6);
    setTimeout(() => this.start(), delay);
  }

  /**
   * Send a message; resolves with the ack (or welcome), rejects with the error message.
   * While disconnected the message waits (onWaiting says how many do) and is sent once
   * joined again; after WAIT_MS it is rejected with `connection_lost` instead.
   */
  request(message) {
    if (!UNKEYED.has(message.type) && !message.key) return this.keyed(message);
    if (this.joined && this.ws?.readyState === WebSocket.OPEN) {
      // Nothing heard for a while: make sure at once that the connection still carries.
      if (Date.now() - this.heard > 1000) this.probe();
      return this.transmit(message);
    }
    if (this.stopped) return Promise.reject({ code: "connection_lost" });
    return new Promise((resolve, reject) => this.wait(message, resolve, reject));
  }

  /** Send a state-changing action with its key: a new one, or the one of the same action
   * whose outcome is still unknown (tried again by the person). */
  keyed(action) {
    const name = JSON.stringify(action);
    const failed = this.uncertain.get(name);
    const key = failed && Date.now() - failed.at < RETRY_MS ? failed.key : randomKey();
    this.uncertain.delete(name);
    return this.request({ ...action, key }).catch((error) => {
      if (UNCERTAIN.has(error?.code)) {
        this.uncertain.set(name, { key, at: Date.now() });
        if (this.uncertain.size > UNCERTAIN_KEPT) this.uncertain.delete(this.uncertain.keys().next().value);
      }
      throw error;
    });
  }

  /** Keep a message until joined again; after WAIT_MS reject it with `connection_lost`. */
  wait(message, resolve, reject) {
    const entry = { message, resolve, reject };
    entry.timer = setTimeout(() => {
      this.waiting = this.waiting.filter((e) => e !== entry);
      this.onWaiting(this.waiting.length);
      reject({ code: "connection_lost" });
    }, WAIT_MS);
    this.waiting.push(entry);
    this.onWaiting(this.waiting.length);
  }

  flushWaiting() {
    const entries = this.waiting;
    this.waiting = [];
    this.onWaiting(0);
    for (const { message, resolve, reject, timer } of entries) {
      clearTimeout(timer);
      this.transmit(message).then(resolve, reject);
    }
  }

  dropWaiting(error) {
    const entries = this.waiting;
    this.waiting = [];
    this.onWaiting(0);
    for (const { reject, timer } of entries) {
      clearTimeout(timer);
      reject(error);
    }
  }

  /** Put a message on the wire now; rejects at once when there is no open connection. */
  transmit(message) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ code: "connection_lost" });
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { message, resolve, reject });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }
}
