"""Polls in real browsers: the moderator console creates and shows a poll, a phone answers,
the big screen shows the results; the console downloads the report."""

from __future__ import annotations

import io
import json
import zipfile

from playwright.async_api import Page, expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import PHONE, SCREEN, TABLET, chromium, new_page, screenshot
from tests.e2e.conftest import SESSION, Room

SV = catalogue("sv")


async def go_live(page: Page, url: str) -> None:
    """Open a page and wait until its realtime connection has joined."""
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def test_phone_answers_and_the_big_screen_shows_the_result(room: Room) -> None:
    """A poll made in the console is answered on a phone and on the screen its bars, then
    a word cloud, follow the answers; the console downloads the report."""
    others = [await room.participant("remote") for _ in range(3)]
    async with chromium() as browser:
        _, console = await new_page(browser, TABLET, accept_downloads=True)
        _, phone = await new_page(browser, PHONE)
        _, screen = await new_page(browser, SCREEN)
        pages = (console, phone, screen)

        await go_live(console, f"{room.server.http}/moderate/{SESSION}#key={room.moderator_token}")
        await console.click("#poll-create summary")
        await console.fill("#poll-text", "Vilken dag passar bäst för nästa träff?")
        await console.select_option("#poll-kind", "single")
        await console.fill("#poll-options", "Måndag\nTisdag\n\nOnsdag")
        await console.click("#poll-create-submit")
        row = console.locator("#poll-admin li.poll-row").first
        await expect(row.locator(".poll-question")).to_have_text(
            "Vilken dag passar bäst för nästa träff?"
        )
        await expect(row).to_have_attribute("data-status", "draft")
        await row.locator("[data-action=open]").click()
        await expect(row).to_have_attribute("data-status", "open")
        await row.locator("[data-action=show]").click()
        await expect(row.locator(".on-screen-badge")).to_have_text(SV["polls.on_screen"])

        await go_live(screen, f"{room.server.http}/screen/{room.code}")
        poll_box = screen.locator("#screen-poll")
        await expect(poll_box).to_be_visible()
        await expect(screen.locator("#screen-question")).to_be_hidden()
        await expect(poll_box.locator(".poll-text")).to_have_text(
            "Vilken dag passar bäst för nästa träff?"
        )
        await expect(poll_box.locator(".poll-label")).to_have_text(["Måndag", "Tisdag", "Onsdag"])

        await go_live(phone, f"{room.server.http}/room/{room.code}")
        card = phone.locator("#poll-list li.poll-card").first
        await expect(card.locator(".poll-question")).to_have_text(
            "Vilken dag passar bäst för nästa träff?"
        )
        await expect(card.locator(".poll-result-slot")).to_be_empty()  # no results before answering
        await card.get_by_label("Tisdag").check()
        await card.locator("button[type=submit]").click()
        await expect(phone.locator("#toast")).to_have_text(SV["polls.answered"])
        await expect(card.locator(".poll-mine")).to_contain_text("Tisdag")
        await expect(card.locator("button[type=submit]")).to_have_text(SV["polls.change"])

        nums = poll_box.locator(".poll-num")
        await expect(nums).to_have_text(["0 (0 %)", "1 (100 %)", "0 (0 %)"])
        fill = poll_box.locator(".poll-fill").nth(1)
        width = await fill.evaluate("n => n.getBoundingClientRect().width")
        track = await fill.evaluate("n => n.parentElement.getBoundingClientRect().width")
        assert width > 0.95 * track - 2

        # The phone changes its answer; three remote participants answer too.
        await card.get_by_label("Måndag").check()
        await card.locator("button[type=submit]").click()
        await expect(card.locator(".poll-mine")).to_contain_text("Måndag")
        for client, answer in zip(others, (1, 3, 3), strict=True):
            reply = await client.request({"type": "poll.answer", "poll": 1, "answer": answer})
            assert reply["type"] == "ack"
        await expect(nums).to_have_text(["2 (50 %)", "0 (0 %)", "2 (50 %)"])
        await expect(poll_box.locator(".poll-respondents")).to_have_text(
            translator("sv").count("polls.respondents", 4)
        )
        await expect(card.locator(".poll-num")).to_have_text(["2 (50 %)", "0 (0 %)", "2 (50 %)"])
        await screenshot(screen, "screen-poll")
        await screenshot(phone, "phone-poll")

        # Closing stops answers on the phone; a word cloud replaces the poll on the screen.
        await row.locator("[data-action=close]").click()
        # Closed, it leaves the open polls for the folded results below the questions.
        await expect(phone.locator("#poll-list li.poll-card")).to_have_count(0)
        card = phone.locator("#poll-results-list li.poll-card").first
        await expect(card).to_have_attribute("data-status", "closed")
        await expect(card.locator(".poll-state")).to_have_text(SV["polls.closed"])
        await expect(card.locator("form")).to_have_count(0)
        await console.fill("#poll-text", "Ett ord som beskriver dagen?")
        await console.select_option("#poll-kind", "words")
        await console.click("#poll-create-submit")
        words = console.locator("#poll-admin li.poll-row").first
        await expect(words.locator(".poll-question")).to_have_text("Ett ord som beskriver dagen?")
        await words.locator("[data-action=open]").click()
        await words.locator("[data-action=show]").click()
        await expect(poll_box.locator(".poll-text")).to_have_text("Ett ord som beskriver dagen?")
        for client, word in zip(others, ("Tillit", "tillit", "Mod"), strict=True):
            await client.request({"type": "poll.answer", "poll": 2, "answer": word})
        cloud = poll_box.locator(".poll-word")
        await expect(cloud).to_have_text(["tillit 2", "mod 1"])
        big = await cloud.nth(0).evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
        small = await cloud.nth(1).evaluate("n => parseFloat(getComputedStyle(n).fontSize)")
        assert big > 1.5 * small
        await screenshot(console, "moderator-polls")

        # The console's report: the zip downloads with the key sent as a header.
        async with console.expect_download() as download_info:
            await console.click("#report-zip")
        download = await download_info.value
        assert download.suggested_filename.startswith(f"companion-{SESSION}-")
        path = await download.path()
        names = zipfile.ZipFile(io.BytesIO(path.read_bytes())).namelist()
        assert f"companion-{SESSION}/poll_results.csv" in names
        async with console.expect_popup() as popup_info:
            await console.click("#report-html")
        summary = await popup_info.value
        await expect(summary.locator("h1")).to_have_text("En myndighets förändringsresa")
        await expect(summary.locator(".poll h3")).to_have_text(
            ["Vilken dag passar bäst för nästa träff?", "Ett ord som beskriver dagen?"]
        )
        assert "key" not in summary.url

        for page in pages:
            assert page.console_errors == [], json.dumps(page.console_errors)  # type: ignore[attr-defined]
