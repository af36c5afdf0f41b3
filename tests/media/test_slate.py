"""Slates: their words from the session's state, their picture, and the broadcast that
sends them through the one shared encoder instead of the camera."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import ImageDraw

from companion.domain import events as ev
from companion.domain.programme import AgendaItem, ItemKind, Session
from companion.domain.session_state import SessionState
from companion.media.broadcast import CAMERA_LOST_AFTER, SLATE_FPS, Broadcast
from companion.media.slate import Cue, SlateKind, SlateText, countdown, cue_for
from companion.media.slate_picture import SlatePainter, draw_slate, fitted
from companion.web.i18n import translator
from tests.media.peers import (
    ToneTrack,
    counter_frame,
    decode_queued,
    read_counter,
    slate_kind,
    wait_until,
)

ITEMS = (
    AgendaItem("valkommen", ItemKind.TALK, "Välkommen", minutes=10),
    AgendaItem("fika", ItemKind.BREAK, "Fika", minutes=20),
    AgendaItem("panel", ItemKind.DISCUSSION, "Panel om tillit", minutes=30),
)


def state_in_the_break(at: float) -> SessionState:
    state = SessionState(Session("s", "En myndighets förändringsresa", items=ITEMS))
    state.join_code = "123456"
    for draft in (state.agenda.goto("valkommen"), state.agenda.goto("fika")):
        state.apply(ev.Event("s", state.seq + 1, ev.AGENDA_MOVED, state.move(draft).data, at))
    return state


def test_countdown_is_minutes_and_seconds_and_never_negative() -> None:
    assert countdown(14 * 60 + 32) == "14:32"
    assert countdown(0.2) == "0:01"
    assert countdown(-5) == "0:00"
    assert countdown(3600 + 61) == "1:01:01"


def test_a_break_slate_says_when_the_session_comes_back_in_swedish_first() -> None:
    at = time.time()
    state = state_in_the_break(at)
    ends = dt.datetime.fromtimestamp(at + 20 * 60, ZoneInfo("Europe/Stockholm"))
    cue = cue_for(state, camera_ok=True, now=at + 28, site="companion.example")
    assert cue.slate is not None and not cue.room_audio  # a slate mutes the room by default
    sv, en = translator("sv"), translator("en")
    assert cue.slate.kind == SlateKind.PLANNED
    assert cue.slate.title == "En myndighets förändringsresa"
    assert cue.slate.headline == f"Fika — tillbaka {sv.time(ends)}"
    assert "." in sv.time(ends) and ":" in en.time(ends)  # 10.45 / 10:45
    assert cue.slate.headline_en == f"Fika — back at {en.time(ends)}"
    assert cue.slate.countdown == "19:32"
    assert cue.slate.next_item == "Härnäst: Panel om tillit"
    assert "123456" in cue.slate.join and "companion.example" in cue.slate.join
    # The moderator keeps the room's sound: heard under the slate while the camera sends.
    state.apply(ev.Event("s", state.seq + 1, ev.SHOW_SLATE_AUDIO, {"audio": "room"}, at + 30))
    assert cue_for(state, True, at + 31, "x").room_audio
    assert not cue_for(state, False, at + 31, "x").room_audio


def test_the_camera_or_right_back_when_the_stream_field_says_camera() -> None:
    state = SessionState(Session("s", "Morgonmöte", items=ITEMS))
    assert cue_for(state, True, time.time(), "x") == Cue(None, True)
    lost = cue_for(state, False, time.time(), "x")
    assert lost.slate is not None and lost.slate.kind == SlateKind.RIGHT_BACK
    assert lost.slate.headline == "Vi är strax tillbaka"
    assert lost.slate.headline_en == "We'll be right back"
    assert not lost.room_audio
    state.apply(ev.Event("s", 1, ev.SHOW_STREAM, {"stream": "slate"}, time.time()))
    before = cue_for(state, True, time.time(), "x")  # before the first item: starting soon
    assert before.slate is not None and before.slate.headline == "Vi börjar snart"
    assert before.slate.next_item == "Härnäst: Välkommen"


def test_a_long_title_is_fitted_into_the_picture() -> None:
    image = draw_slate(
        SlateText(SlateKind.PLANNED, "Ordet " * 60, "h", "h", "1:00", "", ""), 640, 360
    )
    draw = ImageDraw.Draw(image)
    text, font = fitted(draw, "Ordet " * 60, "DejaVuSans.ttf", 20, 560)
    assert text.endswith("…") and draw.textlength(text, font=font) <= 560


def test_the_painter_draws_again_only_when_the_words_change() -> None:
    painter = SlatePainter()
    words = SlateText(SlateKind.PLANNED, "T", "Fika — tillbaka 10.45", "", "14:32", "", "")
    first = painter.frame(words, 640, 360)
    assert painter.frame(words, 640, 360) is first and painter.drawn == 1
    later = SlateText(SlateKind.PLANNED, "T", "Fika — tillbaka 10.45", "", "14:31", "", "")
    assert painter.frame(later, 640, 360) is not first and painter.drawn == 2
    assert (first.width, first.height, first.format.name) == (640, 360, "yuv420p")


class Camera(MediaStreamTrack):
    """Counter frames at 30 fps until stopped (then the track ends)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.k = 0
        self.running = True

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(1 / 30)
        if not self.running:
            raise MediaStreamError
        self.k += 1
        return counter_frame(self.k, 320, 240)


