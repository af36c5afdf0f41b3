"""A remote speaker's camera as a tile in the stream (companion.media.camera_tile, with
`/whip-stage` in companion.media.stage_voices and the broadcast's encoder thread).

With real aiortc peers on a real server: the room publisher sends a plain green picture,
an invited participant a tone and a plain magenta picture; a WHEP viewer decodes every
frame and finds the magenta tile in the top right corner while the speaker is on stage,
never anywhere else, and none within two seconds after `hand.end`. An uninvited
participant's offer with video is refused (403) and nothing of it appears.
"""

from __future__ import annotations

import time

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack

from companion.media.camera_tile import CameraTiles, tile_boxes, tile_size
from companion.media.name_card import card_boxes
from tests.media.conftest import Stage
from tests.media.peers import Publisher, ToneTrack, negotiate, wait_until
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SESSION = "ledarskap-2020-05-05"
MAGENTA = (255, 0, 255)
GREEN = (0, 160, 0)


def solid(rgb: tuple[int, int, int], width: int, height: int) -> av.VideoFrame:
    picture = np.empty((height, width, 3), np.uint8)
    picture[:] = rgb
    return av.VideoFrame.from_ndarray(picture, format="rgb24")


class SolidTrack(VideoStreamTrack):
    """A plain picture of one colour, 30 frames a second; `paused` sends nothing."""

    def __init__(self, rgb: tuple[int, int, int], width: int, height: int) -> None:
        super().__init__()
        self.frame = solid(rgb, width, height).reformat(format="yuv420p")
        self.paused = False
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        while True:
            pts, time_base = await self.next_timestamp()
            if not self.paused:
                break
        frame = av.VideoFrame.from_ndarray(self.frame.to_ndarray(), format="yuv420p")
        frame.pts, frame.time_base = pts, time_base
        self.sent += 1
        return frame


def near(got: np.ndarray, want: tuple[int, int, int]) -> bool:
    return all(abs(float(a) - b) < 40 for a, b in zip(got, want, strict=True))


def tiles_in(frame: av.VideoFrame) -> tuple[bool, bool]:
    """(a magenta tile in the top right corner, magenta anywhere else) of a decoded frame."""
    rgb = frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    box = tile_boxes([tile_size(320, 240, width, height)], width, height)[0]
    inner = rgb[box.y + 4 : box.y + box.height - 4, box.x + 4 : box.x + box.width - 4]
    tile = near(inner.reshape(-1, 3).mean(axis=0), MAGENTA)
    rest = rgb.copy()
    rest[box.y : box.y + box.height, box.x : box.x + box.width] = GREEN
    magenta = (rest[:, :, 0] > 180) & (rest[:, :, 1] < 80) & (rest[:, :, 2] > 180)
    return tile, bool(magenta.sum() > 50)


def test_a_tile_is_scaled_once_per_new_frame_and_goes_with_its_speaker() -> None:
    tiles = CameraTiles()
    size = (640, 360)
    patches = tiles.patches([("eva", solid(MAGENTA, 320, 240))], size)
    assert tiles.scaled == 1 and len(patches) == 1
    box = patches[0].box
    assert (box.width, box.height) == tile_size(320, 240, *size) == (144, 108)
    # Top right, and clear of the lower third (two cards, the widest case).
    assert box.x + box.width <= size[0] and box.y >= 0
    assert box.y + box.height < min(card.y for card in card_boxes(2, *size))
    for _ in range(5):  # stream frames without a new camera frame: no scaling
        assert len(tiles.patches([("eva", None)], size)) == 1
    assert tiles.scaled == 1
    # Two speakers: two tiles, one below the other, both above the cards.
    two = tiles.patches([("eva", None), ("olle", solid(GREEN, 240, 320))], size)
    assert len(two) == 2 and two[1].box.y >= two[0].box.y + two[0].box.height
    assert two[1].box.y + two[1].box.height < min(card.y for card in card_boxes(2, *size))
    # Eva not shown any more (ended, or her camera stopped): her tile is gone for good.
    assert [p.box.height for p in tiles.patches([("olle", None)], size)] == [two[1].box.height]
    # Eva back in the list without a new frame: still no tile (no old face), Olle moves up.
    again = tiles.patches([("eva", None), ("olle", None)], size)
    assert [(p.box.y, p.box.height) for p in again] == [(two[0].box.y, two[1].box.height)]
    assert len(tiles.patches([("eva", None)], size)) == 0


