"""The pages' live connection (static/js/live.js) when the network goes silent.

The browser reaches the realtime port through tests.netproxy.SilentProxy, which can drop
every byte without closing anything: the stall a phone sees when it leaves the Wi-Fi.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import PHONE, chromium, new_page, screenshot
from tests.e2e.conftest import Room, started
from tests.netproxy import SilentProxy
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SV = catalogue("sv")


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, SilentProxy]]:
    """A server whose pages open their WebSocket through a proxy that can go silent."""
    server = ServerProcess(tmp_path)
    proxy = SilentProxy(server.ws_port)
    server.extra_env["COMPANION_PUBLIC_WS_URL"] = f"ws://127.0.0.1:{proxy.port}/ws"
    await proxy.start()
    with started(server):
        yield server, proxy
    await proxy.stop()


async def connection(page: Page) -> str:
    return await page.evaluate("document.body.dataset.connection")


async def asked(room: Room, text: str) -> tuple[Client, int]:
    """A remote participant who has just asked a question, and the question's id."""
    asker = await room.participant("remote")
    return asker, (await asker.request({"type": "ask", "text": text}))["question"]


async def live_phone(browser: Browser, room: Room, init_script: str | None = None) -> Page:
    """The phone page of the room, connected (through the proxy)."""
    _, phone = await new_page(browser, PHONE)
    if init_script:
        await phone.add_init_script(init_script)
    await phone.goto(f"{room.server.http}/room/{room.code}")
    await wait_for_state(phone, "live", 10)
    return phone


async def wait_for_state(page: Page, state: str, within: float) -> float:
    """Seconds until the page shows the connection state (fails after `within`)."""
    start = time.monotonic()
    await expect(page.locator("body")).to_have_attribute(
        "data-connection", state, timeout=within * 1000
    )
    return time.monotonic() - start


async def test_silent_network_shows_reconnecting_and_a_waiting_vote_goes_through(
    proxied: tuple[ServerProcess, SilentProxy], clients: list[Client]
) -> None:
    """With the network silent (nothing closed), the phone shows "reconnecting" within a few
    seconds; a vote tapped meanwhile shows that it waits, and goes through with its normal
    feedback when the network is back; what was missed arrives (resume by seq)."""
    server, proxy = proxied
    room = Room(server, clients)
    asker, first = await asked(room, "Hur mäter ni förändringen?")
    async with chromium() as browser:
        phone = await live_phone(browser, room)
        row = phone.locator(f"li.question[data-id='{first}']")
        await expect(row).to_be_visible()

        await row.scroll_into_view_if_needed()
        await phone.evaluate("scrollBy(0, 200)")  # scrolled down to the questions
        proxy.silent = True
        noticed = await wait_for_state(phone, "reconnecting", 10)
        assert noticed <= 8, noticed
        banner = phone.locator("#conn-status")
        await expect(banner).to_have_text(SV["common.reconnecting"])
        box = await banner.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box

        await row.locator(".vote-button").click()
        await expect(row.locator(".vote-button")).to_have_attribute("aria-busy", "true")
        await expect(banner).to_contain_text(SV["common.waiting_to_send"])
        await expect(phone.locator("#toast")).to_be_hidden()
        missed = await asker.request({"type": "ask", "text": "Vad kostade omorganisationen?"})
        await screenshot(phone, "phone-reconnecting")

        proxy.silent = False
        await wait_for_state(phone, "live", 20)
        button = row.locator(".vote-button")
        await expect(button).to_have_attribute("aria-pressed", "true")
        await expect(button.locator(".q-votes")).to_have_text("1")
        await expect(button).to_have_attribute("aria-busy", "false")
        await expect(phone.locator(f"li.question[data-id='{missed['question']}']")).to_be_visible()
        await asker.wait_for(
            lambda m: m["type"] == "counts" and m["counts"].get(str(first)) == 1, timeout=5
        )
        await expect(banner).to_be_hidden()
        assert phone.console_errors == []  # type: ignore[attr-defined]


