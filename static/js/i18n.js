// Strings come from the server's catalogue (embedded in the page); nothing is hard-coded here.
const listeners = new Set();
let strings = JSON.parse(document.getElementById("i18n-catalogue").textContent);

/** The current language code ("sv" or "en"). */
export function currentLang() {
  return document.documentElement.lang;
}

/** Translate a dotted key, filling {placeholders} from vars. */
export function t(key, vars = {}) {
  let text = strings[key] ?? key;
  for (const [name, value] of Object.entries(vars)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/**
 * A count: the catalogue's form of `key` for n by the language's CLDR plural rule
 * (`key.one`, `key.other`, ...; see companion/web/i18n.py), with {n} written for the
 * language ("1 000") and any other {placeholders} from vars.
 */
export function count(key, n, vars = {}) {
  const category = new Intl.PluralRules(currentLang()).select(n);
  const form = strings[`${key}.${category}`] !== undefined ? `${key}.${category}` : `${key}.other`;
  return t(form, { ...vars, n: formatNumber(n) });
}

/** A number as the current language writes it ("1 000", "4,5"). */
export function formatNumber(value, digits = 1) {
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** A percentage: "50 %" in Swedish, "50%" in English. */
export function formatPercent(value) {
  return currentLang() === "sv" ? `${formatNumber(value)}\u00a0%` : `${formatNumber(value)}%`;
}

// British English writes 24-hour times and "5 May 2020" (as the server does, with Babel).
function locale() {
  return currentLang() === "en" ? "en-GB" : currentLang();
}

/**
 * A time of day: "09.30" in Swedish (the style of Swedish agencies), "09:30" in English.
 * Takes unix seconds (shown in the visitor's time zone) or an "HH:MM" programme time.
 */
export function formatTime(value) {
  if (value === null || value === undefined || value === "") return "";
  let h;
  let m;
  if (typeof value === "string") {
    [h, m] = value.split(":").map(Number);
  } else {
    const date = new Date(value * 1000);
    [h, m] = [date.getHours(), date.getMinutes()];
  }
  const sep = currentLang() === "sv" ? "." : ":";
  return `${String(h).padStart(2, "0")}${sep}${String(m).padStart(2, "0")}`;
}

/** "09.30–11.30", or just "09.30" without an end: never a dangling dash. */
export function formatTimeRange(start, end) {
  const first = formatTime(start);
  const last = formatTime(end);
  if (!first) return "";
  return last ? `${first}–${last}` : first;
}

/** A date written out: "tisdag 5 maj 2020", "Tuesday 5 May 2020". Takes "YYYY-MM-DD". */
export function formatDate(iso) {
  if (!iso) return "";
  const [y, mo, d] = iso.slice(0, 10).split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  })
    .format(new Date(y, mo - 1, d))
    .replace(",", "");
}

/**
 * Re-translate every element that declares its key with data-i18n (a count when it also
 * has data-i18n-count="n") or data-i18n-attr="attr:key,...".
 */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const vars = node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : {};
    // data-i18n-count: the element shows a count (a form per plural category).
    node.textContent =
      node.dataset.i18nCount === undefined
        ? t(node.dataset.i18n, vars)
        : count(node.dataset.i18n, Number(node.dataset.i18nCount), vars);
  }
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Call back after every language switch so pages can re-render dynamic parts. */
export function onLanguageChange(callback) {
  listeners.add(callback);
}

async function switchTo(lang) {
  const response = await fetch(`/i18n/${encodeURIComponent(lang)}.json`);
  if (!response.ok) return;
  strings = await response.json();
  const previous = currentLang();
  document.documentElement.lang = lang;
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `lang=${lang}; path=/; max-age=31536000; SameSite=Lax${secure}`;
  const button = document.getElementById("lang-switch");
  if (button) {
    button.dataset.lang = previous;
    button.lang = previous;
  }
  applyI18n();
  for (const callback of listeners) callback(lang);
}

const button = document.getElementById("lang-switch");
if (button) {
  button.addEventListener("click", () => switchTo(button.dataset.lang));
}
