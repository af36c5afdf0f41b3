// The moderator console's shared state: one small object made by moderator.js and passed
// to the panels that need it, instead of module-level variables in each file.
import { toast, errorText } from "./ui.js";
import { SessionModel } from "./model.js";

/** The state every panel reads; moderator.js replaces `live` and `key` as the connection goes. */
export function consoleState(session) {
  return {
    session,
    model: new SessionModel(),
    live: null, // the connection; null when there is none, and controls then send nothing
    ready: false, // the first snapshot has come
    key: null, // the moderator key in use; replaced when the moderator makes a new one
    tab: null, // chosen from the first snapshot, then by the moderator
    order: "votes", // the live tab's order: "votes" or "balanced" (fairness.js)
    itemFilter: "", // the queue's agenda item: "" all (the current item's first), an item id, "none"
    editing: new Map(), // question id -> draft text, kept across redraws
    inflight: new Set(), // requests not answered yet: a double tap sends once
  };
}

/** send(message) resolves with the server's ack (truthy), or false when the request was refused. */
export function sender(state) {
  return async function send(message) {
    const sig = JSON.stringify(message);
    if (!state.live || state.inflight.has(sig)) return false;
    state.inflight.add(sig);
    try {
      return (await state.live.request(message)) ?? true;
    } catch (error) {
      toast(() => errorText(error));
      return false;
    } finally {
      state.inflight.delete(sig);
    }
  };
}
