"""The big screen of the room in a real browser at 1920x1080."""

from __future__ import annotations

from playwright.async_api import expect

from companion.web.i18n import catalogue
from tests.e2e.browser import SCREEN, chromium, new_page, screenshot
from tests.e2e.conftest import Room

SV = catalogue("sv")
EN = catalogue("en")


async def test_screen_shows_code_current_item_and_highlighted_question(room: Room) -> None:
    """The screen shows the join code and QR code, follows the agenda, and shows the highlighted question in large type."""
    moderator = await room.moderator()
    anna = await room.participant("room", name="Anna Berg")
    await room.participant("remote")
    text = "Vilka mått använder ESV för att följa upp kulturförändringen?"
    ack = await anna.request({"type": "ask", "text": text, "name": "Anna Berg"})
    async with chromium() as browser:
        _, page = await new_page(browser, SCREEN)
        errors: list[str] = page.console_errors  # type: ignore[attr-defined]
        await page.goto(f"{room.server.http}/screen/{room.code}")
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")

        await expect(page.locator("#screen-code")).to_have_text(room.code)
        qr = page.locator("img#screen-qr")
        await expect(qr).to_have_attribute("src", f"/qr/{room.code}.svg")
        await expect(qr).to_have_attribute("alt", SV["screen.qr_alt"])
        await page.wait_for_function(
            "document.getElementById('screen-qr').complete", timeout=10_000
        )
        assert await qr.evaluate("img => img.naturalWidth") > 0
        await expect(page.locator("#screen-url")).to_contain_text(f"/j/{room.code}")
        await expect(page.locator("#screen-count")).to_have_text("2")
        await expect(page.locator("#screen-current")).to_have_text(SV["common.no_current_item"])
        await expect(page.locator("#screen-question .q-empty")).to_have_text(
            SV["screen.no_question"]
        )

        for _ in range(2):
            await moderator.request({"type": "agenda.next"})
        await expect(page.locator("#screen-current")).to_have_text("En myndighets förändringsresa")
        await expect(page.locator("#screen-speakers")).to_contain_text("Clas Olsson")

        await moderator.request({"type": "question.highlight", "question": ack["question"]})
        shown = page.locator("#screen-question .q-text")
        await expect(shown).to_have_text(text)
        await expect(page.locator("#screen-question .q-name")).to_have_text("Anna Berg")
        size = await shown.evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
        assert size >= 48
        box = await shown.bounding_box()
        assert box and box["y"] + box["height"] <= SCREEN["height"]  # fits without scrolling
        await screenshot(page, "screen")

        await moderator.request({"type": "break.start", "minutes": 15})
        await expect(page.locator("#screen-break")).to_contain_text(
            SV["common.break_until"].split("{")[0].strip()
        )
        await moderator.request({"type": "break.end"})
        await expect(page.locator("#screen-break")).to_be_hidden()

        await page.click("#lang-switch")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#screen-scan")).to_have_text(EN["screen.scan"])
        await expect(qr).to_have_attribute("alt", EN["screen.qr_alt"])
        await moderator.request({"type": "question.unhighlight", "question": ack["question"]})
        await expect(page.locator("#screen-question .q-empty")).to_have_text(
            EN["screen.no_question"]
        )
        assert errors == []
