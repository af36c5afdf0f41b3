"""A speaker's camera from the remote page in Chromium (fake camera and microphone): the
choice "Visa min kamera också" is off by default; ticked, the page publishes the camera
with the microphone once invited, and the stream shows it as a tile in the top right
corner over the room's plain blue picture (an aiortc WHEP viewer decodes it, and
/healthz/media counts it) until the turn ends. A camera the browser refuses leaves the
microphone alone on stage, and the page says so in plain words."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from playwright.async_api import Page, expect

from companion.media.camera_tile import tile_boxes, tile_size
from companion.web.i18n import catalogue
from tests.e2e.accessibility import reflow_problems
from tests.e2e.browser import LAPTOP, PHONE, axe_violations, chromium, new_page, screenshot
from tests.e2e.conftest import Room
from tests.e2e.test_stream_slate_browser import stream_key
from tests.media.peers import Publisher, Viewer, http, wait_until
from tests.media.test_camera_tile import SolidTrack
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)

SV = catalogue("sv")
BLUE = (30, 60, 200)  # the room's plain picture: Chromium's fake camera is green
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
# The browser refuses the camera (and so the camera and microphone asked for together),
# as when a person blocks the camera for the site; the microphone alone is still allowed.
NO_CAMERA = """(() => {
  const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) => constraints.video
    ? Promise.reject(new DOMException("Permission denied", "NotAllowedError"))
    : ask(constraints);
})()"""


async def broadcast(room: Room) -> dict:
    answer = await http("GET", f"{room.server.http}/healthz/media", content_type=None)
    return json.loads(answer.body)["broadcasts"].get(room.session, {})


def corner_not_blue(frame: av.VideoFrame) -> tuple[bool, bool]:
    """(the tile's corner shows something else than the room's blue, the opposite corner
    is still blue) of a decoded frame of the stream."""
    rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
    height, width = rgb.shape[:2]
    box = tile_boxes([tile_size(16, 9, width, height)], width, height)[0]
    tile = rgb[box.y + 4 : box.y + box.height - 4, box.x + 4 : box.x + box.width - 4]
    other = rgb[box.y : box.y + box.height, 4 : 4 + box.width]
    off = float(np.abs(tile - np.array(BLUE)).mean())
    return off > 40, float(np.abs(other - np.array(BLUE)).mean()) < 20


async def invited(remote: Page, moderator: Client) -> int:
    """Raise the hand on the page and have the moderator invite it; the hand's id."""
    await remote.get_by_role("button", name=SV["speak.raise"]).click()
    await expect(remote.locator("#speak-status")).to_have_text(SV["speak.waiting"])
    hands = await moderator.wait_for(lambda m: m["type"] == "hands" and m["hands"])
    hand = hands["hands"][0]["id"]
    assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
    await expect(remote.locator("#speak-mic")).to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    return int(hand)


async def test_a_ticked_camera_is_shown_in_the_stream_while_on_stage(room: Room) -> None:
    moderator = await room.moderator()
    token = await stream_key(room)
    room_publisher = Publisher(room.server.http, room.session, token, SolidTrack(BLUE, 640, 360))
    assert (await room_publisher.start()).status == 201
    seen: list[tuple[bool, bool]] = []
    viewer = Viewer(
        room.server.http,
        room.session,
        room.moderator_token,
        audio=False,
        on_picture=lambda frame, _: seen.append(corner_not_blue(frame)),
    )
    assert (await viewer.start()).status == 201
    async with chromium(FAKE_MEDIA) as browser:
        _, remote = await new_page(browser, LAPTOP)
        await remote.goto(f"{room.server.http}/remote/{room.code}")
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
        choice = remote.get_by_label(SV["speak.camera_choice"])
        await expect(choice).not_to_be_checked()  # off by default
        await choice.check()
        assert await axe_violations(remote) == []
        # On a phone the choice is whole on the screen and nothing goes sideways.
        await remote.set_viewport_size(PHONE)
        await choice.scroll_into_view_if_needed()
        box = await choice.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert await reflow_problems(remote) == []
        await screenshot(remote, "remote-speak-camera-choice-phone")
        await remote.set_viewport_size(LAPTOP)
        # Frames of the room's picture (not a slate while the publisher's media starts).
        assert await wait_until(lambda: sum(rest for _, rest in seen) >= 10, 15), (
            "the viewer decoded no picture of the room"
        )
        assert not any(tile for tile, rest in seen if rest), "a tile before anyone is on stage"

        hand = await invited(remote, moderator)
        await expect(remote.locator("#speak-camera-note")).to_have_text(SV["speak.camera_on"])
        await expect(remote.locator("#speak-camera-note")).to_be_visible()
        before = len(seen)
        assert await wait_until(lambda: sum(t and r for t, r in seen[before:]) >= 15, 15), (
            "the stream never showed the speaker's camera"
        )
        stats = await broadcast(room)
        assert stats["cameras"] == 1 and stats["camera_tiles"] == 1, stats
        # The tile stays in its corner: the other corner shows the room's picture.
        assert all(rest for tile, rest in seen[before:] if tile)
        await remote.locator("#speak-panel").scroll_into_view_if_needed()
        await screenshot(remote, "remote-on-stage-camera-laptop")
        assert await axe_violations(remote) == []
        await remote.set_viewport_size(PHONE)
        await remote.locator("#speak-camera-note").scroll_into_view_if_needed()
        assert await reflow_problems(remote) == []
        await screenshot(remote, "remote-on-stage-camera-phone")
        await remote.set_viewport_size(LAPTOP)

        reply = await moderator.request({"type": "hand.end", "hand": hand})
        assert reply["type"] == "ack", reply
        await expect(remote.locator("#speak-form")).to_be_visible()
        await expect(remote.locator("#speak-camera-note")).to_be_hidden()

        async def kept() -> int:
            return int((await broadcast(room)).get("cameras", -1))

        for _ in range(50):
            if await kept() == 0:
                break
            await remote.wait_for_timeout(100)
        assert await kept() == 0, "the speaker's camera is still kept after the turn"
        ended = len(seen)
        assert await wait_until(lambda: len(seen) >= ended + 30, 10)
        after = [tile for tile, rest in seen[ended + 15 :] if rest]
        assert after and not any(after), "the tile stayed after the turn"
        # The page let the camera go with the microphone.
        assert remote.console_errors == []  # type: ignore[attr-defined]
    await viewer.stop()
    await room_publisher.stop()


async def test_a_refused_camera_leaves_the_microphone_and_says_so(room: Room) -> None:
    moderator = await room.moderator()
    token = await stream_key(room)
    room_publisher = Publisher(room.server.http, room.session, token, SolidTrack(BLUE, 640, 360))
    assert (await room_publisher.start()).status == 201
    async with chromium(FAKE_MEDIA) as browser:
        _, remote = await new_page(browser, LAPTOP)
        await remote.add_init_script(NO_CAMERA)
        await remote.goto(f"{room.server.http}/remote/{room.code}")
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
        await remote.get_by_label(SV["speak.camera_choice"]).check()
        await invited(remote, moderator)
        await expect(remote.locator("#speak-mic")).to_have_text(SV["speak.mic_live"])
        note = remote.locator("#speak-camera-note")
        await expect(note).to_have_text(SV["speak.camera_refused"])
        await expect(note).to_be_visible()
        assert await axe_violations(remote) == []
        stats = await broadcast(room)
        assert stats["cameras"] == 0 and stats["voices"] == 1, stats
    await room_publisher.stop()
