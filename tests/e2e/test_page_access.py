"""The console's Access panel in real Chromium, against a real server process.

Locking and closing the session, a new join code and a new moderator link, as the console,
the phones and the big screen show them.
"""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import PHONE, SCREEN, new_page
from tests.e2e.conftest import Room, console_ready, open_console

SV = catalogue("sv")  # new_page opens pages with a Swedish locale
expect.set_options(timeout=8_000)


async def ready(page: Page) -> None:
    """Wait until the console has its first snapshot and is connected."""
    await console_ready(page)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def open_access(page: Page) -> None:
    """Unfold the Access panel."""
    await page.locator("#access-panel > summary").click()
    await expect(page.locator("#lock-questions")).to_be_visible()


async def confirm(page: Page, ok: bool = True) -> None:
    """Answer the console's confirm step."""
    dialog = page.locator("#access-confirm")
    await expect(dialog).to_be_visible()
    await page.locator("#access-confirm-ok" if ok else "#access-confirm-cancel").click()
    await expect(dialog).to_be_hidden()


async def open_live(chrome: Browser, url: str, viewport: dict[str, int]) -> Page:
    """A fresh page whose realtime connection has joined."""
    _, page = await new_page(chrome, viewport)
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    return page


def errors(page: Page) -> list[str]:
    """The page's console errors so far."""
    return page.console_errors  # type: ignore[attr-defined]


async def test_lock_and_close_reach_the_phone(chrome: Browser, room: Room) -> None:
    """Locking questions disables the phone's ask form and the server refuses its question; unlocking restores it; closing disables votes too."""
    console = await open_console(chrome, room)
    await ready(console)
    asker = await room.participant("remote")
    qid = (await asker.request({"type": "ask", "text": "Hur följer ni upp arbetet?"}))["question"]
    phone = await open_live(chrome, f"{room.server.http}/room/{room.code}", PHONE)
    vote = phone.locator(f"li.question[data-id='{qid}'] .vote-button")
    await expect(vote).to_be_enabled()
    await expect(phone.locator("#ask-locked")).to_be_hidden()

    await open_access(console)
    await console.locator("#lock-questions").click()
    await expect(console.locator("#lock-questions")).to_be_checked()
    await expect(console.locator("#flag-locked")).to_have_text(SV["access.state_locked"])
    await expect(phone.locator("#ask-locked")).to_have_text(SV["access.ask_locked"])
    await expect(phone.locator("#question-text")).to_be_disabled()
    await expect(phone.locator("#ask-submit")).to_be_disabled()
    await expect(vote).to_be_enabled()  # locked still takes votes
    # Sent anyway (as a page that missed the event would): the server refuses it.
    await phone.evaluate(
        """() => {
             document.getElementById("question-text").value = "Efter låset?";
             document.getElementById("ask-form").requestSubmit();
           }"""
    )
    await expect(phone.locator("#toast")).to_have_text(SV["error.session_locked"])
    refused = await asker.request({"type": "ask", "text": "Och från en annan telefon?"})
    assert refused["code"] == "session_locked"

    await console.locator("#lock-questions").click()
    await expect(console.locator("#lock-questions")).not_to_be_checked()
    await expect(console.locator("#flag-locked")).to_be_hidden()
    await expect(phone.locator("#ask-locked")).to_be_hidden()
    await phone.fill("#question-text", "Nu när det är öppet igen?")
    await phone.click("#ask-submit")
    await expect(phone.locator("#toast")).to_have_text(SV["questions.sent"])
    await expect(phone.locator("li.question.mine")).to_have_count(1)

    await console.locator("#close-session").click()
    await confirm(console, ok=False)
    await expect(console.locator("#close-session")).not_to_be_checked()
    await expect(phone.locator("#session-closed")).to_be_hidden()
    await console.locator("#close-session").click()
    await confirm(console)
    await expect(console.locator("#close-session")).to_be_checked()
    await expect(console.locator("#flag-closed")).to_have_text(SV["access.state_closed"])
    await expect(phone.locator("#session-closed")).to_have_text(SV["access.session_closed"])
    await expect(vote).to_be_disabled()
    await expect(phone.locator("#ask-submit")).to_be_disabled()
    assert (await asker.request({"type": "vote", "question": qid}))["code"] == "session_closed"

    await phone.reload()  # the state comes back with the snapshot
    await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
    await expect(phone.locator("#session-closed")).to_be_visible()
    await expect(vote).to_be_disabled()
    await expect(phone.locator("#question-text")).to_be_disabled()
    assert errors(console) == [] and errors(phone) == []
    await expect(console.locator("#toast")).to_be_hidden()


