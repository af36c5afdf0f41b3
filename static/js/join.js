// The join step: room or remote, optional name; both remembered on this device.
import { remember } from "./ui.js";

const page = document.querySelector(".join-page");
const form = document.getElementById("join-form");
const code = page.dataset.code;
const saved = remember.get("profile", {});
if (saved.where) form.elements.where.value = saved.where;
if (saved.name) form.elements.name.value = saved.name;

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const where = form.elements.where.value === "remote" ? "remote" : "room";
  const name = form.elements.name.value.trim().slice(0, form.elements.name.maxLength); // the server's limit
  remember.set("profile", { where, name });
  location.assign(`/${where}/${encodeURIComponent(code)}`);
});
