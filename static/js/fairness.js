// Hybrid fairness in the console: the balanced question order and the nudge. The same
// rules as companion/domain/fairness.py (its docstrings say why); the console runs them
// here because presence and the clock change between events. Tests hold both to one order.

export const AUDIENCES = ["room", "remote"];

function byVotes(a, b) {
  return b.votes - a.votes || a.asked_at - b.asked_at || a.id - b.id;
}

/** The questions in balanced order, given the number present in each audience. */
export function balancedOrder(questions, present) {
  const lines = Object.fromEntries(AUDIENCES.map((a) => [a, questions.filter((q) => q.where === a).sort(byVotes)]));
  const n = (a) => present[a] ?? 0;
  const weighed = AUDIENCES.filter((a) => lines[a].length && n(a) > 0);
  const unweighed = AUDIENCES.filter((a) => lines[a].length && n(a) <= 0);
  // Compare votes/present exactly, by cross-multiplying, as the server's Fractions do.
  weighed.sort((a, b) => {
    const [x, y] = [lines[a][0], lines[b][0]];
    return y.votes * n(a) - x.votes * n(b) || x.asked_at - y.asked_at || AUDIENCES.indexOf(a) - AUDIENCES.indexOf(b);
  });
  const queues = weighed.map((a) => [...lines[a]]);
  const order = [];
  while (queues.some((queue) => queue.length)) {
    for (const queue of queues) if (queue.length) order.push(queue.shift());
  }
  for (const a of unweighed) order.push(...lines[a]);
  return order;
}

/** The audiences with live questions waiting and none of theirs answered for `minutes`. */
export function nudges(questions, now, minutes) {
  if (!(minutes > 0)) return [];
  const found = [];
  for (const where of AUDIENCES) {
    const mine = questions.filter((q) => q.where === where);
    const waiting = mine.filter((q) => q.status === "live" || q.status === "highlighted").map((q) => q.asked_at);
    if (!waiting.length) continue;
    const answers = mine.filter((q) => q.answered_at != null).map((q) => q.answered_at);
    const since = Math.max(Math.min(...waiting), ...answers);
    if (now - since >= minutes * 60) found.push(where);
  }
  return found;
}
