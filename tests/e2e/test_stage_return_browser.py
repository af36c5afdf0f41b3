"""The speaker's return feed in Chromium (mix-minus): an aiortc publisher sends the camera
and the room's 1 kHz tone, a remote participant plays the stream, raises a hand and is
invited; on stage the page's stream video is muted and an audio element plays the return
feed, in which Web Audio finds the room's tone; after the turn the stream's sound is as
the person had it before, unmuted or muted."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from companion.web.i18n import catalogue
from tests.e2e.accessibility import reflow_problems
from tests.e2e.browser import LAPTOP, PHONE, axe_violations, chromium, screenshot
from tests.e2e.conftest import Room
from tests.e2e.test_stream_slate_browser import playing_remote_page, stream_key
from tests.media.peers import ROOM_HZ, CounterTrack, Publisher, ToneTrack
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)

SV = catalogue("sv")
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# The loudest frequency of what the return-feed element plays, by Web Audio, over 1.5 s.
LOUDEST = """async () => {
  const audio = document.querySelector('audio.stream-return');
  const context = new AudioContext();
  await context.resume();
  const analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaStreamSource(audio.srcObject).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const sum = new Float32Array(analyser.frequencyBinCount).fill(0);
  for (let i = 0; i < 15; i++) {
    await new Promise((r) => setTimeout(r, 100));
    analyser.getFloatFrequencyData(bins);
    bins.forEach((v, k) => { sum[k] += Math.pow(10, v / 20); });
  }
  let best = 1;
  for (let k = 1; k < sum.length; k++) if (sum[k] > sum[best]) best = k;
  context.close();
  return best * context.sampleRate / analyser.fftSize;
}"""

STREAM_MUTED = "document.getElementById('stream-video').muted"


async def one_turn(remote: Page, moderator: Client, before: str) -> None:
    """Raise a hand (a new one, not `before`), be invited, be on stage, be ended."""
    await remote.get_by_role("button", name=SV["speak.raise"]).click()
    await expect(remote.locator("#speak-status")).to_have_text(SV["speak.waiting"])
    hands = await moderator.wait_for(
        lambda m: (
            m["type"] == "hands"
            and any(h["status"] == "raised" and h["id"] != before for h in m["hands"])
        )
    )
    hand = next(h["id"] for h in hands["hands"] if h["status"] == "raised" and h["id"] != before)
    reply = await moderator.request({"type": "hand.invite", "hand": hand})
    assert reply["type"] == "ack", reply
    await expect(remote.locator("#speak-mic")).to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    await expect(remote.locator("audio.stream-return")).to_have_count(1, timeout=10_000)
    return_state = await remote.evaluate(
        "() => { const a = document.querySelector('audio.stream-return');"
        " return [a.paused, a.srcObject.getAudioTracks()[0].readyState]; }"
    )
    assert return_state == [False, "live"], return_state
    assert await remote.evaluate(STREAM_MUTED), "the stream's own sound plays on stage"
    await moderator.request({"type": "hand.end", "hand": hand})
    await expect(remote.locator("#speak-form")).to_be_visible()
    await expect(remote.locator("audio.stream-return")).to_have_count(0)


async def test_on_stage_the_page_plays_the_return_feed_instead_of_the_stream(room: Room) -> None:
    moderator = await room.moderator()
    room_publisher = Publisher(
        room.server.http, room.session, await stream_key(room), CounterTrack(), ToneTrack(ROOM_HZ)
    )
    assert (await room_publisher.start()).status == 201
    async with chromium(FAKE_MEDIA) as browser:
        remote, _ = await playing_remote_page(browser, room.server, room.code)
        missing: list[str] = []  # what the page asked for and got 404
        remote.on(
            "response",
            lambda r: missing.append(f"{r.request.method} {r.url}") if r.status == 404 else None,
        )
        # The person listens to the stream: sound on.
        await remote.get_by_role("button", name=SV["stream.unmute"]).click()
        assert not await remote.evaluate(STREAM_MUTED)

        await remote.get_by_role("button", name=SV["speak.raise"]).click()
        hands = await moderator.wait_for(lambda m: m["type"] == "hands" and m["hands"])
        hand = hands["hands"][0]["id"]
        assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
        await expect(remote.locator("#speak-mic")).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        # On stage: the stream's video is muted (its picture goes on), the return plays,
        # and the page says what the person hears.
        await expect(remote.locator("audio.stream-return")).to_have_count(1, timeout=10_000)
        await expect(remote.locator("#speak-return")).to_have_text(SV["speak.return"])
        await expect(remote.locator("#speak-return")).to_be_visible()
        assert await remote.evaluate(STREAM_MUTED), "the stream's own sound plays on stage"
        assert not await remote.evaluate("document.querySelector('audio.stream-return').paused")
        first = await remote.evaluate("document.getElementById('stream-video').currentTime")
        await remote.wait_for_function(
            f"() => document.getElementById('stream-video').currentTime > {first} + 0.5"
        )
        loudest = await remote.evaluate(LOUDEST)
        print(f"the return feed's loudest frequency on the page: {loudest:.0f} Hz")
        assert abs(loudest - ROOM_HZ) < 20, loudest
        # The mute button now acts on what the speaker hears: the return feed.
        await expect(remote.get_by_role("button", name=SV["stream.mute"])).to_be_visible()
        await screenshot(remote, "remote-on-stage-return-laptop")
        assert await axe_violations(remote) == []
        # On a phone: the panel's words wrap, nothing sideways or cut off.
        await remote.set_viewport_size(PHONE)
        await remote.locator("#speak-return").scroll_into_view_if_needed()
        await screenshot(remote, "remote-on-stage-return-phone")
        assert await reflow_problems(remote) == []
        await remote.set_viewport_size(LAPTOP)

        # The turn ends: no return, and the stream's sound is on again, as it was.
        assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
        await expect(remote.locator("audio.stream-return")).to_have_count(0, timeout=10_000)
        assert not await remote.evaluate(STREAM_MUTED), "the stream's sound did not come back"
        await expect(remote.locator("#speak-return")).to_be_hidden()

        # Another turn with the stream's sound off: off again afterwards.
        await remote.get_by_role("button", name=SV["stream.mute"]).click()
        assert await remote.evaluate(STREAM_MUTED)
        await one_turn(remote, moderator, hand)
        assert await remote.evaluate(STREAM_MUTED), "the stream's sound came on by itself"
        # No script error, and no DELETE of a voice the server had already ended with the
        # turn (it would get a 404, which Chromium logs as an error).
        assert remote.console_errors == []  # type: ignore[attr-defined]
        assert missing == []
    await room_publisher.stop()
