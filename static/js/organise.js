// Organiser pages: server-rendered forms; this module only adds the conveniences.
import { onLanguageChange, t } from "./i18n.js";

// Every string of these pages is drawn on the server: after a language switch
// (which sets the cookie) draw the page again in the new language.
onLanguageChange(() => location.reload());

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
