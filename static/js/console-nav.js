// The console's bar on narrow screens (a tablet in portrait): one panel at a time, one tap
// between them, and a badge on Questions with how many wait for review.
import { count, formatNumber } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class ConsoleNav {
  constructor({ grid, nav }) {
    this.grid = grid; // its data-view picks the panel shown (CSS, below 56rem)
    this.nav = nav;
    for (const button of nav.querySelectorAll("[data-view]")) {
      button.addEventListener("click", () => this.show(button.dataset.view));
    }
  }

  show(name) {
    this.grid.dataset.view = name;
    for (const button of this.nav.querySelectorAll("[data-view]")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === name));
    }
    if (name === "access") $("access-panel").open = true;
    // Scrolled down in the previous panel: start the new one at its top, under the bar.
    if (this.grid.getBoundingClientRect().top < 0) this.grid.scrollIntoView({ block: "start" });
  }

  setPending(n) {
    const badge = $("nav-pending");
    badge.hidden = n === 0;
    badge.querySelector(".nav-badge-n").textContent = formatNumber(n);
    badge.querySelector(".visually-hidden").textContent = count("moderator.nav_pending", n);
  }
}
