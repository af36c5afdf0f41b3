"""axe-core (WCAG 2.1 A and AA) on the phone, remote, console and big screen, in the states
these pages take during a meeting; and keyboard focus through a merge."""

from __future__ import annotations

import json

from playwright.async_api import Page, expect

from tests.e2e.browser import LAPTOP, PHONE, SCREEN, axe_violations, chromium, new_page
from tests.e2e.conftest import Room

LONG = "Förändringsledningskompetensutvecklingsprogrammet"


async def meeting(room: Room) -> None:
    """Questions with votes, one highlighted; an open and a closed poll, a word cloud; a break."""
    moderator = await room.moderator()
    people = [await room.participant("room", name=f"Deltagare {n}") for n in range(6)]
    ids = []
    for n, person in enumerate(people):
        ack = await person.request(
            {
                "type": "ask",
                "text": f"Fråga {n + 1} om {LONG if n == 2 else 'samverkan'}?",
                "name": f"Deltagare {n}",
            }
        )
        ids.append(ack["question"])
    for person in people[:4]:
        await person.request({"type": "vote", "question": ids[0]})
    await moderator.request({"type": "question.highlight", "question": ids[1]})
    polls = [
        {
            "kind": "multiple",
            "text": "Vilka teman?",
            "options": ["Digitalisering", LONG, "Arbetsmiljö"],
            "max_choices": 2,
        },
        {"kind": "single", "text": "Passar tiden?", "options": ["Ja", "Nej"]},
        {"kind": "words", "text": "Ett ord om dagen?"},
    ]
    for number, poll in enumerate(polls, start=1):
        assert (await moderator.request({"type": "poll.create", **poll}))["type"] == "ack"
        await moderator.request({"type": "poll.open", "poll": number})
    for n, person in enumerate(people):
        await person.request({"type": "poll.answer", "poll": 2, "answer": 1 + n % 2})
        await person.request({"type": "poll.answer", "poll": 3, "answer": ["tillit", "mod"][n % 2]})
    await moderator.request({"type": "poll.close", "poll": 2})
    # The move first: it applies the next item's scene, which takes any poll off the screen.
    await moderator.request({"type": "agenda.next"})
    await moderator.request({"type": "poll.show", "poll": 3})


async def no_violations(page: Page, where: str) -> None:
    found = await axe_violations(page)
    assert found == [], f"{where}: {json.dumps(found, ensure_ascii=False, indent=1)}"


async def test_pages_have_no_wcag_violations_in_meeting_states(room: Room) -> None:
    """Phone (open and folded polls, results, a toast, the reconnecting banner is covered
    elsewhere), remote, console in portrait with its panel bar and in landscape with the
    merge dialog open, and the big screen with a word cloud: no WCAG 2.1 A/AA violation."""
    await meeting(room)
    async with chromium() as browser:
        _, phone = await new_page(browser, PHONE)
        await phone.goto(f"{room.server.http}/room/{room.code}")
        await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
        await expect(phone.locator("li.question")).to_have_count(6)
        await no_violations(phone, "phone")
        await phone.locator("#poll-results summary").click()
        card = phone.locator('#poll-list li.poll-card[data-kind="multiple"]')
        await card.get_by_label("Digitalisering").check()
        await card.locator("button[type=submit]").click()
        await expect(phone.locator("#toast")).to_be_visible()
        await no_violations(phone, "phone with results and a toast")

        _, remote = await new_page(browser, LAPTOP)
        await remote.goto(f"{room.server.http}/remote/{room.code}")
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
        await no_violations(remote, "remote")

        _, console = await new_page(browser, {"width": 768, "height": 1024})
        await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
        await expect(console.locator("#console")).not_to_have_attribute("aria-busy", "true")
        await no_violations(console, "console in portrait")
        for view in ("hands", "agenda", "polls", "stream", "access"):
            await console.locator(f"#mod-nav [data-view={view}]").click()
            await no_violations(console, f"console in portrait, {view}")
        await console.set_viewport_size({"width": 1024, "height": 768})
        await console.locator("#tab-live").click()
        await console.locator("#queue li.question").first.locator("[data-action=merge]").click()
        await expect(console.locator("#merge-dialog")).to_be_visible()
        await no_violations(console, "console with the merge dialog")

        _, screen = await new_page(browser, SCREEN)
        await screen.goto(f"{room.server.http}/screen/{room.code}")
        await expect(screen.locator("body")).to_have_attribute("data-connection", "live")
        await expect(screen.locator("#screen-poll .poll-word")).to_have_count(2)
        await no_violations(screen, "screen with a word cloud")
        for page in (phone, remote, console, screen):
            assert page.console_errors == []  # type: ignore[attr-defined]


async def test_merging_by_keyboard_keeps_focus_on_the_merged_question(room: Room) -> None:
    """Merge chosen with the keyboard: the dialog closes and focus lands on the question
    the duplicate went into, not on the page's body."""
    asker = await room.participant("room")
    first = (await asker.request({"type": "ask", "text": "Vad kostar en omorganisation?"}))[
        "question"
    ]
    other = await room.participant("remote")
    await other.request({"type": "ask", "text": "Vad kostar det att omorganisera?"})
    async with chromium() as browser:
        _, console = await new_page(browser, {"width": 1024, "height": 768})
        await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
        await expect(console.locator("#queue li.question")).to_have_count(2)
        duplicate = console.locator("#queue li.question", has_text="omorganisera?")
        await duplicate.locator("[data-action=merge]").focus()
        await console.keyboard.press("Enter")
        target = console.locator(f"#merge-targets [data-merge-target='{first}']")
        await expect(target).to_be_visible()
        await target.focus()
        await console.keyboard.press("Enter")
        await expect(console.locator("#merge-dialog")).to_be_hidden()
        await expect(console.locator("#queue li.question")).to_have_count(1)
        await console.wait_for_timeout(300)  # any redraw after the merge event
        focused = await console.evaluate(
            "() => { const a = document.activeElement; const row = a.closest('li.question');"
            " return [a.tagName, row ? Number(row.dataset.id) : null]; }"
        )
        assert focused == ["BUTTON", first], focused
        assert console.console_errors == []  # type: ignore[attr-defined]
