"""On stage in Chromium with a fake microphone: a remote participant raises a hand, the
moderator invites, the remote page publishes the microphone over /whip-stage, and both an
aiortc listener on /whep-room-audio and the room-audio page in Chromium hear it; after
`hand.end` the page lets the microphone go and the room is silent within a second."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, axe_violations, chromium, new_page, screenshot
from tests.e2e.conftest import Room
from tests.media.peers import Viewer, wait_until

SV = catalogue("sv")
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def loud(listener: Viewer, since: float) -> bool:
    """Some audio heard since then is clearly not silence (the fake microphone beeps)."""
    return any(at >= since and float((p**2).mean() ** 0.5) >= 100 for at, p in listener.heard)


async def test_the_invited_participants_microphone_plays_in_the_room(room: Room) -> None:
    moderator = await room.moderator()
    async with chromium(FAKE_MEDIA) as browser:
        _, remote = await new_page(browser, LAPTOP)
        await remote.goto(f"{room.server.http}/remote/{room.code}")
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")

        _, speakers = await new_page(browser, LAPTOP)
        await speakers.goto(
            f"{room.server.http}/room-audio/{room.session}#key={room.moderator_token}"
        )
        await speakers.get_by_role("button", name=SV["roomaudio.start"]).click()
        await expect(speakers.locator("#room-audio")).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        assert await axe_violations(speakers) == []
        listener = Viewer(
            room.server.http,
            room.session,
            room.moderator_token,
            video=False,
            endpoint="whep-room-audio",
        )
        assert (await listener.start()).status == 201

        await remote.get_by_role("button", name=SV["speak.raise"]).click()
        await expect(remote.locator("#speak-status")).to_have_text(SV["speak.waiting"])
        await asyncio.sleep(1.0)
        assert not loud(listener, 0), "the room heard a participant before the invitation"
        assert await speakers.locator("#room-audio").get_attribute("data-level") in ("0", "0.0000")

        hands = await moderator.wait_for(lambda m: m["type"] == "hands" and m["hands"])
        invited = time.monotonic()
        hand = hands["hands"][0]["id"]
        assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
        await expect(remote.locator("#speak-mic")).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        await expect(remote.locator("#speak-mic")).to_have_text(SV["speak.mic_live"])
        assert await wait_until(lambda: loud(listener, invited), 10), "the room heard nothing"
        print(
            f"microphone heard in the room {time.monotonic() - invited:.2f} s after the invitation"
        )
        # The room-audio page plays it too: its meter moves.
        await speakers.wait_for_function(
            "() => Number(document.getElementById('room-audio').dataset.level) > 0.005",
            timeout=10_000,
        )
        await screenshot(remote, "remote-on-stage-laptop")
        await screenshot(speakers, "room-audio-laptop")
        assert await axe_violations(remote) == []

        ended = time.monotonic()
        assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
        await expect(remote.locator("#speak-form")).to_be_visible()
        await asyncio.sleep(1.5)
        quiet = listener.heard.silent_since(ended)
        assert quiet is not None and quiet - ended < 1.0, (quiet, ended)
        # The page let the microphone go: StageVoice stops its tracks as it says "off".
        await expect(remote.locator("#speak-mic")).to_have_attribute("data-state", "off")
        await expect(remote.locator("#speak-mic")).to_be_hidden()
        await listener.stop()
