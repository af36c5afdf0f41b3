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

/** Re-translate every element that declares its key with data-i18n / data-i18n-attr. */
export function applyI18n(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n, node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars) : {});
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
