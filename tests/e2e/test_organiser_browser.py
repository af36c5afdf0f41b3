"""The organiser pages in real Chromium: the first account's link, choosing a password,
signing in, the session page on a laptop and a tablet (both orientations), copying the
moderator invitation that a second browser opens to run the first item, settings and the
audit — each page checked with axe-core (WCAG 2.1 A/AA) and measured for clipping."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, TABLET, axe_violations, new_page, screenshot
from tests.e2e.organisers import PASSWORD, add_organiser, signed_in
from tests.serverproc import ServerProcess

SV = catalogue("sv")
NETWORK = "ledarskap-och-innovation"
SID = "ledarskap-2020-05-05"
PORTRAIT = {"width": 768, "height": 1024}
LONG_EMAIL = "anna-karin.lindqvist-ostergren.utvecklingsstrateg@regionvasterbotten.example.se"
expect.set_options(timeout=10_000)


async def accessible(page: Page) -> None:
    """No axe-core violations and no console errors on the page as it is (a form answered
    400/401 on purpose is logged by Chromium as a failed load: that one is expected)."""
    assert await axe_violations(page) == [], page.url
    errors = [
        e
        for e in page.console_errors  # type: ignore[attr-defined]
        if not e.startswith("Failed to load resource: the server responded with a status of 40")
    ]
    assert errors == [], errors


async def nothing_clipped(page: Page) -> None:
    """No horizontal scrolling, and every input, button and link inside the viewport width."""
    width = await page.evaluate("() => window.innerWidth")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
    boxes = await page.evaluate(
        """() => [...document.querySelectorAll('main input:not([type=hidden]), main button, main a')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                          return {id: e.id || e.textContent.trim().slice(0, 30), left: r.left, right: r.right}; })"""
    )
    clipped = [b for b in boxes if b["left"] < 0 or b["right"] > width + 0.5]
    assert clipped == [], clipped


async def test_signin_session_page_and_moderator_invitation(
    chrome: Browser, server: ServerProcess
) -> None:
    """From the printed link to a moderator running the first item in another browser."""
    link = add_organiser(server, "anna.andersson@kommun.se", NETWORK)
    context, page = await new_page(chrome, LAPTOP)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.http)

    # The one-time link: a button, then choose a password.
    await page.goto(link)
    await accessible(page)
    await page.get_by_role("button", name=SV["organise.continue"]).click()
    await expect(page.get_by_role("heading", name=SV["organise.password_title"])).to_be_visible()
    await page.get_by_label(SV["organise.password_new"], exact=True).fill("kort")
    await page.get_by_label(SV["organise.password_again"]).fill("kort")
    await page.get_by_role("button", name=SV["organise.password_save"]).click()
    await expect(page.locator("#f-password-error")).to_have_text(
        SV["organise.error_password_short"]
    )
    await accessible(page)
    await page.get_by_label(SV["organise.password_new"], exact=True).fill(PASSWORD)
    await page.get_by_label(SV["organise.password_again"]).fill(PASSWORD)
    await page.get_by_role("button", name=SV["organise.password_save"]).click()
    await expect(page.get_by_role("status")).to_contain_text(SV["organise.password_saved"])

    # Sign out, and in again with a wrong and then the right password.
    await page.get_by_role("button", name=SV["organise.sign_out"]).click()
    await expect(page.get_by_role("heading", name=SV["organise.sign_in"])).to_be_visible()
    await page.get_by_label(SV["organise.email"]).fill("anna.andersson@kommun.se")
    await page.get_by_label(SV["organise.password"], exact=True).fill("fel lösenord")
    await page.get_by_role("button", name=SV["organise.sign_in"]).click()
    await expect(page.locator("#signin-error")).to_have_text(SV["organise.error_signin"])
    await accessible(page)
    await screenshot(page, "organise-signin")
    await page.get_by_label(SV["organise.password"], exact=True).fill(PASSWORD)
    await page.get_by_role("button", name=SV["organise.sign_in"]).click()

    # The overview: the network's meetings with Swedish dates, then the session page.
    await expect(page.get_by_role("heading", name=SV["organise.networks_title"])).to_be_visible()
    await expect(page.locator(".organise-events").first).to_contain_text(
        "tisdag 5 maj 2020, 09.30–12.30"
    )
    await accessible(page)
    await nothing_clipped(page)
    await screenshot(page, "organise-networks")
    await page.locator(f"a[href='/organise/sessions/{SID}']").click()
    await expect(page.locator("#join-code")).to_have_text(server.access()[SID][0])
    await accessible(page)
    await nothing_clipped(page)
    await screenshot(page, "organise-session")

    # Copy the moderator invitation; another browser (no sign-in) opens the console from it.
    await page.locator("button[data-copy='moderator-link']").click()
    await expect(page.locator("#moderator-link-status")).to_have_text(SV["organise.copied"])
    invitation = await page.evaluate("() => navigator.clipboard.readText()")
    assert invitation == f"{server.http}/moderate/{SID}#key={server.access()[SID][1]}"
    _, console = await new_page(chrome, TABLET)
    await console.goto(invitation)
    await expect(console.locator("body")).to_have_attribute("data-connection", "live")
    await console.locator("#btn-next").click()
    await expect(console.locator("#current-title")).to_have_text("Välkommen")

    # A new moderator link: the open console is closed, the page shows the new link.
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name=SV["organise.moderator_new"]).click()
    await expect(page.locator("#moderator").get_by_role("status").first).to_have_text(
        SV["organise.moderator_saved"]
    )
    new_link = await page.locator("#moderator-link").input_value()
    assert new_link != invitation and server.access()[SID][1] in new_link
    await expect(console.locator("#need-key")).to_be_visible()

    # Settings: anonymous questions off and an own word; saved, shown again, audited.
    await page.get_by_label(SV["organise.setting_anonymous"]).uncheck()
    await page.get_by_label(SV["organise.setting_extra_words"]).fill("skatt*")
    await page.get_by_role("button", name=SV["organise.settings_save"]).click()
    await expect(page.locator("#settings .notice")).to_have_text(SV["organise.settings_saved"])
    await expect(page.get_by_label(SV["organise.setting_anonymous"])).not_to_be_checked()
    await expect(page.get_by_label(SV["organise.setting_extra_words"])).to_have_value("skatt*")
    await page.goto(f"{server.http}/organise/networks/{NETWORK}/audit")
    rows = page.locator("table.audit tbody tr")
    await expect(rows.first).to_have_attribute("data-what", "session.settings")
    await expect(rows.nth(1)).to_have_attribute("data-what", "session.moderator_link")
    await expect(rows.first).to_contain_text("anna.andersson@kommun.se")
    await accessible(page)
    await nothing_clipped(page)
    await screenshot(page, "organise-audit")

    # The QR code downloads as a PNG.
    await page.goto(f"{server.http}/organise/sessions/{SID}")
    async with page.expect_download() as download:
        await page.get_by_role("link", name=SV["organise.qr_png"]).click()
    assert (await download.value).suggested_filename == f"qr-{server.access()[SID][0]}.png"


@pytest.mark.parametrize("viewport", [PORTRAIT, TABLET], ids=["portrait", "landscape"])
async def test_session_page_on_a_tablet(
    chrome: Browser, server: ServerProcess, viewport: dict[str, int]
) -> None:
    """On a tablet, both ways round: nothing clipped, the moderator invitation and its copy
    button on the first screen, no axe violations; in English too."""
    # A long address, as public-sector ones are: it must wrap, not push the menu away.
    link = add_organiser(server, LONG_EMAIL, NETWORK)
    _, page = await new_page(chrome, viewport)
    await page.goto(link)
    await page.get_by_role("button", name=SV["organise.continue"]).click()
    await page.goto(f"{server.http}/organise/sessions/{SID}")
    await expect(page.locator("#join-code")).to_be_visible()
    await nothing_clipped(page)
    copy = page.locator("button[data-copy='moderator-link']")
    box = await copy.bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"], box
    await accessible(page)
    name = "portrait" if viewport is PORTRAIT else "landscape"
    await screenshot(page, f"organise-session-tablet-{name}")
    await page.locator("#lang-switch").click()
    await expect(page.get_by_role("heading", name="Moderator invitation")).to_be_visible()
    await nothing_clipped(page)
    await accessible(page)
    # The organisers page with an invitation made, in English.
    await page.goto(f"{server.http}/organise/networks/{NETWORK}/organisers")
    await page.get_by_label("Email address").fill("bo.nilsson@region.example.se")
    await page.get_by_role("button", name="Make an invitation").click()
    await expect(page.locator("#invitation-link")).to_have_value(
        re.compile("/organise/invitation/")
    )
    await page.get_by_label("Email address").fill("inte en adress")
    await page.get_by_role("button", name="Make an invitation").click()
    await expect(page.locator("#f-email-error")).to_be_visible()
    await nothing_clipped(page)
    await accessible(page)


async def test_anonymous_questions_off_reaches_an_open_phone(
    chrome: Browser, server: ServerProcess
) -> None:
    """The organiser turns anonymous questions off: a phone that joined without a name is
    shown the way back to give one (no reload), a phone with a name asks with it."""
    code = server.access()[SID][0]
    phones = {}
    for name in ("", "Anna Berg"):
        _, phone = await new_page(chrome, {"width": 360, "height": 740})
        await phone.goto(f"{server.http}/j/{code}")
        await phone.check("input[name=where][value=room]")
        await phone.fill("#join-name", name)
        await phone.click("#join-form button[type=submit]")
        await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
        await expect(phone.locator("#name-needed")).to_be_hidden()
        phones[name] = phone
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    saved = anna.post(f"/organise/sessions/{SID}/settings", {"word_filter": "on", "stream": "on"})
    assert saved.status_code == 303
    nameless, named = phones[""], phones["Anna Berg"]
    await expect(nameless.locator("#name-needed")).to_be_visible()
    await expect(nameless.locator("#name-needed a")).to_have_attribute("href", f"/j/{code}")
    await nameless.fill("#question-text", "Får jag fråga utan namn?")
    await nameless.click("#ask-submit")
    await expect(nameless.locator("#toast")).to_have_text(SV["error.name_required"])
    await expect(named.locator("#show-name")).to_be_checked()
    await expect(named.locator("#show-name")).to_be_disabled()
    await named.fill("#question-text", "Och med namn?")
    await named.click("#ask-submit")
    await expect(named.locator("#toast")).to_have_text(SV["questions.sent"])
    await expect(named.locator("li.question.mine .q-name")).to_have_text("Anna Berg")