async def test_the_speakers_camera_is_a_tile_in_the_stream_until_the_turn_ends(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    stage = Stage(media_server, SESSION, opened)
    moderator = await stage.moderator()
    seen: list[tuple[float, bool, bool]] = []  # arrival, tile in its corner, magenta elsewhere
    publisher, viewer = await stage.on_air(
        SolidTrack(GREEN, 640, 360),
        audio=False,
        on_picture=lambda frame, at: seen.append((at, *tiles_in(frame))),
    )
    assert await wait_until(lambda: len(seen) >= 20, 15), "the viewer decoded no picture"

    def since(moment: float) -> list[tuple[float, bool, bool]]:
        return [s for s in seen if s[0] >= moment]

    client = await Client.open(media_server.ws)
    opened.append(client)
    welcome = await client.join(code=stage.code, where="remote", name="Eva")
    token = welcome["participant"]["token"]

    # Not invited: an offer with video is refused and no magenta ever shows.
    refused = Publisher(
        media_server.http,
        SESSION,
        token,
        video=SolidTrack(MAGENTA, 320, 240),
        audio=ToneTrack(),
        endpoint="whip-stage",
    )
    tried = time.monotonic()
    assert (await refused.start()).status == 403
    await wait_until(lambda: False, 1.0)
    assert since(tried) and not any(tile or stray for _, tile, stray in since(tried))

    hand = (await client.request({"type": "hand.raise"}))["hand"]
    assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
    # Invited, but a camera without the microphone, or two cameras: 400, nothing shown.
    alone = Publisher(
        media_server.http,
        SESSION,
        token,
        video=SolidTrack(MAGENTA, 320, 240),
        endpoint="whip-stage",
    )
    assert (await alone.start()).status == 400
    await alone.stop(delete=False)
    two = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for rgb in (MAGENTA, MAGENTA):
        two.addTransceiver(SolidTrack(rgb, 320, 240), direction="sendonly")
    two.addTransceiver(ToneTrack(), direction="sendonly")
    answer = await negotiate(two, f"{media_server.http}/whip-stage/{SESSION}", token)
    assert answer.status == 400 and "at most one video" in answer.text, answer.text
    await two.close()
    camera = SolidTrack(MAGENTA, 320, 240)
    speaker = Publisher(
        media_server.http, SESSION, token, video=camera, audio=ToneTrack(), endpoint="whip-stage"
    )
    published = time.monotonic()
    assert (await speaker.start()).status == 201
    assert await wait_until(lambda: sum(t for _, t, _ in since(published)) >= 30, 15), (
        "the speaker's camera never showed in the stream"
    )
    first = min(at for at, tile, _ in since(published) if tile)
    print(f"camera tile {first - published:.2f} s after publishing")
    after = since(first + 0.3)
    assert after and all(tile and not stray for _, tile, stray in after)
    stats = (await stage.stats())["broadcasts"][SESSION]
    assert stats["camera_tiles"] == 1 and stats["cameras"] == 1
    # Scaled once per camera frame (about 30 a second), not more often than it sends.
    assert 0 < stats["camera_tiles_scaled"] <= camera.sent + 1

    # The camera stops sending (the voice goes on): no frozen face within about a second.
    camera.paused = True
    paused = time.monotonic()
    assert await wait_until(lambda: len(since(paused + 1.6)) >= 10, 10)
    assert not any(tile for _, tile, _ in since(paused + 1.6)), "a frozen face stayed on"
    camera.paused = False
    resumed = time.monotonic()
    assert await wait_until(lambda: sum(t for _, t, _ in since(resumed)) >= 10, 10)

    ended = time.monotonic()
    assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
    assert await wait_until(lambda: len(since(ended + 2.0)) >= 20, 10)
    gone = min(at for at, tile, _ in since(ended) if not tile)
    print(f"camera tile gone {gone - ended:.2f} s after hand.end")
    assert gone - ended < 2.0
    assert not any(tile or stray for _, tile, stray in since(gone))

    # Nothing of the speaker's camera is kept once the turn ended.
    async def kept() -> int:
        return int((await stage.stats())["broadcasts"][SESSION]["cameras"])

    assert await kept() == 0
    await speaker.stop(delete=False)
    await refused.stop(delete=False)
    await viewer.stop()
    await publisher.stop()


YELLOW = (255, 255, 0)


def colour_at(frame: av.VideoFrame, slot: int, count: int) -> tuple[int, ...]:
    """The mean colour inside tile `slot` of `count` tiles of 320x240 cameras."""
    rgb = frame.to_ndarray(format="rgb24")
    height, width = rgb.shape[:2]
    size = tile_size(320, 240, width, height)
    box = tile_boxes([size] * count, width, height)[slot]
    inner = rgb[box.y + 4 : box.y + box.height - 4, box.x + 4 : box.x + box.width - 4]
    return tuple(int(c) for c in inner.reshape(-1, 3).mean(axis=0))


async def test_two_speakers_with_cameras_get_two_tiles_and_the_first_to_go_leaves_one(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    stage = Stage(media_server, SESSION, opened)
    moderator = await stage.moderator()
    seen: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []  # top tile, second tile
    publisher, viewer = await stage.on_air(
        SolidTrack(GREEN, 640, 360),
        audio=False,
        on_picture=lambda frame, at: seen.append(
            (at, colour_at(frame, 0, 2), colour_at(frame, 1, 2))
        ),
    )
    speakers: list[Publisher] = []
    hands = []
    for name, rgb in (("Eva", MAGENTA), ("Olle", YELLOW)):
        client = await Client.open(media_server.ws)
        opened.append(client)
        token = (await client.join(code=stage.code, where="remote", name=name))["participant"][
            "token"
        ]
        hand = (await client.request({"type": "hand.raise"}))["hand"]
        assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
        hands.append(hand)
        speaker = Publisher(
            media_server.http,
            SESSION,
            token,
            video=SolidTrack(rgb, 320, 240),
            audio=ToneTrack(),
            endpoint="whip-stage",
        )
        assert (await speaker.start()).status == 201
        speakers.append(speaker)
        await wait_until(lambda: False, 0.5)  # Eva's camera first, then Olle's
    both = time.monotonic()

    def two_tiles(entry: tuple[float, tuple[int, ...], tuple[int, ...]]) -> bool:
        _, top, second = entry
        return near(np.array(top), MAGENTA) and near(np.array(second), YELLOW)

    assert await wait_until(
        lambda: sum(map(two_tiles, [s for s in seen if s[0] >= both])) >= 20, 15
    ), "two speakers' cameras were not both shown, one below the other"
    assert (await stage.stats())["broadcasts"][SESSION]["camera_tiles"] == 2

    # Eva's turn ends: Olle's tile moves to the top, no magenta left.
    ended = time.monotonic()
    assert (await moderator.request({"type": "hand.end", "hand": hands[0]}))["type"] == "ack"
    assert await wait_until(lambda: len([s for s in seen if s[0] >= ended + 2.0]) >= 20, 10)
    after = [top for at, top, _ in seen if at >= ended + 2.0]
    assert all(near(np.array(top), YELLOW) for top in after), after[-3:]
    assert (await stage.stats())["broadcasts"][SESSION]["camera_tiles"] == 1
    for speaker in speakers:
        await speaker.stop(delete=False)
    await viewer.stop()
    await publisher.stop()
