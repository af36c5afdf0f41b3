"""The remote page in Chromium across a break: an aiortc publisher sends the camera, the
moderator moves into the break and out of it, and the page's one WHEP connection keeps
playing — the slate drawn by the server during the break, the camera after it."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Browser, Page, expect

from companion.media.slate import SlateKind
from companion.media.slate_picture import BACKGROUNDS
from tests.e2e.browser import LAPTOP, chromium, new_page, screenshot
from tests.e2e.conftest import Room
from tests.media.peers import CounterTrack, Publisher, ToneTrack, http
from tests.serverproc import ServerProcess

pytestmark = pytest.mark.timeout(90)

# The colour of the video's bottom right corner, where a slate has only its background.
CORNER = """() => {
  const v = document.getElementById('stream-video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(Math.floor(c.width * 0.97), Math.floor(c.height * 0.97), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


async def advancing(page: Page) -> None:
    """The page's video plays: its time advances by half a second."""
    first = await page.evaluate("document.getElementById('stream-video').currentTime")
    await page.wait_for_function(
        f"() => document.getElementById('stream-video').currentTime > {first} + 0.5",
        timeout=5_000,
    )


async def stream_key(room: Room) -> str:
    """The session's stream key, as the console's stream settings give it."""
    answer = await http(
        "GET",
        f"{room.server.http}/api/stream/{room.session}",
        token=room.moderator_token,
        content_type=None,
    )
    return str(json.loads(answer.body)["stream_key"])


async def playing_remote_page(
    browser: Browser, server: ServerProcess, code: str
) -> tuple[Page, list[str]]:
    """The remote page (a remote participant's profile) playing the stream, with the WHEP
    offers it has posted (one while it never reconnects)."""
    _, remote = await new_page(browser, LAPTOP)
    await remote.add_init_script(
        f"localStorage.setItem('companion.profile', {json.dumps(json.dumps({'where': 'remote'}))})"
    )
    offers: list[str] = []
    remote.on(
        "request",
        lambda r: offers.append(r.url) if "/whep/" in r.url and r.method == "POST" else None,
    )
    await remote.goto(f"{server.http}/remote/{code}")
    await remote.wait_for_function(
        "() => { const v = document.getElementById('stream-video');"
        " return v.videoWidth > 0 && v.currentTime > 0.2; }",
        timeout=15_000,
    )
    await advancing(remote)
    return remote, offers


def near(colour: list[int], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 25 for a, b in zip(colour, want, strict=True))


async def shows_slate(
    page: Page, want: bool, timeout: float = 3.0, kind: SlateKind = SlateKind.PLANNED
) -> bool:
    """Whether the video's picture becomes (or stops being) that slate in time."""
    slate = BACKGROUNDS[kind]
    for _ in range(int(timeout / 0.1)):
        if near(await page.evaluate(CORNER), slate) == want:
            return True
        await page.wait_for_timeout(100)
    return False


async def test_the_remote_page_keeps_playing_across_the_break(room: Room) -> None:
    """One WHEP connection: camera, the slate within a second of the move into the break
    (still playing), the camera again after it (still playing); no reconnect, no error."""
    server = room.server
    publisher = Publisher(
        server.http, room.session, await stream_key(room), CounterTrack(640, 360), ToneTrack()
    )
    assert (await publisher.start()).status == 201
    moderator = await room.moderator()
    assert (await moderator.request({"type": "agenda.goto", "item": "valkommen"}))["type"] == "ack"
    try:
        async with chromium() as browser:
            remote, offers = await playing_remote_page(browser, server, room.code)
            assert await shows_slate(remote, False)

            reply = await moderator.request({"type": "agenda.goto", "item": "fika"})
            assert reply["type"] == "ack"
            assert await shows_slate(remote, True), await remote.evaluate(CORNER)
            await advancing(remote)  # still playing, the slate's countdown running
            await expect(remote.locator("#stream-status")).to_be_hidden()
            await screenshot(remote, "stream-remote-slate")

            assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
            assert await shows_slate(remote, False), await remote.evaluate(CORNER)
            await advancing(remote)
            assert len(offers) == 1, offers  # never reconnected
            assert remote.console_errors == [], remote.console_errors  # type: ignore[attr-defined]
    finally:
        await publisher.stop()


async def test_the_remote_page_shows_right_back_while_the_publisher_is_gone(room: Room) -> None:
    """A publisher that vanishes (no DELETE): the page shows the server's "right back" slate,
    also once the server has declared the stream offline; the next publisher's camera on the
    same connection; a publisher that stops (DELETE) leaves the page saying offline."""
    server = room.server
    key = await stream_key(room)
    moderator = await room.moderator()
    publisher = Publisher(server.http, room.session, key, CounterTrack(640, 360))
    assert (await publisher.start()).status == 201
    try:
        async with chromium() as browser:
            remote, offers = await playing_remote_page(browser, server, room.code)

            mark = len(moderator.messages)
            await publisher.stop(delete=False)  # the encoder dies without a word
            assert await shows_slate(remote, True, kind=SlateKind.RIGHT_BACK)
            await moderator.wait_for(
                lambda m: m["type"] == "session" and m["session"]["stream"]["status"] == "offline",
                timeout=20,
                start=mark,
            )
            await remote.wait_for_timeout(3000)  # offline for the page's status too by now
            assert await shows_slate(remote, True, timeout=0.2, kind=SlateKind.RIGHT_BACK)
            await expect(remote.locator("#stream-status")).to_be_hidden()
            await advancing(remote)

            publisher = Publisher(server.http, room.session, key, CounterTrack(640, 360))
            assert (await publisher.start()).status == 201
            assert await shows_slate(remote, False, timeout=5, kind=SlateKind.RIGHT_BACK)
            await advancing(remote)
            assert len(offers) == 1, offers  # the same connection all along

            await publisher.stop()  # DELETE: stopped on purpose
            await expect(remote.locator("#stream-status")).to_have_attribute(
                "data-status", "offline", timeout=6_000
            )
            await expect(remote.locator("#stream-status")).to_be_visible()
            assert remote.console_errors == [], remote.console_errors  # type: ignore[attr-defined]
    finally:
        await publisher.stop()
