// Small DOM helpers. User-written text only ever goes in through textContent.
import { formatTime, onLanguageChange, t } from "./i18n.js";

/** Create an element: el("li", {class: "q", dataset: {id: 3}}, "text", childNode). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// How long a toast stays: long enough to read, short enough not to sit over the questions.
const TOAST_MS = { info: 3000, error: 5000 };
let toastTimer = null;
let toastText = null; // () => text of the toast on screen, re-run after a language switch

function hideToast() {
  clearTimeout(toastTimer);
  toastText = null;
  const box = document.getElementById("toast");
  if (box) box.hidden = true;
}

/**
 * Show a short message (errors, confirmations) at the bottom edge of the page, in its live
 * region. message: the text, or a function giving it in the current language (so a toast
 * on screen follows a language switch).
 */
export function toast(message, kind = "error") {
  const box = document.getElementById("toast");
  if (!box) return;
  toastText = typeof message === "function" ? message : () => message;
  box.querySelector(".toast-text").textContent = toastText();
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, TOAST_MS[kind] ?? TOAST_MS.error);
}

document.getElementById("toast")?.querySelector(".toast-close")?.addEventListener("click", hideToast);

/** The readable message for a server error, in the current language. */
export function errorText(error) {
  const key = `error.${error.code}`;
  const text = t(key);
  return text === key ? t("error.generic") : text;
}

let connection = null; // the state shown, re-translated after a language switch
let waiting = 0; // actions waiting for the connection to come back

/** Show the connection state: hidden while live, a banner otherwise. */
export function showConnection(status) {
  const box = document.getElementById("conn-status");
  if (!box) return;
  connection = status;
  document.body.dataset.connection = status;
  if (status === "live") {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  const key = { reconnecting: "common.reconnecting", failed: "common.connection_failed" }[status];
  const parts = [t(key ?? "common.connecting")];
  if (waiting > 0 && status !== "failed") parts.push(t("common.waiting_to_send"));
  box.textContent = parts.join(" ");
}

/** How many actions wait for the connection (Live's onWaiting): said in the banner. */
export function showWaiting(n) {
  waiting = n;
  if (connection && connection !== "live" && connection !== "failed") showConnection(connection);
}

onLanguageChange(() => {
  const box = document.getElementById("toast");
  if (box && toastText && !box.hidden) box.querySelector(".toast-text").textContent = toastText();
  if (connection && connection !== "live" && connection !== "failed") showConnection(connection);
});

/** Seconds as m:ss (or h:mm:ss), with a leading minus when negative. */
export function clock(seconds) {
  const sign = seconds < 0 ? "−" : "";
  let s = Math.floor(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${sign}${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** A unix time as the page's language writes a time of day ("09.30" in Swedish). */
export function timeOfDay(unixSeconds) {
  return formatTime(unixSeconds);
}

/** Remember a small value on this device. */
export const remember = {
  get(key, fallback = null) {
    try {
      const raw = localStorage.getItem(`companion.${key}`);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`companion.${key}`, JSON.stringify(value));
    } catch {
      /* private mode: not remembered, still works */
    }
  },
};

/** The start of a long text for a screen-reader name: whole words, then "…". */
export function excerpt(text, max = 80) {
  const clean = String(text ?? "").replace(/\s+/g, " ").trim();
  if (clean.length <= max) return clean;
  const cut = clean.slice(0, max);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,.;:–-]+$/, "")}…`;
}