async def test_new_join_code_reaches_screen_and_console(chrome: Browser, room: Room) -> None:
    """A new join code from the console replaces the code, QR code and link on the big screen and in the console's top bar, and the old code's join page is gone."""
    old = room.code
    console = await open_console(chrome, room)
    await ready(console)
    screen = await open_live(chrome, f"{room.server.http}/screen/{old}", SCREEN)
    await expect(screen.locator("#screen-code")).to_have_text(old)
    phone = await room.participant("room")

    await open_access(console)
    await console.locator("#btn-new-code").click()
    await confirm(console, ok=False)
    await expect(console.locator("#join-code")).to_have_text(old)
    await console.locator("#btn-new-code").click()
    await confirm(console)
    await expect(console.locator("#join-code")).not_to_have_text(old)
    event = await phone.wait_for(
        lambda m: m["type"] == "session" and m["session"]["join_code"] != old
    )
    new = event["session"]["join_code"]
    assert re.fullmatch(r"[A-Z0-9]{6}", new)
    await expect(console.locator("#join-code")).to_have_text(new)
    await expect(console.locator("#link-screen")).to_have_attribute("href", f"/screen/{new}")
    await expect(console.locator("#link-participant")).to_have_attribute(
        "href", re.compile(f"/j/{new}$")
    )

    await expect(screen.locator("#screen-code")).to_have_text(new)
    qr = screen.locator("img#screen-qr")
    await expect(qr).to_have_attribute("src", f"/qr/{new}.svg")
    await screen.wait_for_function(
        "document.getElementById('screen-qr').complete"
        " && document.getElementById('screen-qr').naturalWidth > 0",
        timeout=10_000,
    )
    await expect(screen.locator("#screen-url")).to_contain_text(f"/j/{new}")
    await expect(screen.locator("#screen-url")).not_to_contain_text(old)

    gone = await console.request.get(f"{room.server.http}/j/{old}", timeout=5_000)
    assert gone.status == 404
    assert (await console.request.get(f"{room.server.http}/j/{new}", timeout=5_000)).ok
    assert (await phone.request({"type": "ask", "text": "Är jag kvar?"}))["type"] == "ack"

    # The screen moved to the new code's address, so a reload still works.
    assert screen.url.endswith(f"/screen/{new}")
    await screen.reload()
    await expect(screen.locator("body")).to_have_attribute("data-connection", "live")
    await expect(screen.locator("#screen-code")).to_have_text(new)
    assert errors(console) == [] and errors(screen) == []
    await expect(console.locator("#toast")).to_be_hidden()


async def test_new_moderator_link_keeps_this_console_and_locks_out_others(
    chrome: Browser, room: Room
) -> None:
    """After a new moderator link the console reconnects with the new key, shows the link and can still approve, while a console with the old key shows the need-key state."""
    console = await open_console(chrome, room)
    await ready(console)
    other = await open_console(chrome, room)
    await ready(other)
    old_stream_key = console.locator("#obs-stream-key")
    await expect(old_stream_key).not_to_have_text("")
    stream_key = await old_stream_key.text_content()
    await console.locator("#premoderation").click()
    await expect(console.locator("#premoderation")).to_be_checked()

    await open_access(console)
    await console.locator("#btn-rotate-key").click()
    await confirm(console, ok=False)
    await expect(console.locator("#new-link-box")).to_be_hidden()
    await console.locator("#btn-rotate-key").click()
    await confirm(console)
    await expect(console.locator("#new-link-box")).to_be_visible()
    new_key = room.server.access()[room.session][1]
    assert new_key != room.moderator_token
    await expect(console.locator("#new-mod-link")).to_have_value(
        re.compile(f"/moderate/{room.session}#key={new_key}$")
    )
    await expect(console.locator("#toast")).to_have_text(SV["access.key_changed"])

    # The other console was disconnected and its old key is refused.
    await expect(other.locator("#need-key")).to_be_visible()
    await expect(other.locator("#console")).to_be_hidden()
    stale = await open_console(chrome, room)
    await expect(stale.locator("#need-key")).to_have_text(SV["moderator.need_key"])

    # This console is back with the new key: approving works and the stream key is new.
    await expect(console.locator("body")).to_have_attribute("data-connection", "live")
    await expect(old_stream_key).not_to_have_text(re.compile(f"^({re.escape(stream_key)})?$"))
    asker = await room.participant("room")
    qid = (await asker.request({"type": "ask", "text": "Efter bytet av nyckel?"}))["question"]
    await console.locator("#tab-pending").click()
    row = console.locator(f"#queue li.question[data-id='{qid}']")
    await row.locator("button[data-action=approve]").click()
    await expect(row).to_have_count(0)
    await asker.wait_for(
        lambda m: (
            m["type"] == "questions"
            and any(q["id"] == qid and q["status"] == "live" for q in m["questions"])
        )
    )
    await console.reload()  # the new key was kept on this device
    await ready(console)
    await expect(console.locator("#need-key")).to_be_hidden()
    fresh = await open_console(chrome, room, key=new_key)
    await ready(fresh)
    for page in (console, other, stale, fresh):
        assert errors(page) == []
