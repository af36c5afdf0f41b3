"""Measurements behind the accessibility guarantees, run in a page as it is: touch targets
(WCAG 2.5.5, 44×44 CSS px), reflow (WCAG 1.4.10: no sideways scrolling, nothing clipped)
and where keyboard focus is."""

from __future__ import annotations

from playwright.async_api import Page

TARGET = 44  # CSS px, both ways

# Every visible interactive element's box; a checkbox or radio is measured by its label
# (the label is what a finger hits, and it toggles the input). Links inside a sentence are
# left out: WCAG 2.5.5's "inline" exception, their size is set by the line of text.
_TARGETS = """(min) => {
  const seen = [];
  const visible = (e) => {
    const s = getComputedStyle(e);
    return e.getClientRects().length > 0 && s.visibility !== 'hidden' && !e.closest('[hidden], [inert]');
  };
  const inline = (e) => {
    if (e.tagName !== 'A') return false;
    const parent = e.parentElement;
    const text = parent ? parent.textContent.replace(e.textContent, '').trim() : '';
    return getComputedStyle(e).display === 'inline' && text.length > 0
      && ['P', 'LI', 'SPAN', 'SMALL', 'DD', 'TD'].includes(parent.tagName) && parent.children.length < 4 && text.length > 12;
  };
  const name = (e) => (e.id ? '#' + e.id : e.tagName.toLowerCase())
    + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + (e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 30) + '"';
  const query = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex="-1"])';
  for (const e of document.querySelectorAll(query)) {
    if (!visible(e) || e.disabled || inline(e)) continue;
    let box = e.getBoundingClientRect();
    if (e.type === 'checkbox' || e.type === 'radio') {
      const label = e.closest('label') || (e.id && document.querySelector(`label[for="${e.id}"]`));
      if (label) box = label.getBoundingClientRect();
    }
    if (box.width < min - 0.5 || box.height < min - 0.5) {
      seen.push(`${name(e)} ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return seen;
}"""


async def small_targets(page: Page) -> list[str]:
    """Interactive elements smaller than 44×44 CSS px, named with their size."""
    return await page.evaluate(_TARGETS, TARGET)


# Sideways scrolling of the document, and any visible text container or control that
# reaches outside the viewport or has its own content cut off (overflow hidden/clip with
# more content than room). Elements inside a box that scrolls on purpose are left alone.
_REFLOW = """() => {
  const width = window.innerWidth;
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > width) found.push(`document ${doc.scrollWidth} > ${width}`);
  const query = 'h1, h2, h3, h4, p, li, label, button, a, input, select, textarea, summary, dt, dd, td, th, legend, span, strong, small, output';
  const scroller = (e) => {
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll'].includes(s.overflowX)) return true;
    }
    return false;
  };
  const name = (e) => (e.id ? '#' + e.id : e.tagName.toLowerCase())
    + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + (e.textContent || e.value || '').trim().slice(0, 30) + '"';
  for (const e of document.querySelectorAll(query)) {
    if (e.getClientRects().length === 0 || getComputedStyle(e).visibility === 'hidden') continue;
    if (e.closest('.visually-hidden, .skip-link:not(:focus), [hidden]') || scroller(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < -0.5 || r.right > width + 0.5) {
      found.push(`${name(e)} outside: ${Math.round(r.left)}..${Math.round(r.right)} of ${width}`);
      continue;
    }
    const s = getComputedStyle(e);
    const cuts = ['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflowY);
    if (cuts && !['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName)
        && (e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)) {
      found.push(`${name(e)} clipped: ${e.scrollWidth}×${e.scrollHeight} in ${e.clientWidth}×${e.clientHeight}`);
    }
  }
  return found;
}"""


async def reflow_problems(page: Page) -> list[str]:
    """Sideways scrolling, and text or controls outside the viewport or cut off."""
    return await page.evaluate(_REFLOW)


async def focused(page: Page) -> dict[str, object]:
    """The focused element: its tag, id, data-action and the id of its question row."""
    return await page.evaluate(
        """() => { const a = document.activeElement;
            const row = a && a.closest ? a.closest('[data-id]') : null;
            return {tag: a ? a.tagName : null, id: a ? a.id : null,
                    action: a && a.dataset ? a.dataset.action || null : null,
                    row: row ? row.dataset.id : null}; }"""
    )