async def test_action_that_cannot_wait_any_longer_fails_visibly_and_keeps_the_text(
    proxied: tuple[ServerProcess, SilentProxy], clients: list[Client]
) -> None:
    """A question sent while the network stays silent is not lost silently: after waiting it
    fails with a visible message, and the text is still in the box to send again."""
    server, proxy = proxied
    room = Room(server, clients)
    async with chromium() as browser:
        phone = await live_phone(browser, room)
        proxy.silent = True
        await wait_for_state(phone, "reconnecting", 10)
        text = "Finns presentationen att ladda ner?"
        await phone.fill("#question-text", text)
        await phone.click("#ask-submit")
        await expect(phone.locator("#conn-status")).to_contain_text(SV["common.waiting_to_send"])
        toast = phone.locator("#toast")
        await expect(toast).to_have_text(SV["error.connection_lost"], timeout=25_000)
        await expect(toast).to_have_attribute("data-kind", "error")
        await expect(phone.locator("#question-text")).to_have_value(text)
        await expect(phone.locator("#conn-status")).not_to_contain_text(
            SV["common.waiting_to_send"]
        )
        observer = await room.moderator()
        snapshot = await observer.wait_for(lambda m: m["type"] == "snapshot")
        assert snapshot["questions"] == []  # nothing half-sent
        proxy.silent = False
        await wait_for_state(phone, "live", 20)
        await phone.click("#ask-submit")
        await expect(toast).to_have_text(SV["questions.sent"])
        assert phone.console_errors == []  # type: ignore[attr-defined]


RECORD_SENT = """
(() => {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sent.push(JSON.parse(data));
    return send.call(this, data);
  };
})();
"""


async def test_vote_resent_after_a_lost_answer_carries_its_key_and_counts_once(
    proxied: tuple[ServerProcess, SilentProxy], clients: list[Client]
) -> None:
    """A vote whose answer is lost (the server got it, the phone never heard back) is sent
    again after the reconnect with the same random key, and stays one vote: the second
    sending does not withdraw it (docs/protocol.md 3.6)."""
    server, proxy = proxied
    room = Room(server, clients)
    asker, first = await asked(room, "Hur mäter ni förändringen?")
    async with chromium() as browser:
        phone = await live_phone(browser, room, RECORD_SENT)
        row = phone.locator(f"li.question[data-id='{first}']")
        await expect(row).to_be_visible()

        proxy.deaf = True  # the server hears the vote; its answer never reaches the phone
        await row.locator(".vote-button").click()
        await asker.wait_for(
            lambda m: m["type"] == "counts" and m["counts"].get(str(first)) == 1, timeout=5
        )
        proxy.deaf = False  # the next connection works
        # The heartbeat gives the deaf connection up and joins again (briefly "reconnecting").
        deadline = time.monotonic() + 15
        while len([m for m in await phone.evaluate("window.__sent") if m["type"] == "join"]) < 2:
            assert time.monotonic() < deadline, "the phone never joined again"
            await asyncio.sleep(0.1)
        await wait_for_state(phone, "live", 20)
        button = row.locator(".vote-button")
        await expect(button).to_have_attribute("aria-pressed", "true", timeout=10_000)
        await expect(button).to_have_attribute("aria-busy", "false")

        sent = await phone.evaluate("window.__sent")
        votes = [m for m in sent if m["type"] == "vote"]
        assert len(votes) == 2, votes  # the first sending and the resend
        assert re.fullmatch(r"[0-9a-f]{32}", votes[0]["key"]), votes
        assert votes[1]["key"] == votes[0]["key"]
        assert votes[1]["id"] != votes[0]["id"]  # a new request on the new connection
        joins = [m for m in sent if m["type"] == "join"]
        assert len(joins) == 2 and "key" not in joins[0]

        # Still one vote, as every other client sees it: a fresh observer's snapshot.
        observer = await room.participant("room")
        snapshot = await observer.wait_for(lambda m: m["type"] == "snapshot")
        assert {q["id"]: q["votes"] for q in snapshot["questions"]}[first] == 1
        await expect(button.locator(".q-votes")).to_have_text("1")
        assert phone.console_errors == []  # type: ignore[attr-defined]


async def test_every_state_changing_request_gets_its_own_key(
    proxied: tuple[ServerProcess, SilentProxy], clients: list[Client]
) -> None:
    """A vote and its withdrawal are two actions: each its own key, and both apply."""
    server, _ = proxied
    room = Room(server, clients)
    asker, first = await asked(room, "Vad kostade omorganisationen?")
    async with chromium() as browser:
        phone = await live_phone(browser, room, RECORD_SENT)
        button = phone.locator(f"li.question[data-id='{first}'] .vote-button")
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "true")
        await expect(button).to_have_attribute("aria-busy", "false")
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", "false")
        await asker.wait_for(
            lambda m: m["type"] == "counts" and m["counts"].get(str(first)) == 0, timeout=5
        )
        votes = [m for m in await phone.evaluate("window.__sent") if m["type"] == "vote"]
        assert len(votes) == 2 and votes[0]["key"] != votes[1]["key"], votes
