// The realtime connection: join, resume from the last seq after a drop, requests with replies.
// Protocol: docs/protocol.md.

const EVENT_TYPES = new Set([
  "snapshot", "questions", "counts", "agenda", "session", "presence", "resumed", "polls", "attendance",
]);

function realtimeUrl() {
  const configured = document.querySelector('meta[name="companion-ws-url"]');
  if (configured) return configured.content;
  const port = document.querySelector('meta[name="companion-ws-port"]').content;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.hostname}:${port}/ws`;
}

export class Live {
  /**
   * join: the join message fields (code/role/where/name/session/moderator_token).
   * tokenKey: where to keep the participant token on this device (null: none).
   * onMessage(msg), onStatus("connecting" | "live" | "reconnecting" | "failed", error?).
   */
  constructor({ join, tokenKey = null, onMessage, onStatus, onWelcome = () => {} }) {
    this.join = join;
    this.tokenKey = tokenKey;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onWelcome = onWelcome;
    this.seq = null;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.retries = 0;
    this.stopped = false;
    this.joined = false;
  }

  start() {
    this.onStatus(this.seq === null ? "connecting" : "reconnecting");
    const ws = new WebSocket(realtimeUrl());
    this.ws = ws;
    ws.addEventListener("open", () => this.sendJoin());
    ws.addEventListener("message", (event) => this.receive(event.data));
    ws.addEventListener("close", () => this.closed(ws));
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }

  sendJoin() {
    const message = { type: "join", ...this.join, since: this.seq };
    if (this.tokenKey) {
      const token = localStorage.getItem(this.tokenKey);
      if (token) message.token = token;
    }
    this.request(message).catch((error) => {
      if (this.tokenKey && (error.code === "invalid_token" || error.code === "token_expired")) {
        localStorage.removeItem(this.tokenKey);
        this.sendJoin();
        return;
      }
      this.stopped = true;
      this.onStatus("failed", error);
    });
  }

  receive(raw) {
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
  }

  closed(ws) {
    if (ws !== this.ws) return;
    this.joined = false;
    for (const { reject } of this.pending.values()) reject({ code: "connection_lost" });
    this.pending.clear();
    if (this.stopped) return;
    this.onStatus("reconnecting");
    const delay = Math.min(5000, 400 * 2 ** this.retries) * (0.75 + Math.random() * 0.5);
    this.retries = Math.min(this.retries + 1, 6);
    setTimeout(() => this.start(), delay);
  }

  /** Send a message; resolves with the ack (or welcome), rejects with the error message. */
  request(message) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ code: "connection_lost" });
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }
}
