"""The member list and a members-only session in headless Chromium: the members page with
forty members (long names, long addresses) at 1280 px, nothing clipped, no axe-core
violation, a link made and revoked by clicking; the remote page refuses a visitor with
only the code (translated, accessible) and lets a member through their personal link in,
live, asking."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser import LAPTOP, axe_violations, new_page, screenshot
from tests.e2e.members import MEMBERS, NETWORK, SESSION, add_member, new_link, set_members_only
from tests.e2e.organisers import PASSWORD, signed_in
from tests.e2e.test_members_pages import upload
from tests.e2e.test_organiser_browser import nothing_clipped
from tests.serverproc import ServerProcess

pytestmark = pytest.mark.timeout(180)
expect.set_options(timeout=10_000)
LONG_NAME = "Anna-Karin Lindqvist-Östergren Wallenberg af Sandhamn"
LONG_EMAIL = "anna-karin.lindqvist-ostergren.utvecklingsstrateg@regionvasterbotten.example.se"
LONG_ORG = "Myndigheten för samhällsskydd och beredskap, enheten för strategisk utveckling"


def forty_members() -> bytes:
    rows = [f"{LONG_NAME};{LONG_EMAIL};{LONG_ORG};sv"]
    first = ["Åsa", "Björn", "Cecilia", "Dragan", "Elin", "Fatima", "Gustav", "Hanna"]
    last = ["Öberg", "Lindström", "Nyström", "Karlsson-Ek", "Andersson"]
    for i in range(39):
        name = f"{first[i % len(first)]} {last[i % len(last)]} {i}"
        rows.append(
            f"{name};m{i}@kommun{i % 7}.se;{'Region Stockholm' if i % 3 else ''};{'en' if i % 9 == 0 else 'sv'}"
        )
    return ("\ufeffNamn;E-post;Organisation;Språk\r\n" + "\r\n".join(rows) + "\r\n").encode()


async def test_the_members_page_with_forty_members(chrome: Browser, server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    answer = upload(anna, forty_members())
    assert answer.status_code == 200 and "40 nya medlemmar." in answer.text
    context, page = await new_page(chrome, LAPTOP)
    await page.goto(f"{server.http}/organise/signin")
    await page.fill("#f-email", "anna@kommun.se")
    await page.fill("#f-password", PASSWORD)
    await page.get_by_role("button", name="Logga in").click()
    await page.goto(server.http + MEMBERS)
    await expect(page.locator("#list-heading")).to_have_text("40 medlemmar")
    await expect(page.locator("tr[data-member]")).to_have_count(40)
    await nothing_clipped(page)
    assert await axe_violations(page) == []
    # The important controls of a row are on the first screen, inside the table's width,
    # each on one line (a button squeezed to a letter a line is clipped text).
    for button in await page.locator("tr[data-member] button").all():
        box = await button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"], box
        assert box["height"] <= 56, (await button.text_content(), box)
    first = await page.locator("tr[data-member]").first.locator("button").first.bounding_box()
    assert first and first["y"] + first["height"] <= LAPTOP["height"], first
    await screenshot(page, "organise-members-laptop")

    # A link made by clicking is shown once, to copy; revoking asks first.
    await page.get_by_role("button", name=f"Ny länk för {LONG_NAME}").click()
    link = page.locator("#member-link")
    value = await link.input_value()
    assert value.startswith(f"{server.http}/m/") and len(value) > len(server.http) + 40
    await expect(page.locator(".made-link")).to_contain_text(LONG_NAME)
    for button in await page.locator("tr[data-member] button").all():
        box = await button.bounding_box()
        assert box and box["height"] <= 56, (await button.text_content(), box)
    assert await axe_violations(page) == []
    await screenshot(page, "organise-members-link")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role(
        "button", name=f"Återkalla den personliga länken för {LONG_NAME}"
    ).click()
    await expect(page.locator("#members-done")).to_have_text(
        "Länken är återkallad. Den fungerar inte längre."
    )
    # A file with bad rows, chosen in the page's own form: each row named, nothing read.
    bad = b"Namn;E-post\nBo Ek;bo-at-kommun\n;ce@kommun.se\n"
    await page.set_input_files(
        "#csv-file", {"name": "fel.csv", "mimeType": "text/csv", "buffer": bad}
    )
    await page.get_by_role("button", name="Läs in medlemmarna").click()
    await expect(page.locator("#csv-error")).to_contain_text(
        "fel.csv har 2 fel. Ingenting lästes in."
    )
    await expect(page.locator(".csv-problems li")).to_have_count(2)
    await expect(page.locator("tr[data-member]")).to_have_count(40)
    assert await axe_violations(page) == []
    await nothing_clipped(page)
    # One member's own page.
    await page.get_by_role("link", name=f"Ändra {LONG_NAME}").click()
    await expect(page.locator("h1")).to_have_text(LONG_NAME)
    await expect(page.locator("#f-email")).to_have_value(LONG_EMAIL)
    assert await axe_violations(page) == []
    await nothing_clipped(page)
    errors = [
        e
        for e in page.console_errors  # type: ignore[attr-defined]
        if not e.startswith("Failed to load resource: the server responded with a status of 40")
    ]
    assert errors == []  # the refused file answered 400 on purpose
    await context.close()


async def test_the_remote_page_refuses_a_stranger_and_admits_a_member(
    chrome: Browser, server: ServerProcess
) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    set_members_only(anna)
    code = server.access()[SESSION][0]
    link = new_link(anna, add_member(anna, "Åsa Öberg", "asa@region.se"))

    context, stranger = await new_page(chrome, LAPTOP)
    answer = await stranger.goto(f"{server.http}/remote/{code}")
    assert answer is not None and answer.status == 403
    await expect(stranger.locator("h1")).to_have_text("En myndighets förändringsresa")
    await expect(stranger.locator(".members-only [role=alert]")).to_have_text(
        "Den här sessionen är bara för nätverkets medlemmar."
    )
    assert await axe_violations(stranger) == []
    await screenshot(stranger, "members-only-refused")
    await context.close()
    context, english = await new_page(chrome, LAPTOP, locale="en-GB")
    await english.goto(f"{server.http}/remote/{code}")
    await expect(english.locator(".members-only [role=alert]")).to_have_text(
        "This session is for the network's members only."
    )
    await context.close()

    context, member = await new_page(chrome, LAPTOP)
    await member.goto(link)  # the personal link: on to the network's page
    assert member.url == f"{server.http}/networks/{NETWORK}"
    await expect(member.locator(".member-welcome")).to_contain_text("Välkommen, Åsa Öberg!")
    await member.locator(f'a[href="/remote/{code}"]').first.click()
    await expect(member.locator("body")).to_have_attribute("data-connection", "live")
    await member.fill("#question-text", "Hur håller vi samtalet förtroligt?")
    await member.click("#ask-submit")
    await expect(member.locator("li.question.mine")).to_have_count(1)
    assert await axe_violations(member) == []
    assert member.console_errors == []  # type: ignore[attr-defined]
    await context.close()
