"""*Mina uppgifter* on the phone page in Chromium at 360 px: see what this device sent,
download it as JSON, take the name off a question, withdraw one, forget the device."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from playwright.async_api import Page, expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import LAPTOP, PHONE, axe_violations, chromium, screenshot
from tests.e2e.conftest import SESSION, Room
from tests.e2e.test_page_participant import go_live, open_page

SV = catalogue("sv")
LONG = "Hur säkerställer vi arbetsmiljöansvarsfördelningsdokumentationen i förvaltningarna?"


async def inside_the_viewport(page: Page, selector: str) -> None:
    """Every matching box lies within the page's width: nothing clipped or sideways."""
    boxes = await page.locator(selector).evaluate_all(
        "ns => ns.map(n => { const r = n.getBoundingClientRect();"
        " return [r.left, r.right, r.width, r.height, n.scrollWidth - n.clientWidth]; })"
    )
    assert boxes, selector
    for left, right, width, height, overflow in boxes:
        assert left >= 0 and right <= PHONE["width"] and width > 0 and height > 0, (selector, boxes)
        assert overflow <= 0, (selector, boxes)


async def test_my_data_on_the_phone(room: Room, tmp_path: Path) -> None:
    moderator = await room.moderator()
    poll = (
        await moderator.request(
            {
                "type": "poll.create",
                "kind": "single",
                "text": "Vilken dag passar bäst?",
                "options": ["Måndag", "Tisdag"],
            }
        )
    )["poll"]
    await moderator.request({"type": "poll.open", "poll": poll})
    bo = await room.participant("remote")
    for n in range(6):
        await bo.request({"type": "ask", "text": f"Bos fråga nummer {n + 1} om ledarskap"})

    async with chromium() as browser:
        context, phone = await open_page(
            browser, PHONE, profile={"name": "Anna Berg", "where": "room"}
        )
        await go_live(phone, f"{room.server.http}/room/{room.code}")
        for text in ("Hur når vi unga ledare?", LONG):
            await phone.fill("#question-text", text)
            await phone.check("#show-name")
            await phone.click("#ask-submit")
            await expect(phone.locator("#toast")).to_have_text(SV["questions.sent"])
        await phone.locator("li.question", has_text="nummer 3").locator(".vote-button").click()
        card = phone.locator("#poll-list li.poll-card").first
        await card.get_by_label("Tisdag").check()
        await card.locator("button[type=submit]").click()
        await expect(phone.locator("#toast")).to_have_text(SV["polls.answered"])

        # Open "Mina uppgifter": what this device sent, from the server.
        await phone.locator("#my-data-fold > summary").click()
        rows = phone.locator("#my-data-questions > li")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("Hur når vi unga ledare?")
        await expect(rows.nth(0)).to_contain_text(SV["mydata.status_live"])
        await expect(rows.nth(0)).to_contain_text(
            SV["mydata.with_name"].replace("{name}", "Anna Berg")
        )
        await expect(phone.locator("#my-data-votes-count")).to_have_text(
            translator("sv").count("mydata.votes", 1)
        )
        await expect(phone.locator("#my-data-votes")).to_have_text(
            "Bos fråga nummer 3 om ledarskap"
        )
        answer = phone.locator("#my-data-answers > li")
        await expect(answer.locator(".my-data-text")).to_have_text("Vilken dag passar bäst?")
        await expect(answer.locator(".hint")).to_have_text(
            SV["mydata.your_answer"].replace("{answer}", "Tisdag")
        )
        await expect(phone.locator("#my-data-name")).to_contain_text("Anna Berg")
        await rows.nth(1).scroll_into_view_if_needed()
        await inside_the_viewport(
            phone, "#my-data, #my-data-questions > li, #my-data button:visible"
        )
        for button in await phone.locator("#my-data button:visible").all():
            box = await button.bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44, box
        await phone.locator("#my-data-heading").scroll_into_view_if_needed()
        await screenshot(phone, "phone-my-data")
        await phone.locator("#my-data-votes-count").scroll_into_view_if_needed()
        await screenshot(phone, "phone-my-data-questions")
        assert await axe_violations(phone) == []

        # Download as JSON: the same data, with the name kept on this device.
        async with phone.expect_download() as waiting:
            await phone.click("#my-data-download")
        download = await waiting.value
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        assert download.suggested_filename == f"mina-uppgifter-{room.code}.json"
        data = json.loads(saved.read_text("utf-8"))
        assert [q["text"] for q in data["questions"]] == ["Hur når vi unga ledare?", LONG]
        assert data["name_on_this_device"] == "Anna Berg" and len(data["votes"]) == 1
        assert data["answers"] == [{"poll": poll, "answer": 2}]

        # Remove my name from the first question: everyone sees it without the name.
        await rows.nth(0).get_by_role("button", name=SV["mydata.unname"]).click()
        await expect(phone.locator("#toast")).to_have_text(SV["mydata.unnamed"])
        await expect(rows.nth(0)).to_contain_text(SV["mydata.without_name"])
        await expect(rows.nth(0).get_by_role("button", name=SV["mydata.unname"])).to_have_count(0)
        focused = await phone.evaluate("() => document.activeElement.textContent")
        assert focused == SV["mydata.withdraw"]  # focus stays in the row, on what is left
        screen = await room.screen()
        snap = await screen.wait_for(lambda m: m["type"] == "snapshot")
        first = next(q for q in snap["questions"] if q["text"] == "Hur når vi unga ledare?")
        assert first["name"] is None

        # Withdraw the long one: it disappears for everyone.
        await rows.nth(1).get_by_role("button", name=SV["mydata.withdraw"]).click()
        await expect(phone.locator("#toast")).to_have_text(SV["mydata.withdrawn"])
        await expect(rows.nth(1)).to_contain_text(SV["mydata.status_withdrawn"])
        await expect(phone.locator("li.question", has_text=LONG)).to_have_count(0)
        await bo.wait_for(lambda m: m["type"] == "questions" and any(m["removed"]), timeout=5)
        assert await axe_violations(phone) == []

        # Forget this device: a confirmation first, then the token is gone.
        token_key = f"companion.token.{room.code}"
        token = await phone.evaluate(f"() => localStorage.getItem({json.dumps(token_key)})")
        assert token
        participant = token.split(".")[1]
        await phone.click("#my-data-forget")
        await expect(phone.locator("#my-data-forget-confirm")).to_be_focused()
        await phone.click("#my-data-forget-confirm")
        await expect(phone.locator("#my-data-forgotten")).to_be_visible()
        await expect(phone.locator("#my-data-forgotten a")).to_be_focused()
        assert await phone.evaluate(f"() => localStorage.getItem({json.dumps(token_key)})") is None
        with sqlite3.connect(Path(room.server.data_dir) / "companion.db") as db:
            rows_ = db.execute("SELECT data FROM events WHERE session_id = ?", (SESSION,))
            assert participant not in "\n".join(r[0] for r in rows_)
        await screenshot(phone, "phone-my-data-forgotten")
        assert await axe_violations(phone) == []
        # Nothing on the page is this device's any more.
        await expect(phone.locator("li.question.mine")).to_have_count(0)
        await expect(phone.locator(".vote-button[aria-pressed=true]")).to_have_count(0)
        assert phone.errors == []  # type: ignore[attr-defined]
        await context.close()


async def test_my_data_on_the_remote_page(room: Room) -> None:
    """The remote page (laptop) has the same section: what this device sent, axe 0."""
    async with chromium() as browser:
        context, page = await open_page(
            browser, LAPTOP, profile={"name": "Bo Ek", "where": "remote"}
        )
        await go_live(page, f"{room.server.http}/remote/{room.code}")
        await page.fill("#question-text", LONG)
        await page.click("#ask-submit")
        await expect(page.locator("#toast")).to_have_text(SV["questions.sent"])
        await page.locator("#my-data-fold > summary").click()
        rows = page.locator("#my-data-questions > li")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(SV["mydata.without_name"])
        await expect(page.locator("#my-data-answers")).to_have_text(SV["mydata.answers_none"])
        await expect(page.locator("#my-data-votes-count")).to_have_text(SV["mydata.votes_none"])
        await page.locator("#my-data").evaluate("n => n.scrollIntoView({block: 'start'})")
        await screenshot(page, "remote-my-data")
        assert await axe_violations(page) == []
        assert page.errors == []  # type: ignore[attr-defined]
        await context.close()
