"""The moderator console in real Chromium at tablet size, against a real server process.

Participants are WebSocket clients (tests.wsclient); everything the console does must reach
them through the server, so these tests check both the page and what the clients receive.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import TABLET, axe_violations, new_page, screenshot
from tests.e2e.conftest import Room, console_ready, open_console
from tests.wsclient import Client

SV = catalogue("sv")  # new_page opens pages with a Swedish locale
SV_T = translator("sv")
expect.set_options(timeout=8_000)


def question(page: Page, qid: int):
    """The queue row of one question (only present while its tab is selected)."""
    return page.locator(f"#queue li.question[data-id='{qid}']")


def agenda_current(item: str):
    """Predicate: an `agenda` event whose current item is `item`."""
    return lambda m: m["type"] == "agenda" and m["agenda"]["current"] == item


def agenda_item(message: dict[str, Any], item: str) -> dict[str, Any]:
    """One item of an agenda message."""
    return next(i for i in message["agenda"]["items"] if i["id"] == item)


async def clean(page: Page) -> None:
    """No console errors and no error toast: every request the console sent was accepted."""
    assert page.console_errors == []  # type: ignore[attr-defined]
    await expect(page.locator("#toast")).to_be_hidden()


async def ask(client: Client, text: str) -> int:
    """Ask a question and return its id."""
    ack = await client.request({"type": "ask", "text": text})
    assert ack["type"] == "ack", ack
    return ack["question"]


async def test_question_moves_through_pending_live_highlight_answered_hidden(
    chrome: Browser, room: Room
) -> None:
    """With pre-moderation switched on in the console, a question goes pending, approved, edited, highlighted, answered and hidden."""
    page = await open_console(chrome, room)
    await console_ready(page)
    asker = await room.participant("room", name="Anna")

    await page.locator("#premoderation").click()
    await expect(page.locator("#premoderation")).to_be_checked()
    await asker.wait_for(lambda m: m["type"] == "session" and m["session"]["premoderation"])

    qid = await ask(asker, "Hur lång tid tar en omorganisation?")
    await page.locator("#tab-pending").click()
    row = question(page, qid)
    await expect(row).to_have_attribute("data-status", "pending")
    await expect(row.locator(".q-text")).to_have_text("Hur lång tid tar en omorganisation?")
    await expect(row.locator(".q-name")).to_have_text("Anna")
    await expect(page.locator("#count-pending")).to_have_text("1")
    await expect(row.locator("button[data-action=answer]")).to_be_visible()
    await expect(row.locator("button[data-action=unhighlight]")).to_have_count(0)

    await row.locator("button[data-action=approve]").click()
    await expect(row).to_have_count(0)  # it left the pending tab
    await page.locator("#tab-live").click()
    await expect(row).to_have_attribute("data-status", "live")
    await expect(page.locator("#count-live")).to_have_text("1")

    edited = "Hur lång tid tar en omorganisation i staten?"
    await row.locator("button[data-action=edit]").click()
    await row.locator("textarea").fill(edited)
    await row.locator("button[data-action=save]").click()
    await expect(row.locator(".q-text")).to_have_text(edited)
    await asker.wait_for(
        lambda m: (
            m["type"] == "questions"
            and any(q["id"] == qid and q["text"] == edited and q["edited"] for q in m["questions"])
        )
    )

    await row.locator("button[data-action=highlight]").click()
    await expect(row).to_have_attribute("data-status", "highlighted")
    await expect(row.locator(".on-screen-badge")).to_be_visible()
    await expect(page.locator("#on-screen-text")).to_have_text(edited)

    await row.locator("button[data-action=answer]").click()
    await expect(row).to_have_count(0)
    await expect(page.locator("#on-screen")).to_be_hidden()
    await page.locator("#tab-answered").click()
    await expect(row).to_have_attribute("data-status", "answered")
    await expect(row.locator("button[data-action=reopen]")).to_be_visible()
    await expect(row.locator("button[data-action=approve]")).to_have_count(0)

    await row.locator("button[data-action=hide]").click()
    await expect(row).to_have_count(0)
    await page.locator("#tab-hidden").click()
    await expect(row).to_have_attribute("data-status", "hidden")
    await expect(row.locator("button[data-action=hide]")).to_have_count(0)
    await asker.wait_for(lambda m: m["type"] == "questions" and qid in m["removed"])
    await clean(page)


async def test_merge_unites_votes(chrome: Browser, room: Room) -> None:
    """Merging a duplicate through the picker gives the target every distinct voter of both."""
    page = await open_console(chrome, room)
    await console_ready(page)
    await page.locator("#btn-next").click()
    await expect(page.locator("#current-title")).to_have_text("Välkommen")
    anna = await room.participant("room", name="Anna Lind")
    bo = await room.participant("remote")
    cecilia = await room.participant("room", name="Cecilia")
    first = await ask(anna, "Vad kostar en omorganisation för en myndighet?")
    duplicate = await ask(bo, "Vad kostar det att omorganisera?")
    other = await ask(cecilia, "Hur mäter ni om kulturen faktiskt förändras?")
    for voter, qid in ((anna, first), (bo, duplicate), (cecilia, first), (cecilia, duplicate)):
        assert (await voter.request({"type": "vote", "question": qid}))["voted"] is True
    await expect(question(page, first).locator(".q-votes")).to_have_text("2")
    await expect(question(page, duplicate).locator(".q-votes")).to_have_text("2")

    await question(page, other).locator("button[data-action=highlight]").click()
    await expect(question(page, other)).to_have_attribute("data-status", "highlighted")
    await page.locator("#queue-panel").evaluate("node => node.closest('.mod-col').scrollTo(0, 0)")
    await screenshot(page, "moderator")

    await question(page, duplicate).locator("button[data-action=merge]").click()
    dialog = page.locator("#merge-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(f"button[data-merge-target='{duplicate}']")).to_have_count(0)
    await dialog.locator(f"button[data-merge-target='{first}']").click()
    await expect(dialog).to_be_hidden()

    await expect(question(page, duplicate)).to_have_count(0)
    await expect(question(page, first).locator(".q-votes")).to_have_text("3")
    merged_list = question(page, first).locator(".q-merged")
    await expect(merged_list.locator(f"li[data-merged='{duplicate}']")).to_have_text(
        "Vad kostar det att omorganisera?"
    )
    assert f"#{duplicate}" not in await merged_list.inner_text()  # no internal numbers
    merged = await anna.wait_for(
        lambda m: (
            m["type"] == "questions"
            and any(q["id"] == first and q["votes"] == 3 for q in m["questions"])
        )
    )
    assert duplicate in merged["removed"]
    await clean(page)


async def test_agenda_controls_move_postpone_and_time(chrome: Browser, room: Room) -> None:
    """Next, previous, go to, postpone, timer, break and a negative extension to overrun reach participants."""
    page = await open_console(chrome, room)
    await console_ready(page)
    viewer = await room.participant("remote")
    await expect(page.locator("#current-title")).to_have_text(SV["common.no_current_item"])

    await page.locator("#btn-next").click()
    await viewer.wait_for(agenda_current("valkommen"))
    await expect(page.locator("li[data-item=valkommen]")).to_have_attribute("aria-current", "true")
    await expect(page.locator("#current-title")).to_have_text("Välkommen")
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    await expect(page.locator("#timer")).to_have_attribute("data-overrun", "false")

    await page.locator("#btn-next").click()
    await viewer.wait_for(agenda_current("samtal-olsson"))
    await expect(page.locator("li[data-item=samtal-olsson]")).to_have_attribute(
        "aria-current", "true"
    )
    await expect(page.locator("li[data-item=valkommen]")).to_have_attribute("data-status", "done")
    await page.locator("#btn-prev").click()
    await viewer.wait_for(agenda_current("valkommen"))
    await page.locator("li[data-item=fika] button[data-action=goto]").click()
    await viewer.wait_for(agenda_current("fika"))
    await expect(page.locator("#current-title")).to_have_text("Fika")
    await expect(page.locator("li[data-item=fika] button[data-action=postpone]")).to_be_hidden()
    # A break item's scene starts its break with the move (docs/protocol.md, Scenes).
    await expect(page.locator("#btn-break-end")).to_be_visible()
    await page.locator("#btn-break-end").click()
    await viewer.wait_for(lambda m: m["type"] == "agenda" and m["agenda"]["break"] is None)

    await page.locator("li[data-item=diskussion] button[data-action=postpone]").click()
    await expect(page.locator("li[data-item=diskussion]")).to_have_attribute(
        "data-status", "postponed"
    )
    event = await viewer.wait_for(
        lambda m: m["type"] == "agenda" and agenda_item(m, "diskussion")["status"] == "postponed"
    )
    assert event["agenda"]["next"] == "avslutning"  # the postponed item is skipped
    await page.locator("li[data-item=diskussion] button[data-action=reschedule]").click()
    await expect(page.locator("li[data-item=diskussion]")).to_have_attribute(
        "data-status", "scheduled"
    )

    await expect(page.locator("#btn-timer")).to_have_text(SV["moderator.pause_timer"])
    await page.locator("#btn-timer").click()
    await viewer.wait_for(
        lambda m: m["type"] == "agenda" and m["agenda"]["timer"]["running_since"] is None
    )
    await expect(page.locator("#btn-timer")).to_have_text(SV["moderator.start_timer"])
    await page.locator("#btn-timer").click()
    await expect(page.locator("#btn-timer")).to_have_text(SV["moderator.pause_timer"])

    await page.locator("#btn-break").click()
    await viewer.wait_for(lambda m: m["type"] == "agenda" and m["agenda"]["break"] is not None)
    await expect(page.locator("#btn-break-end")).to_be_visible()
    await page.locator("#btn-break-end").click()
    await viewer.wait_for(lambda m: m["type"] == "agenda" and m["agenda"]["break"] is None)
    await expect(page.locator("#btn-break")).to_be_visible()

    # Välkommen is planned for 10 minutes: two times −5 leaves none, so it runs over at once.
    await page.locator("li[data-item=valkommen] button[data-action=goto]").click()
    await viewer.wait_for(agenda_current("valkommen"))
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    for _ in range(2):
        await page.locator("#btn-shorten").click()
    await viewer.wait_for(
        lambda m: m["type"] == "agenda" and m["agenda"]["timer"]["planned_seconds"] == 0
    )
    await expect(page.locator("#timer")).to_have_attribute("data-overrun", "true")
    await expect(page.locator("#timer")).to_have_text(re.compile(r"^−0:\d\d$"))
    await expect(page.locator("#timer-label")).to_have_text(SV["moderator.overrun"])
    await clean(page)


async def test_reload_keeps_the_key_and_the_state(chrome: Browser, room: Room) -> None:
    """The key leaves the address bar but is remembered, so a reload shows the same state and still moderates."""
    page = await open_console(chrome, room)
    await console_ready(page)
    assert "#" not in page.url
    stored = f"companion.modkey.{room.session}"
    assert await page.evaluate(f"localStorage.getItem('{stored}')") == room.moderator_token
    assert await page.evaluate(f"sessionStorage.getItem('{stored}')") == room.moderator_token

    viewer = await room.participant("room")
    await page.locator("#btn-next").click()
    await viewer.wait_for(agenda_current("valkommen"))
    qid = await ask(viewer, "Syns min fråga efter omladdning?")
    await expect(question(page, qid)).to_be_visible()

    await page.reload()
    await console_ready(page)
    assert "#" not in page.url
    await expect(page.locator("#need-key")).to_be_hidden()
    await expect(page.locator("li[data-item=valkommen]")).to_have_attribute("aria-current", "true")
    await expect(question(page, qid).locator(".q-text")).to_have_text(
        "Syns min fråga efter omladdning?"
    )
    await page.locator("#btn-next").click()
    await viewer.wait_for(agenda_current("samtal-olsson"))
    await clean(page)


async def test_wrong_or_missing_key_shows_need_key(chrome: Browser, room: Room) -> None:
    """A wrong key (or none) shows need_key, forgets the key and leaves the session untouched."""
    observer = await room.moderator()
    page = await open_console(chrome, room, key="not-the-moderator-key")
    await expect(page.locator("#need-key")).to_be_visible()
    await expect(page.locator("#need-key")).to_have_text(SV["moderator.need_key"])
    await expect(page.locator("#console")).to_be_hidden()
    await expect(page.locator("#btn-next")).to_be_hidden()
    assert await page.evaluate(f"localStorage.getItem('companion.modkey.{room.session}')") is None
    # Even a scripted click does nothing: there is no authorised connection to send on.
    await page.locator("#btn-next").evaluate("button => button.click()")
    await page.locator("#premoderation").evaluate("box => box.click()")

    bare = await open_console(chrome, room, key="")
    await expect(bare.locator("#need-key")).to_be_visible()
    await expect(bare.locator("#console")).to_be_hidden()
    await bare.locator("#btn-next").evaluate("button => button.click()")

    await expect(page.locator("#toast")).to_be_hidden()  # nothing was even sent
    probe = await observer.request({"type": "ping"})
    assert probe["type"] == "pong"
    assert observer.events("agenda") == [] and observer.events("session") == []
    assert page.console_errors == [] and bare.console_errors == []  # type: ignore[attr-defined]


async def test_presence_counts_and_keyboard_tabs(chrome: Browser, room: Room) -> None:
    """Two participants (room and remote) show as 1 + 1, and the queue tabs follow the arrow keys."""
    page = await open_console(chrome, room)
    await console_ready(page)
    await room.participant("room")
    await room.participant("remote")
    await expect(page.locator("#count-room")).to_have_text("1")
    await expect(page.locator("#count-remote")).to_have_text("1")
    await expect(page.locator("#count-moderators")).to_have_text("1")

    await expect(page.locator("#tab-live")).to_have_attribute("aria-selected", "true")
    await page.locator("#tab-live").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#tab-answered")).to_be_focused()
    await expect(page.locator("#tab-answered")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("Home")
    await expect(page.locator("#tab-pending")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator("#tab-hidden")).to_be_focused()
    await expect(page.locator("#queue-panel")).to_have_attribute("aria-labelledby", "tab-hidden")
    await clean(page)


async def test_new_identities_and_the_most_from_one_network_show_with_presence(
    chrome: Browser, room: Room
) -> None:
    """Twelve new participants from one address and one from another: the console shows 13
    new participants, 12 of them from one network, beside the presence counts, on the first
    screen in landscape and in portrait."""
    page = await open_console(chrome, room)
    await console_ready(page)
    await expect(page.locator("#identities")).to_be_hidden()
    for _ in range(12):
        await room.participant("room")
    other = await Client.open(room.server.ws, local_addr=("127.0.0.2", 0))
    room.opened.append(other)
    assert (await other.join(code=room.code, where="remote"))["type"] == "welcome"
    await expect(page.locator("#count-room")).to_have_text("12")
    await expect(page.locator("#count-new")).to_have_text("13")
    await expect(page.locator("#count-new-noun")).to_have_text(
        SV_T.count("moderator.presence_new", 13)
    )
    one = SV_T("moderator.presence_one_address", n=12)
    await expect(page.locator("#one-address")).to_have_text(one)
    box = await page.locator("#identities").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"]
    await screenshot(page, "moderator-identities")
    await page.set_viewport_size({"width": 768, "height": 1024})
    await expect(page.locator("#count-new")).to_have_text("13")
    box = await page.locator("#identities").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768
    assert box["y"] + box["height"] <= 1024  # on the first screen of the questions panel
    await screenshot(page, "moderator-identities-portrait")
    await clean(page)


LONG = "Förändringsledningskompetensutvecklingsprogrammetsutvärderingsrapport"


async def busy_session(room: Room) -> None:
    """Many questions (five waiting for review, one with a very long word) and six polls."""
    moderator = await room.moderator()
    people = [await room.participant("room") for _ in range(25)]
    for n in range(20):
        await ask(
            people[n],
            f"Fråga {n + 1}: hur har ni arbetat med {LONG if n == 3 else 'kulturen'}?",
        )
    assert (await moderator.request({"type": "session.premoderation", "on": True}))["type"] == "ack"
    for n in range(5):
        await ask(people[20 + n], f"Väntande fråga {n + 1} om samverkan mellan myndigheter?")
    for n in range(6):
        reply = await moderator.request(
            {
                "type": "poll.create",
                "kind": "single",
                "text": f"Omröstning {n + 1}: {LONG}?",
                "options": ["Ja", "Nej", LONG],
            }
        )
        assert reply["type"] == "ack", reply
        await moderator.request({"type": "poll.open", "poll": n + 1})


# The boxes that matter, measured at scroll 0: where the queue starts, what overflows sideways.
CONSOLE_BOXES = """() => {
  const box = (s) => { const n = document.querySelector(s); if (!n || n.offsetParent === null) return null;
    const r = n.getBoundingClientRect(); return {x: r.left, y: r.top + scrollY, w: r.width, h: r.height}; };
  const wide = [...document.querySelectorAll('#console *')].filter((n) => n.offsetParent !== null
    && n.getBoundingClientRect().right > innerWidth + 0.5).map((n) => n.className || n.tagName);
  return {queue: box('#queue li.question'), agenda: box('#now-card'), polls: box('#poll-admin li'),
    access: box('#lock-questions'), stream: box('#stream-state'), nav: box('#mod-nav'),
    wide, scrollWidth: document.scrollingElement.scrollWidth};
}"""


async def test_console_portrait_has_one_tap_panels_and_landscape_two_columns(
    chrome: Browser, room: Room
) -> None:
    """On a 768x1024 tablet in portrait the question queue is on the first screen, a bar
    switches panels in one tap and its badge counts the questions waiting; nothing runs off
    the side with long words. At 1024x768 and 1366x1024 the console keeps two columns."""
    await busy_session(room)
    portrait = {"width": 768, "height": 1024}
    _, page = await new_page(chrome, portrait)
    await page.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await console_ready(page)
    await expect(page.locator("#count-live")).to_have_text("20")
    await expect(page.locator("#queue li.question")).to_have_count(5)  # the waiting ones first
    badge = page.locator("#nav-pending")
    await expect(badge.locator(".nav-badge-n")).to_have_text("5")
    m = await page.evaluate(CONSOLE_BOXES)
    await screenshot(page, "moderator-portrait")
    assert m["queue"] and m["queue"]["y"] + 60 < portrait["height"], m
    assert m["nav"] and m["nav"]["h"] >= 44, m
    assert m["wide"] == [] and m["scrollWidth"] <= portrait["width"], m
    nav = page.locator("#mod-nav")
    for view, selector in (
        ("agenda", "agenda"),
        ("polls", "polls"),
        ("stream", "stream"),
        ("access", "access"),
        ("questions", "queue"),
    ):
        await page.evaluate("scrollTo(0, document.body.scrollHeight)")  # from anywhere on the page
        await nav.locator(f"[data-view={view}]").click()
        await expect(nav.locator(f"[data-view={view}]")).to_have_attribute("aria-pressed", "true")
        m = await page.evaluate(CONSOLE_BOXES)
        await screenshot(page, f"moderator-portrait-{view}")
        shown = m[selector]
        assert shown is not None, (view, m)
        top = await page.evaluate("scrollY")
        assert top <= shown["y"] < top + portrait["height"] - 40, (view, m, top)  # in view
        others = [k for k in ("queue", "agenda", "polls", "access", "stream") if k != selector]
        assert all(m[k] is None for k in others), (view, m)  # one panel at a time
        assert m["wide"] == [] and m["scrollWidth"] <= portrait["width"], (view, m)
    # Reviewing the waiting ones updates the badge.
    await page.locator("#tab-pending").click()
    await question(page, 21).locator("button[data-action=approve]").click()
    await expect(badge.locator(".nav-badge-n")).to_have_text("4")

    for viewport in ({"width": 1024, "height": 768}, {"width": 1366, "height": 1024}):
        await page.set_viewport_size(viewport)
        await page.evaluate("scrollTo(0, 0)")
        m = await page.evaluate(CONSOLE_BOXES)
        await screenshot(page, f"moderator-landscape-{viewport['width']}")
        assert m["nav"] is None, m
        assert m["queue"] and m["agenda"], m
        assert m["queue"]["x"] >= m["agenda"]["x"] + m["agenda"]["w"], m  # side by side
        assert m["queue"]["y"] + 60 < viewport["height"], m
        assert m["wide"] == [] and m["scrollWidth"] <= viewport["width"], m
    assert page.console_errors == []  # type: ignore[attr-defined]


async def test_next_is_off_when_only_undated_items_remain(chrome: Browser, room: Room) -> None:
    """When every item after the current one is "date to come" or postponed, Next is disabled
    and a note next to it says why; Previous still works."""
    moderator = await room.moderator()
    snapshot = await moderator.wait_for(lambda m: m["type"] == "snapshot")
    items = [item["id"] for item in snapshot["agenda"]["items"]]
    assert (await moderator.request({"type": "agenda.goto", "item": items[-3]}))["type"] == "ack"
    for item, status in ((items[-2], "date-to-come"), (items[-1], "postponed")):
        reply = await moderator.request({"type": "item.status", "item": item, "status": status})
        assert reply["type"] == "ack", reply
    page = await open_console(chrome, room)
    await console_ready(page)
    await expect(page.locator("#btn-next")).to_be_disabled()
    note = page.locator("#next-note")
    await expect(note).to_have_text(SV["moderator.next_none_left"])
    box = await note.bounding_box()
    card = await page.locator("#now-card").bounding_box()
    assert (
        box
        and card
        and box["height"] > 0
        and box["y"] + box["height"] <= card["y"] + card["height"]
    )
    await expect(page.locator("#btn-prev")).to_be_enabled()
    # Back to an item with a dated one ahead: Next works again and the note goes.
    await page.locator("#btn-prev").click()
    await expect(page.locator("#btn-next")).to_be_enabled()
    await expect(note).to_be_hidden()
    await clean(page)


async def test_anonymous_questions_show_no_asker_and_the_asker_can_be_muted_by_keyboard(
    chrome: Browser, room: Room
) -> None:
    """An anonymous question shows "Anonym" and no count or handle that ties it to other
    questions; "Hide and mute this asker", reached and pressed with the keyboard, hides
    it and keeps the asker's later questions out of the console, while their earlier
    question stays; a named question has no such button."""
    anna = await room.participant("room", name="Anna")
    carl = await room.participant("room")
    named = await ask(anna, "Annas fråga")
    earlier = await ask(carl, "Carls första fråga")
    abuse = await ask(carl, "Carls olämpliga fråga")
    page = await open_console(chrome, room)
    await console_ready(page)
    carl_id = carl.welcome["participant"]["id"]
    for qid in (earlier, abuse):
        await expect(question(page, qid).locator(".q-name")).to_have_text("Anonym")
        await expect(question(page, qid).locator(".q-author")).to_have_count(0)
    assert carl_id[:6] not in await page.content()
    await expect(question(page, named).locator("button[data-action=hide-asker]")).to_have_count(0)
    assert await axe_violations(page) == []  # the new button among the row's actions

    row = question(page, abuse)
    await row.locator("button[data-action=hide]").focus()
    await page.keyboard.press("Tab")
    mute = row.locator("button[data-action=hide-asker]")
    await expect(mute).to_be_focused()
    await expect(mute).to_have_text(SV_T("moderator.hide_asker"))
    await page.keyboard.press("Enter")
    await expect(row).to_have_count(0)  # it left the live tab
    await carl.wait_for(lambda m: m["type"] == "questions" and abuse in m["removed"])
    later = await carl.request({"type": "ask", "text": "Carls senare fråga"})
    assert later["type"] == "ack" and later["status"] == "hidden"
    await ask(anna, "Annas andra fråga")
    await expect(page.locator("#queue")).to_contain_text("Annas andra fråga")
    await expect(question(page, earlier)).to_have_attribute("data-status", "live")
    await page.locator("#tab-hidden").click()
    await expect(question(page, abuse)).to_have_attribute("data-status", "hidden")
    await expect(page.locator("#queue li.question")).to_have_count(1)
    assert "Carls senare fråga" not in await page.content()
    await clean(page)