def decoded(track: object, decoder: av.CodecContext) -> list[tuple[str, int | None]]:
    """What a viewer's queued packets show: ("slate kind", None) or ("camera", counter)."""
    out: list[tuple[str, int | None]] = []
    for frame in decode_queued(track, decoder):
        counter = read_counter(frame)
        if counter is not None:
            out.append(("camera", counter[0]))
        else:
            out.append((slate_kind(frame) or "unknown", None))
    return out


async def test_one_encoder_sends_the_slate_then_the_camera_then_right_back() -> None:
    """A viewer's one track shows the planned slate, the camera's counter once the slate
    ends, and "right back" within CAMERA_LOST_AFTER (+ a cue) of the camera's last frame."""
    show = {"slate": True}
    planned = SlateText(SlateKind.PLANNED, "T", "Fika — tillbaka 10.45", "", "1:00", "", "")

    def cue(camera_ok: bool) -> Cue:
        if show["slate"]:
            return Cue(planned, False)
        if camera_ok:
            return Cue(None, True)
        return Cue(
            SlateText(SlateKind.RIGHT_BACK, "T", "Vi är strax tillbaka", "", "", "", ""), False
        )

    broadcast = Broadcast("s", cue=cue)
    viewer = broadcast.video.track()
    broadcast.video.attach(viewer)
    decoder = av.CodecContext.create("libvpx", "r")
    camera = Camera()
    started = time.monotonic()
    pump = asyncio.ensure_future(broadcast.pump_video(camera, lambda: None))
    # Waited for, not slept: a busy machine gets there later, and the pace is checked
    # against the time it took.
    assert await wait_until(
        lambda: broadcast.stats()["slate_frames"] >= 5 and broadcast.stats()["frames_in"] >= 20,
        10,
    )
    during = decoded(viewer, decoder)
    assert during and all(kind == "planned" for kind, _ in during)
    stats = broadcast.stats()
    assert stats["slate_frames"] <= SLATE_FPS * (time.monotonic() - started) + 2  # 10 fps
    assert stats["slates_drawn"] == 1 and stats["showing"] == "planned"  # one drawing

    show["slate"] = False
    after: list[tuple[str, int | None]] = []

    def camera_frames() -> int:
        after.extend(decoded(viewer, decoder))
        return sum(1 for kind, _ in after if kind == "camera")

    assert await wait_until(lambda: camera_frames() >= 8, 10)
    counters = [k for kind, k in after if kind == "camera"]
    assert counters == sorted(counters)  # the camera, in order
    assert after[-1][0] == "camera" and all(kind != "unknown" for kind, _ in after)

    camera.running = False
    stopped = time.monotonic()
    await pump
    seen = None
    while time.monotonic() - stopped < 2.0 and seen is None:
        await asyncio.sleep(0.05)
        if any(kind == "right_back" for kind, _ in decoded(viewer, decoder)):
            seen = time.monotonic() - stopped
    assert seen is not None and seen < CAMERA_LOST_AFTER + 0.6
    assert broadcast.stats()["showing"] == "right_back"
    broadcast.close()


async def test_the_room_is_muted_under_a_slate_unless_kept() -> None:
    keep = {"room": False}
    words = SlateText(SlateKind.PLANNED, "T", "Paus", "", "", "", "")
    broadcast = Broadcast("s", cue=lambda ok: Cue(words, keep["room"]))
    broadcast.start()
    listener = broadcast.audio.track()
    broadcast.audio.attach(listener)
    tone = ToneTrack()
    pump = asyncio.ensure_future(broadcast.pump_audio(tone, lambda: None))
    await asyncio.sleep(0.6)
    assert broadcast.audio.packets == 0  # muted: nothing sent
    keep["room"] = True
    await asyncio.sleep(0.6)
    assert broadcast.audio.packets >= 10  # kept: the room is heard under the slate
    tone.stop()
    pump.cancel()
    broadcast.close()


def test_a_break_message_on_several_lines_is_drawn_on_one() -> None:
    at = time.time()
    state = state_in_the_break(at)
    state.apply(
        ev.Event(
            "s",
            state.seq + 1,
            ev.BREAK_STARTED,
            {"minutes": 10, "message": "Lunch\n\ni  matsalen"},
            at,
        )
    )
    cue = cue_for(state, True, at + 1, "x")
    assert cue.slate is not None
    assert cue.slate.headline.startswith("Lunch i matsalen — tillbaka ")
    assert SlatePainter().frame(cue.slate, 640, 360).width == 640  # drawn, not refused


def test_the_restart_time_is_the_rooms_whatever_the_servers_zone() -> None:
    """A break ending at 08.45 UTC in May is "tillbaka 10.45" in Stockholm."""
    at = dt.datetime(2020, 5, 5, 8, 25, tzinfo=dt.UTC).timestamp()
    cue = cue_for(state_in_the_break(at), True, at + 60, "x")
    assert cue.slate is not None
    assert cue.slate.headline == "Fika — tillbaka 10.45"
    assert cue.slate.headline_en == "Fika — back at 10:45"
    assert cue.slate.countdown == "19:00"
