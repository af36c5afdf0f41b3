"""Headless Chromium (Debian's) through Playwright, for browser tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = os.environ.get("COMPANION_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("COMPANION_TEST_OUTPUT", ROOT / "build" / "test-output"))
# Screenshots go to a git-ignored build folder, so a test run never modifies tracked files;
# scripts/screenshots.sh points this at docs/screenshots to refresh the README's pictures.
SCREENSHOTS = Path(os.environ.get("COMPANION_SCREENSHOTS", ROOT / "build" / "screenshots"))

PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 1024, "height": 768}
SCREEN = {"width": 1920, "height": 1080}


@asynccontextmanager
async def chromium(extra_flags: list[str] | None = None) -> AsyncIterator[Browser]:
    """A launched headless Chromium, closed afterwards."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*FLAGS, *(extra_flags or [])]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(
    browser: Browser, viewport: dict[str, int], locale: str = "sv-SE", **options: object
) -> tuple[BrowserContext, Page]:
    """A fresh context (its own storage) at a viewport, with console errors collected."""
    context = await browser.new_context(viewport=viewport, locale=locale, **options)
    page = await context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None,  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))  # type: ignore[attr-defined]
    return context, page


async def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of the viewport in the screenshots folder (build/screenshots unless
    COMPANION_SCREENSHOTS says otherwise)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path


# axe-core from npm, installed by scripts/test.sh into the git-ignored build/axe.
AXE = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def axe_violations(page: Page) -> list[dict[str, object]]:
    """WCAG 2.1 A/AA violations axe-core finds on the page as it is now.

    Injected with `page.evaluate` (DevTools), so the page's CSP, which allows no inline
    script, stays as it is."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text("utf-8"))
    return await page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }""",
        WCAG21_AA,
    )
