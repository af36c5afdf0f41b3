// Keeping keyboard focus in place while the console redraws its lists (questions, agenda).
// Rows are rebuilt when they change; put focus back on the same control (or a neighbour)
// so keyboard and switch users keep their place.
/**
 * Run draw(), which may rebuild the rows of `container`, and put focus back where it was.
 * onLost(): where focus goes when the container has no control left (optional).
 */
export function redrawKeepingFocus(container, draw, onLost = null) {
  const active = document.activeElement;
  if (!active || active === document.body || !container.contains(active)) {
    draw();
    return;
  }
  const row = active.closest("li");
  const rowKey = row?.dataset.id ?? row?.dataset.item;
  const index = row ? [...container.children].indexOf(row) : -1;
  const action = active.dataset.action;
  const selection = active.tagName === "TEXTAREA" ? [active.selectionStart, active.selectionEnd] : null;
  draw();
  if (document.activeElement === active) return;
  const attr = row?.dataset.id !== undefined ? "data-id" : "data-item";
  const sameRow = rowKey === undefined ? null : container.querySelector(`li[${attr}="${CSS.escape(rowKey)}"]`);
  // Kept but moved (re-sorted) nodes lose focus too; otherwise the same control in the
  // same row, else the nearest row that still has a control.
  const rows = [...container.children];
  const start = Math.max(0, Math.min(index, rows.length - 1));
  const near = [...rows.slice(start), ...rows.slice(0, start).reverse()];
  const target =
    (active.isConnected ? active : null) ||
    (sameRow && action && visible(sameRow.querySelector(`[data-action="${action}"]`))) ||
    (sameRow && selection && sameRow.querySelector("textarea")) ||
    firstControl(sameRow) ||
    near.map(firstControl).find(Boolean);
  if (target) {
    target.focus();
    if (selection && target.tagName === "TEXTAREA") target.setSelectionRange(...selection);
  } else {
    onLost?.();
  }
}

export function visible(node) {
  return node && !node.hidden && !node.disabled ? node : null;
}

export function firstControl(node) {
  if (!node) return null;
  return [...node.querySelectorAll("button, textarea")].find((b) => !b.hidden && !b.disabled) ?? null;
}

