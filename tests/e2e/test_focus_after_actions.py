"""Keyboard focus stays where the person was after every action (WCAG 2.4.3): each console
action and each participant action is done with the keyboard, and afterwards focus is on
the same control, its row, or the next row when the row left the list — never on <body>.

Each check waits for the action's effect, then for focus to settle, then looks again after
the redraws that follow (counts, presence), so a focus that is kept only for a moment fails."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.accessibility import focused
from tests.e2e.browser import LAPTOP, PHONE, chromium, new_page
from tests.e2e.conftest import Room, console_ready

CONSOLE = {"width": 1180, "height": 820}
# Chromium's fake camera and microphone, allowed without asking.
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
SETTLE_MS = 400  # past the console's redraw of counts and presence after an event


async def settled_focus(page: Page) -> dict[str, object]:
    """Where focus is once the page has redrawn after an action."""
    await page.wait_for_timeout(SETTLE_MS)
    return await focused(page)


async def press(page: Page, selector: str, key: str = "Enter") -> None:
    """Move focus to a control (as Tab would) and press a key on it."""
    await page.locator(selector).focus()
    await page.keyboard.press(key)


def row(selector: str, question: int) -> str:
    return f'#queue li.question[data-id="{question}"] {selector}'


async def test_every_console_action_by_keyboard_keeps_focus(chrome: Browser, room: Room) -> None:
    """Highlight and unhighlight, answer, hide, edit and save, merge, approve, reopen, open,
    show and close a poll, Gå hit and Next on the agenda, each by Enter on a focused control."""
    ids = []
    for n in range(1, 7):
        asker = await room.participant("room")
        ack = await asker.request({"type": "ask", "text": f"Fråga {n} om samverkan?"})
        ids.append(ack["question"])
    moderator = await room.moderator()
    await moderator.request(
        {"type": "poll.create", "kind": "single", "text": "Passar tiden?", "options": ["Ja", "Nej"]}
    )
    _, console = await new_page(chrome, CONSOLE)
    await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await console_ready(console)
    queue = console.locator("#queue li.question")
    await expect(queue).to_have_count(6)

    # Highlight: the row stays, focus stays in it.
    await press(console, row("[data-action=highlight]", ids[0]))
    await expect(console.locator(row("[data-action=unhighlight]", ids[0]))).to_be_visible()
    where = await settled_focus(console)
    assert where["row"] == str(ids[0]) and where["tag"] == "BUTTON", where
    await press(console, row("[data-action=unhighlight]", ids[0]))
    await expect(console.locator(row("[data-action=highlight]", ids[0]))).to_be_visible()
    where = await settled_focus(console)
    assert where["row"] == str(ids[0]) and where["tag"] == "BUTTON", where

    # Answer and hide: the row leaves the list, focus goes to the row now in its place.
    for action, question in (("answer", ids[1]), ("hide", ids[2])):
        before = await queue.count()
        await press(console, row(f"[data-action={action}]", question))
        await expect(queue).to_have_count(before - 1)
        where = await settled_focus(console)
        assert where["tag"] == "BUTTON" and where["row"] not in (None, str(question)), (
            action,
            where,
        )

    # Edit: the field takes focus; Ctrl+Enter saves, and focus returns to the row's Edit.
    await press(console, row("[data-action=edit]", ids[3]))
    field = console.locator(f"#q-edit-{ids[3]}")
    await expect(field).to_be_focused()
    await field.press("End")
    await field.type(" Och regionerna?")
    await field.press("Control+Enter")
    await expect(console.locator(f'#queue li[data-id="{ids[3]}"]')).to_contain_text(
        "Och regionerna?"
    )
    where = await settled_focus(console)
    assert where == {"tag": "BUTTON", "id": "", "action": "edit", "row": str(ids[3])}, where

    # Merge, all by keyboard: focus lands on the question the duplicate went into.
    await press(console, row("[data-action=merge]", ids[4]))
    target = console.locator(f"#merge-targets [data-merge-target='{ids[3]}']")
    await expect(target).to_be_visible()
    await target.focus()
    await console.keyboard.press("Enter")
    await expect(console.locator("#merge-dialog")).to_be_hidden()
    await expect(console.locator(f'#queue li[data-id="{ids[4]}"]')).to_have_count(0)
    where = await settled_focus(console)
    assert where["tag"] == "BUTTON" and where["row"] == str(ids[3]), where

    # Approve the hidden question from the Hidden tab: the tab is then empty and focus
    # goes to the tab itself.
    await press(console, "#tab-hidden")
    await expect(console.locator("#tab-hidden")).to_have_attribute("aria-selected", "true")
    await press(console, row("[data-action=approve]", ids[2]))
    await expect(console.locator("#count-hidden")).to_have_text("0")
    where = await settled_focus(console)
    assert where["id"] == "tab-hidden", where
    # … and the same for reopening the answered one from the Answered tab.
    await press(console, "#tab-answered")
    await expect(console.locator("#tab-answered")).to_have_attribute("aria-selected", "true")
    await press(console, row("[data-action=reopen]", ids[1]))
    await expect(console.locator("#count-answered")).to_have_text("0")
    where = await settled_focus(console)
    assert where["id"] == "tab-answered", where

    # A poll opened, shown and closed with Enter: focus stays in its row, on the control
    # that took the pressed one's place (Stäng after Öppna, Ta bort after Visa).
    poll = console.locator('#poll-admin li.poll-row[data-id="1"]')
    await press(console, '#poll-admin li.poll-row[data-id="1"] [data-action=open]')
    await expect(poll).to_have_attribute("data-status", "open")
    where = await settled_focus(console)
    assert where["action"] == "close" and await poll.evaluate(
        "(row) => row.contains(document.activeElement)"
    ), where
    await press(console, '#poll-admin li.poll-row[data-id="1"] [data-action=show]')
    await expect(poll.locator(".on-screen-badge")).to_be_visible()
    where = await settled_focus(console)
    assert where["action"] == "unshow" and await poll.evaluate(
        "(row) => row.contains(document.activeElement)"
    ), where
    await press(console, '#poll-admin li.poll-row[data-id="1"] [data-action=close]')
    await expect(poll).to_have_attribute("data-status", "closed")
    where = await settled_focus(console)
    assert where["action"] == "reopen" and await poll.evaluate(
        "(row) => row.contains(document.activeElement)"
    ), where

    # Next on the agenda: focus stays on Next.
    title = await console.locator("#current-title").text_content()
    await press(console, "#btn-next")
    await expect(console.locator("#current-title")).not_to_have_text(title or "")
    where = await settled_focus(console)
    assert where["id"] == "btn-next", where

    # Gå hit on the last item but one: its Gå hit goes away (it is now current) and focus
    # stays in its row.
    items = console.locator("#agenda-list > li")
    item = items.nth(await items.count() - 2)
    key = await item.get_attribute("data-item")
    await item.locator("[data-action=goto]").focus()
    await console.keyboard.press("Enter")
    await expect(item.locator("[data-action=goto]")).to_be_hidden()
    where = await settled_focus(console)
    inside = await console.evaluate(
        "(key) => !!document.activeElement.closest(`#agenda-list li[data-item='${key}']`)", key
    )
    assert inside and where["tag"] == "BUTTON", where

    # Next onto the last item turns Next off; focus goes to Previous, not to <body>.
    await press(console, "#btn-next")
    await expect(console.locator("#btn-next")).to_be_disabled()
    where = await settled_focus(console)
    assert where["id"] == "btn-prev", where
    assert console.console_errors == []  # type: ignore[attr-defined]


async def test_every_participant_action_by_keyboard_keeps_focus(
    chrome: Browser, room: Room
) -> None:
    """Vote and withdraw it (the list re-sorts under the voter), ask and answer a poll on the phone with
    the keyboard: focus stays on the control that was used."""
    other = await room.participant("remote")
    for n in range(1, 4):
        await other.request({"type": "ask", "text": f"Fråga {n} från distans?"})
    moderator = await room.moderator()
    await moderator.request(
        {"type": "poll.create", "kind": "single", "text": "Passar tiden?", "options": ["Ja", "Nej"]}
    )
    await moderator.request({"type": "poll.open", "poll": 1})
    _, phone = await new_page(chrome, PHONE)
    await phone.goto(f"{room.server.http}/room/{room.code}")
    await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
    await expect(phone.locator("li.question")).to_have_count(3)

    # Vote for the last question: it moves to the top, focus moves with its button.
    last = phone.locator("li.question").last
    question = await last.get_attribute("data-id")
    await last.locator(".vote-button").focus()
    await phone.keyboard.press("Enter")
    await expect(phone.locator("li.question").first).to_have_attribute("data-id", question or "")
    where = await settled_focus(phone)
    assert where["tag"] == "BUTTON" and where["row"] == question, where
    # Enter again withdraws the vote: the row goes back down, focus still on its button.
    await phone.keyboard.press("Enter")
    await expect(phone.locator("li.question").first).not_to_have_attribute(
        "data-id", question or ""
    )
    where = await settled_focus(phone)
    assert where["tag"] == "BUTTON" and where["row"] == question, where

    # Ask: type, Tab to Skicka, Enter.
    await phone.locator("#question-text").focus()
    await phone.keyboard.type("Hur följer vi upp förändringsarbetet?")
    await press(phone, "#ask-submit")
    await expect(phone.locator("li.question")).to_have_count(4)
    where = await settled_focus(phone)
    assert where["tag"] in ("TEXTAREA", "BUTTON") and where["id"] in ("question-text", "ask-submit")

    # Answer the poll: Space on a choice, Enter on Skicka svar.
    card = phone.locator("#poll-list li.poll-card").first
    await card.get_by_label("Ja", exact=True).focus()
    await phone.keyboard.press("Space")
    await card.locator("button[type=submit]").focus()
    await phone.keyboard.press("Enter")
    await expect(card.locator(".poll-mine")).to_be_visible()
    await phone.wait_for_timeout(SETTLE_MS)
    assert await card.evaluate("(c) => c.contains(document.activeElement)"), await focused(phone)
    assert phone.console_errors == []  # type: ignore[attr-defined]


async def test_going_live_and_stopping_by_keyboard_keeps_focus(room: Room) -> None:
    """On the camera page Gå live and Avsluta take each other's place: Enter on one puts
    focus on the other once it is shown (and enabled), never on <body>."""
    async with chromium(FAKE_MEDIA) as browser:
        _, camera = await new_page(browser, LAPTOP)
        await camera.goto(f"{room.server.http}/camera/{room.session}#key={room.moderator_token}")
        await expect(camera.locator("#go-live")).to_be_enabled(timeout=10_000)
        await press(camera, "#go-live")
        await expect(camera.locator("#camera-status")).to_have_attribute(
            "data-status", "live", timeout=15_000
        )
        where = await settled_focus(camera)
        assert where["id"] == "stop-live", where
        await camera.keyboard.press("Enter")
        await expect(camera.locator("#go-live")).to_be_enabled(timeout=10_000)
        where = await settled_focus(camera)
        assert where["id"] == "go-live", where
        assert camera.console_errors == []  # type: ignore[attr-defined]
