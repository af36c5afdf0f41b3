"""The speaker's side of the stage in Chromium when things go wrong (static/js/stage-voice.js,
speak.js): a microphone the browser refuses, the moderator's mute, and a connection that
drops while the participant is on stage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from playwright.async_api import Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, PHONE, axe_violations, chromium, new_page, screenshot
from tests.e2e.conftest import Room, console_ready, open_console
from tests.media.peers import Viewer, room_audio, wait_until
from tests.wsclient import Client

SV, EN = catalogue("sv"), catalogue("en")
FAKE_DEVICE = "--use-fake-device-for-media-stream"
FAKE_MEDIA = [FAKE_DEVICE, "--use-fake-ui-for-media-stream"]

# Counts the page's microphone requests and keeps its peer connections, so a test can read
# what the browser itself sends (getStats), not only what the server does with it.
WATCH = """
window.micAsked = 0;
const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => { window.micAsked += 1; return ask(c); };
window.peers = [];
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = class extends Native {
  constructor(...args) { super(...args); window.peers.push(this); }
};
"""
# Audio packets the page has sent on stage (outbound RTP of its open connections).
PACKETS_SENT = """async () => {
  let sent = 0;
  for (const pc of window.peers.filter((p) => p.connectionState !== 'closed')) {
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'audio') sent += r.packetsSent;
    });
  }
  return sent;
}"""


def loud(listener: Viewer, since: float) -> bool:
    """Some audio heard since then is clearly not silence (the fake microphone beeps)."""
    return any(at >= since and float((p**2).mean() ** 0.5) >= 100 for at, p in listener.heard)


async def remote_page(browser: Any, room: Room, viewport: dict[str, int], locale: str) -> Page:
    _, page = await new_page(browser, viewport, locale=locale)
    await page.add_init_script(WATCH)
    await page.goto(f"{room.server.http}/remote/{room.code}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    return page


async def invite(moderator: Client, page: Page, words: dict[str, str]) -> int:
    """The page raises its hand, the moderator invites it; the hand's id."""
    mark = len(moderator.messages)
    await page.get_by_role("button", name=words["speak.raise"]).click()
    await expect(page.locator("#speak-status")).to_have_text(words["speak.waiting"])
    hands = await moderator.wait_for(
        lambda m: m["type"] == "hands" and any(h["status"] == "raised" for h in m["hands"]),
        start=mark,
    )
    hand = next(h for h in hands["hands"] if h["status"] == "raised")
    assert (await moderator.request({"type": "hand.invite", "hand": hand["id"]}))["type"] == "ack"
    return int(hand["id"])


def mic_of(moderator: Client, hand: int) -> str | None:
    """The microphone problem of the hand in the moderator's latest `hands` message."""
    last = [m for m in moderator.messages if m["type"] == "hands"][-1]
    return next((h["mic"] for h in last["hands"] if h["id"] == hand), None)


def status_of(moderator: Client, hand: int) -> str | None:
    """The hand's status in the moderator's latest `hands` message."""
    last = [m for m in moderator.messages if m["type"] == "hands"][-1]
    return next((h["status"] for h in last["hands"] if h["id"] == hand), None)


