"""The privacy notice and the accessibility statement in real Chromium: linked from the
landing, join and participant pages, in Swedish and English, with the controller and
contacts the installation configures, readable at 320 px and free of axe violations."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import PHONE, axe_violations, chromium, new_page
from tests.e2e.conftest import SESSION, Room
from tests.serverproc import ServerProcess

NARROW = {"width": 320, "height": 640}
CONTROLLER = "Ledarnätverket i Region Exempel"
PRIVACY_CONTACT = "dataskydd@example.se"
A11Y_CONTACT = "https://example.se/tillganglighet"
CONFIGURED = {
    "COMPANION_CONTROLLER_NAME": CONTROLLER,
    "COMPANION_CONTROLLER_CONTACT": PRIVACY_CONTACT,
    "COMPANION_ACCESSIBILITY_CONTACT": A11Y_CONTACT,
    "COMPANION_ACCESSIBILITY_UPDATED": "30 november 2026",
    "COMPANION_RETENTION_DAYS": "60",
}


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose operator named the controller and the contacts."""
    server = ServerProcess(tmp_path, extra_env=dict(CONFIGURED))
    assert server.import_programme().returncode == 0
    server.start()
    yield server
    server.stop()


async def readable(page: Page, where: str) -> None:
    """Nothing scrolls sideways at this width, and axe finds no WCAG 2.1 A/AA violation."""
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None and width <= viewport["width"], (where, width)
    found = await axe_violations(page)
    assert found == [], f"{where}: {json.dumps(found, ensure_ascii=False, indent=1)}"


async def test_notice_and_statement_are_linked_configured_and_readable_at_320px(
    configured: ServerProcess,
) -> None:
    """From the landing, join, phone and remote pages a person follows "Personuppgifter"
    and "Tillgänglighet"; both pages name the configured controller and contacts, the
    statement has the parts Swedish public bodies publish (status, gaps, reporting, DIGG),
    and both read at 320 px without sideways scrolling or axe violations, in sv and en."""
    code = configured.access()[SESSION][0]
    sv, en = catalogue("sv"), catalogue("en")
    async with chromium() as browser:
        _, phone = await new_page(browser, PHONE)
        for path in ("/", f"/j/{code}", f"/room/{code}", f"/remote/{code}"):
            await phone.goto(configured.http + path)
            links = phone.locator("nav.legal-links")
            await expect(links).to_have_attribute("aria-label", sv["legal.nav"])
            await expect(links.get_by_role("link", name=sv["legal.privacy"])).to_be_visible()
            await expect(links.get_by_role("link", name=sv["legal.accessibility"])).to_be_visible()

        await phone.goto(f"{configured.http}/room/{code}")
        await phone.locator("nav.legal-links").get_by_role("link", name=sv["legal.privacy"]).click()
        await phone.wait_for_url("**/privacy")
        await expect(phone.locator("h1")).to_have_text(sv["privacy.title"])
        await phone.go_back()
        await (
            phone.locator("nav.legal-links")
            .get_by_role("link", name=sv["legal.accessibility"])
            .click()
        )
        await phone.wait_for_url("**/accessibility")
        await expect(phone.locator("h1")).to_have_text(sv["accessibility.title"])

        for locale, words in (("sv-SE", sv), ("en-GB", en)):
            _, page = await new_page(browser, NARROW, locale=locale)
            await page.goto(f"{configured.http}/privacy")
            main = page.locator("main")
            await expect(page.locator("h1")).to_have_text(words["privacy.title"])
            await expect(main).to_contain_text(
                words["privacy.controller"].replace("{name}", CONTROLLER)
            )
            for key in ("stored_heading", "why_heading", "who_heading", "how_long_heading"):
                await expect(main.locator("h2", has_text=words[f"privacy.{key}"])).to_be_visible()
            await expect(main).to_contain_text(words["privacy.who_anonymous"])
            await expect(main).to_contain_text(words["privacy.how_long"].replace("{days}", "60"))
            await expect(main).to_contain_text(
                words["privacy.device_expiry"].replace("{days}", "30")
            )
            mail = main.get_by_role("link", name=PRIVACY_CONTACT).first
            await expect(mail).to_have_attribute("href", f"mailto:{PRIVACY_CONTACT}")
            await readable(page, f"privacy {locale}")

            await page.goto(f"{configured.http}/accessibility")
            await expect(page.locator("h1")).to_have_text(words["accessibility.title"])
            await expect(main).to_contain_text(
                words["accessibility.owner"].replace("{name}", CONTROLLER)
            )
            for key in ("status", "gaps_heading", "report_heading", "enforcement"):
                await expect(main).to_contain_text(words[f"accessibility.{key}"])
            await expect(main).to_contain_text("Myndigheten för digital förvaltning")
            digg = main.get_by_role("link", name=words["accessibility.enforcement_link"])
            await expect(digg).to_have_attribute("href", "https://www.digg.se/tdosanmalan")
            contact = main.get_by_role("link", name=A11Y_CONTACT).first
            await expect(contact).to_have_attribute("href", A11Y_CONTACT)
            await expect(main).to_contain_text("30 november 2026")
            await readable(page, f"accessibility {locale}")
            assert page.console_errors == []  # type: ignore[attr-defined]


async def test_without_configuration_the_pages_point_to_the_meetings_organiser(
    room: Room,
) -> None:
    """With nothing configured, the pages name no invented controller: they say it is the
    organisation that runs the meeting and to contact whoever organises it."""
    sv = catalogue("sv")
    for path, keys in (
        ("/privacy", ("privacy.controller_unset", "legal.contact_unset")),
        ("/accessibility", ("accessibility.owner_unset", "legal.contact_unset")),
    ):
        request = urllib.request.Request(room.server.http + path, headers={"Accept-Language": "sv"})
        with urllib.request.urlopen(request, timeout=10) as response:
            html = response.read().decode()
        for key in keys:
            assert sv[key] in html, (path, key)
        assert "mailto:" not in html
