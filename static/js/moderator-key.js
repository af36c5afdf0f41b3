// The moderator key of one session on this device, shared by the console and the camera
// page. It arrives in the link's fragment (never sent over HTTP), is kept in this tab
// (sessionStorage) and for every tab of the device (localStorage) so a reload without the
// fragment still works, and is then taken out of the address bar.

export class ModeratorKey {
  constructor(session) {
    this.name = `companion.modkey.${session}`;
  }

  /** The key from the address's fragment (kept, and removed from the address), else the kept one. */
  take() {
    const fromUrl = new URLSearchParams(location.hash.slice(1)).get("key");
    if (fromUrl) {
      this.write(fromUrl);
      history.replaceState(history.state, "", location.pathname + location.search);
      return fromUrl;
    }
    return this.read();
  }

  read() {
    for (const storage of [sessionStorage, localStorage]) {
      try {
        const key = storage.getItem(this.name);
        if (key) return key;
      } catch {
        /* storage blocked: only the fragment works */
      }
    }
    return null;
  }

  write(key) {
    for (const storage of [sessionStorage, localStorage]) {
      try {
        storage.setItem(this.name, key);
      } catch {
        /* private mode: this tab still has it in memory */
      }
    }
  }

  /** Forget the key; with `only`, only where that key is kept (another tab of this device
   * may already have stored a newer one). */
  clear(only = null) {
    for (const storage of [sessionStorage, localStorage]) {
      try {
        if (only === null || storage.getItem(this.name) === only) storage.removeItem(this.name);
      } catch {
        /* nothing kept */
      }
    }
  }

  /** The key kept for every tab of this device (localStorage), or null. */
  shared() {
    try {
      return localStorage.getItem(this.name);
    } catch {
      return null;
    }
  }
}