async def test_a_refused_microphone_is_said_the_turn_stays_and_try_again_works(
    room: Room,
) -> None:
    """Without the browser's permission (headless Chromium dismisses the prompt): the page
    says so in Swedish (and English on an English page), asks only once, offers "Försök
    igen", and the hand stays on stage for the moderator, whose console says the
    microphone is blocked. Once allowed, "Försök igen" publishes, the room hears the
    microphone and the console's note goes."""
    moderator = await room.moderator()
    listener = room_audio(room.server.http, room.session, room.moderator_token)
    assert (await listener.start()).status == 201
    async with chromium([FAKE_DEVICE]) as browser:
        eva = await remote_page(browser, room, PHONE, "sv-SE")
        olle = await remote_page(browser, room, PHONE, "en-GB")
        eva_hand = await invite(moderator, eva, SV)
        olle_hand = await invite(moderator, olle, EN)
        for page, words in ((eva, SV), (olle, EN)):
            mic = page.locator("#speak-mic")
            await expect(mic).to_have_attribute("data-state", "denied", timeout=10_000)
            await expect(mic).to_have_text(words["speak.mic_denied"])
            await expect(page.get_by_role("button", name=words["speak.mic_retry"])).to_be_visible()
            await expect(page.locator("#speak-status")).to_have_text(words["speak.invited"])
        await asyncio.sleep(2)  # nothing asks again by itself, nothing lowers the hand
        assert await eva.evaluate("window.micAsked") == 1
        assert status_of(moderator, eva_hand) == "on_stage"
        assert status_of(moderator, olle_hand) == "on_stage"
        # The moderator is told why the room hears nothing: beside the hand in the console.
        assert mic_of(moderator, eva_hand) == "denied" and mic_of(moderator, olle_hand) == "denied"
        console = await open_console(browser, room)
        await console_ready(console)
        eva_row = console.locator(f"#hands-list > li[data-id='{eva_hand}']")
        await expect(eva_row.locator(".hand-badge.problem")).to_have_text(SV["hands.mic_denied"])
        await eva_row.scroll_into_view_if_needed()
        await screenshot(console, "console-hands-mic-denied")
        assert await axe_violations(console) == []
        await screenshot(eva, "remote-mic-denied-phone")
        assert await axe_violations(eva) == []
        assert await axe_violations(olle) == []
        # The retry button and the leave button sit on the first screen at 360 px, unclipped.
        for button in ("#speak-retry", "#speak-lower"):
            await eva.locator(button).scroll_into_view_if_needed()
            box = await eva.locator(button).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
            assert box["height"] >= 44, box

        await eva.context.grant_permissions(["microphone"], origin=room.server.http)
        pressed = time.monotonic()
        await eva.get_by_role("button", name=SV["speak.mic_retry"]).click()
        await expect(eva.locator("#speak-mic")).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        await expect(eva.locator("#speak-retry")).to_be_hidden()
        await expect(eva_row.locator(".hand-badge.problem")).to_have_count(0)  # works now
        assert mic_of(moderator, eva_hand) is None
        assert await wait_until(lambda: loud(listener, pressed), 10), "the room heard nothing"
        print(f"heard in the room {time.monotonic() - pressed:.2f} s after Försök igen")
        assert eva.console_errors == [], eva.console_errors  # type: ignore[attr-defined]
    await listener.stop()


async def test_muted_by_the_moderator_the_page_says_so_and_sends_nothing(room: Room) -> None:
    """On stage and heard; `hand.mute`: the page says "Din mikrofon är avstängd" and its
    connection sends no audio packet at all (the browser's own counters), not only the
    server dropping them; unmuted, it sends and the room hears it again."""
    moderator = await room.moderator()
    listener = room_audio(room.server.http, room.session, room.moderator_token)
    assert (await listener.start()).status == 201
    async with chromium(FAKE_MEDIA) as browser:
        page = await remote_page(browser, room, LAPTOP, "sv-SE")
        hand = await invite(moderator, page, SV)
        mic = page.locator("#speak-mic")
        await expect(mic).to_have_attribute("data-state", "live", timeout=15_000)
        before = await page.evaluate(PACKETS_SENT)
        await asyncio.sleep(1)
        assert await page.evaluate(PACKETS_SENT) > before + 20, "not sending while on stage"

        assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": True}))[
            "type"
        ] == "ack"
        await expect(mic).to_have_attribute("data-state", "muted", timeout=3_000)
        await expect(mic).to_have_text(SV["speak.mic_muted"])
        await expect(page.locator("#speak-status")).to_have_text(SV["speak.muted"])
        await asyncio.sleep(0.5)  # packets already on their way
        muted = await page.evaluate(PACKETS_SENT)
        await asyncio.sleep(1.5)
        assert await page.evaluate(PACKETS_SENT) == muted, "the muted page still sends"
        await screenshot(page, "remote-on-stage-muted-laptop")
        assert await axe_violations(page) == []

        unmuted = time.monotonic()
        assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": False}))[
            "type"
        ] == "ack"
        await expect(mic).to_have_attribute("data-state", "live", timeout=3_000)
        assert await wait_until(lambda: loud(listener, unmuted + 0.3), 5), "not heard again"
        await asyncio.sleep(1)
        assert await page.evaluate(PACKETS_SENT) > muted + 20, "not sending again"
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    await listener.stop()


