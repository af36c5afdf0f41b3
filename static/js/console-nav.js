// The console's bar on narrow screens (a tablet in portrait): one panel at a time, one tap
// between them, a badge on Questions with how many wait for review and one on "Vill prata"
// with how many hands are raised. In two columns there is no bar: the head's "11 vill prata"
// says it instead, and a press shows the hands (their heading starts low in the left column).
import { count, formatNumber } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class ConsoleNav {
  constructor({ grid, nav }) {
    this.grid = grid; // its data-view picks the panel shown (CSS, below 56rem)
    this.nav = nav;
    for (const button of nav.querySelectorAll("[data-view]")) {
      button.addEventListener("click", () => this.show(button.dataset.view));
    }
    $("head-hands").addEventListener("click", () => {
      const heading = $("hands-heading");
      heading.scrollIntoView({ block: "start" });
      heading.focus({ preventScroll: true });
    });
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

  /** Questions waiting for review. */
  setPending(n) {
    setBadge($("nav-pending"), "moderator.nav_pending", n);
  }

  /** Hands raised and not yet invited. */
  setHands(n) {
    setBadge($("nav-hands"), "moderator.nav_hands", n);
    const head = $("head-hands");
    head.hidden = n === 0;
    head.textContent = count("moderator.nav_hands", n);
  }
}

function setBadge(badge, key, n) {
  badge.hidden = n === 0;
  badge.querySelector(".nav-badge-n").textContent = formatNumber(n);
  badge.querySelector(".visually-hidden").textContent = count(key, n);
}
