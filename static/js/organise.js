// Organiser pages: server-rendered forms; this module only adds the conveniences.
import { onLanguageChange, t } from "./i18n.js";

// Every string of these pages is drawn on the server: after a language switch
// (which sets the cookie) draw the page again in the new language.
// A page drawn in answer to a form would be posted again by reload(): the editor's pages
// name their own address, which is opened instead.
onLanguageChange(() => {
  const page = document.querySelector("meta[name='companion-page']")?.content;
  if (page) location.replace(page);
  else location.reload();
});

// Copy buttons: <button data-copy="ID"> copies the value of the input #ID.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(`${button.dataset.copy}-status`);
    let copied = false;
    try {
      await navigator.clipboard.writeText(field.value);
      copied = true;
    } catch {
      field.select();
    }
    if (status) status.textContent = t(copied ? "organise.copied" : "organise.copy_select");
  });
}

// Buttons that need a second thought: <form data-confirm="catalogue.key">.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(t(form.dataset.confirm))) event.preventDefault();
  });
}

// A form answered with errors: take the reader to the first field to fix (its error is
// right above it and is read out with it through aria-describedby).
const invalid = document.querySelector("main [aria-invalid='true']");
if (invalid) invalid.focus();

// After "up" or "down", the moved row's same button has the focus again (the other one
// at either end), so a keyboard user can keep moving it.
const moved = new URLSearchParams(location.search).get("moved");
const movedRow = moved && location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
if (movedRow?.classList.contains("child-row")) {
  const buttons = [...movedRow.querySelectorAll("button[name='offset']")];
  const button = buttons.find((b) => b.value === moved && !b.disabled) ?? buttons.find((b) => !b.disabled);
  // After the load, when the browser has scrolled to the row (which would reset the focus).
  const focus = () => setTimeout(() => button?.focus(), 0);
  if (document.readyState === "complete") focus();
  else window.addEventListener("load", focus, { once: true });
}
