"""The whole room in real Chromium: phones, the moderator's tablet and the big screen together."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.browser import PHONE, SCREEN, TABLET, chromium, new_page, screenshot
from tests.e2e.conftest import SESSION
from tests.serverproc import ServerProcess
from tests.wsclient import Client

TIMEOUT = 10_000


async def open_phone(browser, server: ServerProcess, code: str, name: str | None) -> Page:
    """A phone that joins through /j/CODE as in the room, with an optional name."""
    _, page = await new_page(browser, PHONE)
    await page.goto(f"{server.http}/j/{code}")
    await page.check('input[name="where"][value="room"]')
    if name:
        await page.fill("#join-name", name)
    await page.click('#join-form button[type="submit"]')
    await page.wait_for_url(f"**/room/{code}")
    await expect(page.locator("#ask-form")).to_be_visible(timeout=TIMEOUT)
    return page


async def test_phone_moderator_and_screen_work_together(server: ServerProcess) -> None:
    """A phone asks, the moderator approves and highlights, the screen shows it, a second phone votes, the agenda moves everywhere."""
    code, key = server.access()[SESSION]
    async with chromium() as browser:
        _, moderator = await new_page(browser, TABLET)
        await moderator.goto(f"{server.http}/moderate/{SESSION}#key={key}")
        premoderation = moderator.locator("#premoderation")
        await expect(premoderation).to_be_enabled(timeout=TIMEOUT)
        await premoderation.check()
        await expect(premoderation).to_be_checked()

        _, screen = await new_page(browser, SCREEN)
        await screen.goto(f"{server.http}/screen/{code}")
        await expect(screen.locator("#screen-code")).to_have_text(code, timeout=TIMEOUT)

        phone = await open_phone(browser, server, code, "Karin")
        text = "Hur kan vi mäta effekten av en omorganisation?"
        await phone.fill("#question-text", text)
        await phone.click('#ask-form button[type="submit"]')
        await expect(phone.locator("#toast")).to_be_visible(timeout=TIMEOUT)

        # Held for moderation: the moderator sees it under pending, the screen does not.
        await moderator.click("#tab-pending")
        item = moderator.locator("#queue li.question", has_text=text)
        await expect(item).to_be_visible(timeout=TIMEOUT)
        await item.locator('button[data-action="approve"]').click()
        await moderator.click("#tab-live")
        live_item = moderator.locator("#queue li.question", has_text=text)
        await live_item.locator('button[data-action="highlight"]').click()
        await expect(live_item).to_have_attribute("data-status", "highlighted", timeout=TIMEOUT)

        big = screen.locator("#screen-question .q-text")
        await expect(big).to_have_text(text, timeout=TIMEOUT)
        size = await big.evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
        assert size >= 48, size

        # A second phone votes; every page shows the new count.
        second = await open_phone(browser, server, code, None)
        row = second.locator("#questions li.question", has_text=text)
        await row.locator("button.vote-button").click()
        await expect(row.locator("button.vote-button")).to_have_attribute(
            "aria-pressed", "true", timeout=TIMEOUT
        )
        for page, selector in (
            (second, "#questions li.question"),
            (phone, "#questions li.question"),
            (moderator, "#queue li.question"),
        ):
            await expect(page.locator(selector, has_text=text).locator(".q-votes")).to_have_text(
                "1", timeout=TIMEOUT
            )
        await expect(phone.locator("#questions li.question.mine", has_text=text)).to_be_visible()

        # The moderator moves the agenda: every page shows the new current item.
        await moderator.click("#btn-next")
        await moderator.click("#btn-next")
        current = moderator.locator('#agenda-list li[aria-current="true"]')
        await expect(current).to_have_count(1, timeout=TIMEOUT)
        item_id = await current.get_attribute("data-item")
        title = await moderator.evaluate(
            "id => document.querySelector(`#agenda-list li[data-item='${id}']`).dataset.title || ''",
            item_id,
        )
        for page, selector in ((phone, "#current-item"), (screen, "#screen-current")):
            await expect(page.locator(selector)).not_to_be_empty(timeout=TIMEOUT)
            if title:
                await expect(page.locator(selector)).to_contain_text(title, timeout=TIMEOUT)

        for page, name in (
            (phone, "scenario-phone"),
            (moderator, "scenario-moderator"),
            (screen, "scenario-screen"),
        ):
            await screenshot(page, name)
            assert page.console_errors == [], (name, page.console_errors)  # type: ignore[attr-defined]


async def test_pages_survive_a_server_restart(server: ServerProcess) -> None:
    """Pages show a reconnecting state when the server goes away and resume by themselves, missing nothing."""
    code, key = server.access()[SESSION]
    async with chromium() as browser:
        phone = await open_phone(browser, server, code, None)
        await phone.fill("#question-text", "Före omstarten?")
        await phone.click('#ask-form button[type="submit"]')
        await expect(
            phone.locator("#questions li.question", has_text="Före omstarten?")
        ).to_be_visible(timeout=TIMEOUT)

        server.kill()
        await expect(phone.locator("#conn-status")).to_be_visible(timeout=TIMEOUT)
        server.start()

        # Something happens right after the restart; the phone must catch up on it.
        other = await Client.open(server.ws)
        await other.join(code=code, where="remote")
        await other.request({"type": "ask", "text": "Efter omstarten?"})
        moderator = await Client.open(server.ws)
        await moderator.join(role="moderator", session=SESSION, moderator_token=key)
        await moderator.request({"type": "agenda.next"})

        await expect(phone.locator("#conn-status")).to_be_hidden(timeout=15_000)
        await expect(
            phone.locator("#questions li.question", has_text="Efter omstarten?")
        ).to_be_visible(timeout=TIMEOUT)
        await expect(
            phone.locator("#questions li.question", has_text="Före omstarten?")
        ).to_have_count(1)
        await expect(phone.locator("#current-item")).not_to_be_empty(timeout=TIMEOUT)
        await other.close()
        await moderator.close()