async def test_a_dropped_connection_on_stage_is_made_again_by_itself(room: Room) -> None:
    """On stage and heard; the server process is killed and started again on the same
    ports (the hand is still on stage in its log): the page says it reconnects within
    3 s (its realtime connection noticed, not ICE's 5 s and more) and publishes again by itself with the microphone it has, heard in the room within
    seconds, with a growing pause (a handful of offers, not a storm). Off stage it stops."""
    moderator = await room.moderator()
    async with chromium(FAKE_MEDIA) as browser:
        page = await remote_page(browser, room, LAPTOP, "sv-SE")
        offers: list[float] = []
        page.on(
            "request",
            lambda r: (
                offers.append(time.monotonic())
                if "/whip-stage/" in r.url and r.method == "POST"
                else None
            ),
        )
        hand = await invite(moderator, page, SV)
        mic = page.locator("#speak-mic")
        await expect(mic).to_have_attribute("data-state", "live", timeout=15_000)
        assert len(offers) == 1

        room.server.kill()
        killed = time.monotonic()
        await expect(mic).to_have_attribute("data-state", "reconnecting", timeout=15_000)
        await expect(mic).to_have_text(SV["speak.mic_reconnecting"])
        noticed = time.monotonic() - killed
        print(f"page reconnecting {noticed:.1f} s after the server died")
        # The realtime socket closes with the server and the return feed stops: the voice
        # is made again after SILENT_MS (1 s), not when ICE gives up (7.9-9.4 s before).
        assert noticed < 3.0, noticed
        await asyncio.sleep(1)
        room.server.start()
        restarted = time.monotonic()
        listener = room_audio(room.server.http, room.session, room.moderator_token)
        assert (await listener.start()).status == 201
        await expect(mic).to_have_attribute("data-state", "live", timeout=20_000)
        assert await wait_until(lambda: loud(listener, restarted), 10), "not heard again"
        print(
            f"heard again {time.monotonic() - restarted:.1f} s after the restart,"
            f" {len(offers)} offers in all"
        )
        assert 2 <= len(offers) <= 6, offers
        # The realtime connection resumed too: the hand events it had seen before the drop
        # are not replayed to it (a replayed "raised" would take the page off stage for a
        # moment, drop the microphone and ask for it again).
        await expect(page.locator("body")).to_have_attribute(
            "data-connection", "live", timeout=15_000
        )
        resumed = time.monotonic()
        await asyncio.sleep(1)
        assert await page.evaluate("window.micAsked") == 1  # the same microphone all along
        await expect(mic).to_have_attribute("data-state", "live")
        assert await wait_until(lambda: loud(listener, resumed + 0.5), 3), "silent after resuming"

        moderator = await room.moderator()
        assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
        await expect(mic).to_be_hidden()
        count = len(offers)
        await asyncio.sleep(3)
        assert len(offers) == count, "the page kept publishing after the end"
    await listener.stop()


async def test_a_realtime_drop_alone_keeps_the_voice_on_stage(room: Room) -> None:
    """On stage and heard; only the page's realtime socket is cut (Playwright closes it
    between page and server; the media's connection is untouched): the page connects its
    realtime socket again, and the voice, whose return feed still arrives, is not made
    again: one offer in all, never "reconnecting", the room hears it throughout."""
    moderator = await room.moderator()
    listener = room_audio(room.server.http, room.session, room.moderator_token)
    assert (await listener.start()).status == 201
    async with chromium(FAKE_MEDIA) as browser:
        _, page = await new_page(browser, LAPTOP, locale="sv-SE")
        await page.add_init_script(WATCH)
        # Every state the microphone line shows, in order (a flicker would be missed by
        # polling the attribute).
        await page.add_init_script(
            """addEventListener('DOMContentLoaded', () => {
              window.micStates = [];
              const mic = document.getElementById('speak-mic');
              new MutationObserver(() => window.micStates.push(mic.dataset.state))
                .observe(mic, {attributes: true, attributeFilter: ['data-state']});
            });"""
        )
        sockets: list[Any] = []

        def through(route: Any) -> None:
            route.connect_to_server()
            sockets.append(route)

        await page.route_web_socket("**/ws", through)
        offers: list[float] = []
        page.on(
            "request",
            lambda r: (
                offers.append(time.monotonic())
                if "/whip-stage/" in r.url and r.method == "POST"
                else None
            ),
        )
        await page.goto(f"{room.server.http}/remote/{room.code}")
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")
        await invite(moderator, page, SV)
        mic = page.locator("#speak-mic")
        await expect(mic).to_have_attribute("data-state", "live", timeout=15_000)
        assert len(offers) == 1 and len(sockets) == 1

        await sockets[0].close()
        cut = time.monotonic()
        assert await wait_until(lambda: len(sockets) == 2, 10), "no new realtime connection"
        await expect(page.locator("body")).to_have_attribute(
            "data-connection", "live", timeout=10_000
        )
        await asyncio.sleep(2.5)  # past the 1 s check of the return feed, with room to spare
        assert len(offers) == 1, offers
        assert "reconnecting" not in await page.evaluate("window.micStates")
        await expect(mic).to_have_attribute("data-state", "live")
        assert await wait_until(lambda: loud(listener, cut + 1.5), 3), "silent after the cut"
        assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
    await listener.stop()
