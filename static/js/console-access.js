// The console's Access panel: lock questions, close the session, a new join code and a
// new moderator link (each with a confirm step), and the header's flags and join code.
import { t } from "./i18n.js";
import { toast } from "./ui.js";

const $ = (id) => document.getElementById(id);

export class AccessPanel {
  /**
   * send(message) makes a request (resolves with the ack, or false); announce(text) says
   * it to screen readers; onNewKey(key) puts a new moderator key in use at once.
   */
  constructor({ model, root, session, send, announce, onNewKey }) {
    this.model = model;
    this.root = root;
    this.session = session;
    this.send = send;
    this.announce = announce;
    this.onNewKey = onNewKey;
  }

  render() {
    const session = this.model.session;
    if (!session) return;
    const locked = Boolean(session.locked);
    const closed = Boolean(session.closed);
    $("lock-questions").checked = locked;
    $("close-session").checked = closed;
    $("flag-locked").hidden = !locked || closed; // closed says more than locked
    $("flag-closed").hidden = !closed;
    this.root.dataset.locked = String(locked);
    this.root.dataset.closed = String(closed);
    if (session.join_code) this.showJoinCode(session.join_code);
  }

  /** The top bar's code and links follow the session's join code when it is replaced. */
  showJoinCode(code) {
    const root = this.root;
    if (root.dataset.code === code && $("join-code").textContent === code) return;
    const previous = root.dataset.code;
    root.dataset.code = code;
    $("join-code").textContent = code;
    $("link-screen").href = `/screen/${encodeURIComponent(code)}`;
    const participant = $("link-participant");
    participant.href = participant.href.replace(/\/j\/[^/?#]*/, `/j/${encodeURIComponent(code)}`);
    if (previous && previous !== code) this.announce(t("access.code_changed", { code }));
  }

  // A confirm step in a modal dialog whose title is the question; resolves true when the
  // moderator confirms. The keys stay on the nodes so a language switch retranslates them.
  confirm(titleKey, textKey, okKey) {
    const dialog = $("access-confirm");
    for (const [id, key] of [["access-confirm-heading", titleKey], ["access-confirm-text", textKey], ["access-confirm-ok", okKey]]) {
      $(id).dataset.i18n = key;
      $(id).textContent = t(key);
    }
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      $("access-confirm-cancel").focus(); // the safe choice first
    });
  }

  // The new key must be in use (and kept) before the server closes this connection, which
  // it does right after the ack: the reconnect then joins with it.
  adoptKey(fresh) {
    this.onNewKey(fresh);
    const link = `${location.origin}/moderate/${encodeURIComponent(this.session)}#key=${encodeURIComponent(fresh)}`;
    $("new-mod-link").value = link;
    $("new-link-box").hidden = false;
    $("access-panel").open = true;
    toast(() => t("access.key_changed"), "info");
  }

  async copyModLink() {
    const field = $("new-mod-link");
    try {
      await navigator.clipboard.writeText(field.value);
      toast(() => t("access.copied"), "info");
    } catch {
      field.focus();
      field.select();
      toast(() => t("access.copy_failed"));
    }
  }

  wire() {
    const lock = $("lock-questions");
    lock.addEventListener("change", async () => {
      const ok = await this.send({ type: "session.lock", on: lock.checked });
      if (!ok) this.render();
    });
    const close = $("close-session");
    close.addEventListener("change", async () => {
      const on = close.checked;
      if (on && !(await this.confirm("access.confirm_close_title", "access.confirm_close", "access.confirm_close_ok"))) {
        this.render();
        close.focus();
        return;
      }
      const ok = await this.send({ type: "session.close", on });
      if (!ok) this.render();
      close.focus();
    });
    $("btn-new-code").addEventListener("click", async () => {
      if (!(await this.confirm("access.confirm_new_code_title", "access.confirm_new_code", "access.confirm_new_code_ok"))) {
        return;
      }
      const ack = await this.send({ type: "session.new_code" });
      if (ack?.join_code) this.showJoinCode(ack.join_code);
      $("btn-new-code").focus();
    });
    $("btn-rotate-key").addEventListener("click", async () => {
      if (!(await this.confirm("access.confirm_rotate_title", "access.confirm_rotate", "access.confirm_rotate_ok"))) return;
      const ack = await this.send({ type: "session.rotate_key" });
      if (!ack?.moderator_token) return;
      this.adoptKey(ack.moderator_token);
      $("new-mod-link").focus();
    });
    $("copy-mod-link").addEventListener("click", () => this.copyModLink());
  }
}
