"""On-stage voices with real aiortc peers on a real server (companion.media.stage_voices,
and their mix into the stream in companion.media.broadcast).

A participant's token alone does not publish: before the invitation, after the end, or
for someone never invited, `/whip-stage` answers 403 and the room hears nothing. An
invited participant's 440 Hz tone reaches a room-audio listener (`/whep-room-audio`, the
moderator key), found by FFT of the decoded audio; after `hand.end` (or a mute) the tone
is gone within a second.

The remote audience hears the voice in the session's stream: a WHEP viewer's audio holds
the room publisher's 1 kHz tone and the voice's 440 Hz tone together, the 440 Hz only
while the voice is on stage, and the voice alone when no room publisher sends audio.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from tests.media.conftest import Stage
from tests.media.peers import (
    HEARS,
    ROOM_HZ,
    TONE_HZ,
    CounterTrack,
    Heard,
    Publisher,
    ToneTrack,
    Viewer,
    room_audio,
    wait_until,
)
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SESSION = "ledarskap-2020-05-05"
QUIET = 10.0  # a tone's spectrum level below this is not there (heard: above 100)
B_HZ = 660  # the second speaker's tone (the first's is TONE_HZ, the room's ROOM_HZ)


def onset(heard: Heard, hz: float, after: float) -> float | None:
    """When a tone was first heard after a moment (the arrival of the first frame of a
    60 ms stretch that holds it)."""
    return next(
        (at for at, _ in heard if at >= after and heard.level(hz, at, at + 0.06) > HEARS), None
    )


async def speaker(stage: Stage, name: str) -> tuple[Client, str]:
    client = await Client.open(stage.server.ws)
    stage.opened.append(client)
    welcome = await client.join(code=stage.code, where="remote", name=name)
    assert welcome["type"] == "welcome", welcome
    return client, welcome["participant"]["token"]


def voice(stage: Stage, token: str) -> Publisher:
    return Publisher(
        stage.server.http, stage.session, token, audio=ToneTrack(), endpoint="whip-stage"
    )


async def ack(client: Client, message: dict) -> None:
    reply = await client.request(message)
    assert reply["type"] == "ack", reply


async def on_stage(stage: Stage, moderator: Client, name: str) -> tuple[Client, str, str]:
    """A remote participant who raised a hand and was invited: client, token, hand id."""
    client, token = await speaker(stage, name)
    hand = (await client.request({"type": "hand.raise"}))["hand"]
    await ack(moderator, {"type": "hand.invite", "hand": hand})
    return client, token, hand


def advancing(pts: list[int]) -> bool:
    """RTP timestamps that only go forward, by less than a second a frame (aiortc maps a
    step back as a wrap around 2**32, so it shows as a huge step)."""
    return all(0 < b - a < 48_000 for a, b in itertools.pairwise(pts))


async def test_only_an_invited_participant_is_heard_and_the_end_silences_them(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    stage = Stage(media_server, SESSION, opened)
    moderator = await stage.moderator()
    eva, eva_token = await speaker(stage, "Eva")
    _, other_token = await speaker(stage, "Olle")

    # Room audio is the moderator's: a participant token gets 403, none 401.
    assert (await room_audio(media_server.http, SESSION, eva_token).start()).status == 403
    assert (await room_audio(media_server.http, SESSION, "").start()).status == 401
    room = room_audio(media_server.http, SESSION, stage.moderator_token)
    assert (await room.start()).status == 201, "room audio refused"
    assert await wait_until(lambda: len(room.heard.frames) > 10, 10), "no audio frames at all"

    # Not invited: raised hand or not, the token does not publish.
    refused = voice(stage, eva_token)
    answer = await refused.start()
    assert answer.status == 403 and json.loads(answer.body)["code"] == "not_on_stage", answer.text
    hand = (await eva.request({"type": "hand.raise", "topic": "Budget"}))["hand"]
    answer = await voice(stage, eva_token).start()
    assert answer.status == 403, answer.text
    # The moderator key and the stream key are not a participant on stage either.
    assert (await voice(stage, stage.moderator_token).start()).status == 403
    started = time.monotonic()
    await asyncio.sleep(0.6)
    assert room.heard.level(TONE_HZ, started) < QUIET, (
        "a tone reached the room before any invitation"
    )

    # Invited: the tone reaches the room.
    assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
    # Someone else's token is still refused while Eva is on stage.
    assert (await voice(stage, other_token).start()).status == 403
    publisher = voice(stage, eva_token)
    assert (await publisher.start()).status == 201
    invited = time.monotonic()
    assert await wait_until(lambda: room.heard.hears(TONE_HZ), 10), (
        "the invited voice never reached the room"
    )
    print(f"tone heard in the room {time.monotonic() - invited:.2f} s after publishing")

    # Muted: silent within a second; unmuted: heard again on the same connections.
    muted_at = time.monotonic()
    assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": True}))[
        "type"
    ] == "ack"
    await asyncio.sleep(1.5)
    quiet = room.heard.silent_since(muted_at)
    assert quiet is not None and quiet - muted_at < 1.0, (quiet, muted_at)
    assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": False}))[
        "type"
    ] == "ack"
    assert await wait_until(lambda: room.heard.hears(TONE_HZ), 3), (
        "unmuted, the voice did not come back"
    )

    # Ended: the tone is gone within a second, and the server closes the connection.
    ended_at = time.monotonic()
    assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
    await asyncio.sleep(1.5)
    quiet = room.heard.silent_since(ended_at)
    assert quiet is not None and quiet - ended_at < 1.0, (quiet, ended_at)
    print(f"tone gone {quiet - ended_at:.2f} s after hand.end")
    assert room.heard.level(TONE_HZ, ended_at + 1.0) < QUIET
    assert publisher.pc is not None
    assert await wait_until(lambda: publisher.pc.connectionState in ("closed", "failed"), 10)

    # After the end the same token is refused again.
    assert (await voice(stage, eva_token).start()).status == 403
    await publisher.stop()
    await room.stop()
    await refused.stop(delete=False)


async def test_the_remote_audience_hears_the_room_and_the_voice_on_stage_together(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """Room publisher 1 kHz over WHIP, the invited voice 440 Hz over /whip-stage: a WHEP
    viewer's decoded audio holds both; an uninvited publish adds nothing; a break's slate
    mutes the room but not the voice; after hand.end the 440 Hz is gone within a second
    while the 1 kHz stays."""
    stage = Stage(media_server, "ledarskap-2020-05-15", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    room = Publisher(
        media_server.http,
        stage.session,
        stage.stream_key,
        CounterTrack(),
        ToneTrack(ROOM_HZ),
    )
    assert (await room.start()).status == 201
    viewer = Viewer(media_server.http, stage.session, await stage.participant_token())
    assert (await viewer.start()).status == 201
    assert await wait_until(lambda: viewer.heard.hears(ROOM_HZ), 15), "no room sound"

    # Not invited: refused, and nothing of it reaches the stream.
    eva, eva_token = await speaker(stage, "Eva")
    uninvited = voice(stage, eva_token)
    answer = await uninvited.start()
    assert answer.status == 403 and json.loads(answer.body)["code"] == "not_on_stage"
    refused_at = time.monotonic()
    await asyncio.sleep(1.0)
    assert viewer.heard.level(TONE_HZ, refused_at) < QUIET, "an uninvited voice was heard"
    assert viewer.heard.level(ROOM_HZ, refused_at) > HEARS

    # Invited: the viewer hears the voice and the room together.
    hand = (await eva.request({"type": "hand.raise"}))["hand"]
    await ack(moderator, {"type": "hand.invite", "hand": hand})
    publisher = voice(stage, eva_token)
    assert (await publisher.start()).status == 201
    published = time.monotonic()
    assert await wait_until(lambda: viewer.heard.hears(TONE_HZ), 10), "the voice never came"
    print(f"voice in the stream {time.monotonic() - published:.2f} s after publishing")
    both_from = time.monotonic()
    await asyncio.sleep(1.0)
    assert viewer.heard.level(TONE_HZ, both_from) > HEARS
    assert viewer.heard.level(ROOM_HZ, both_from) > HEARS
    mixed = (await stage.stats())["broadcasts"][stage.session]
    assert mixed["mixed_frames"] > 25, mixed  # in the room's frames, one encode for all

    # A break's slate mutes the room, not the voice the moderator keeps on stage.
    await ack(moderator, {"type": "agenda.goto", "item": "fika"})
    await asyncio.sleep(1.0)
    slate_from = time.monotonic()
    await asyncio.sleep(1.0)
    assert viewer.heard.level(ROOM_HZ, slate_from) < QUIET, "the room was heard in the break"
    assert viewer.heard.level(TONE_HZ, slate_from) > HEARS, "the voice was muted in the break"
    await ack(moderator, {"type": "agenda.goto", "item": "diskussion"})
    assert await wait_until(lambda: viewer.heard.hears(ROOM_HZ), 5), "the room did not return"

    # Ended: the voice is gone within a second, the room stays.
    ended = time.monotonic()
    await ack(moderator, {"type": "hand.end", "hand": hand})
    await asyncio.sleep(1.5)
    gone = viewer.heard.gone_since(TONE_HZ, ended)
    assert gone is not None and gone - ended < 1.0, (gone, ended)
    print(f"voice gone from the stream {gone - ended:.2f} s after hand.end")
    assert viewer.heard.level(TONE_HZ, ended + 1.0) < QUIET
    assert viewer.heard.level(ROOM_HZ, ended + 1.0) > HEARS
    assert advancing(viewer.audio_pts), "the stream's audio timestamps went back"

    await publisher.stop()
    await viewer.stop()
    await room.stop()
    await uninvited.stop(delete=False)


async def test_without_a_room_publisher_the_voice_alone_is_streamed_and_hands_over(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """No room publisher: the viewer hears the voice (the broadcast's paced loop). A room
    publisher that starts takes over the encoding (the loop stops encoding: no double
    encode), with its 1 kHz and the voice mixed; when it stops, the loop takes the voice
    on again. One clock all along: the viewer's RTP timestamps advance 20 ms a frame."""
    stage = Stage(media_server, "ledarskap-2020-06", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    viewer = Viewer(media_server.http, stage.session, await stage.participant_token())
    assert (await viewer.start()).status == 201
    _, token, hand = await on_stage(stage, moderator, "Eva")
    publisher = voice(stage, token)
    assert (await publisher.start()).status == 201
    published = time.monotonic()
    assert await wait_until(lambda: viewer.heard.hears(TONE_HZ), 10), "no voice, no room"
    print(f"voice alone in the stream {time.monotonic() - published:.2f} s after publishing")

    async def encoded() -> tuple[int, int]:
        counts = (await stage.stats())["broadcasts"][stage.session]
        return counts["voice_frames"], counts["mixed_frames"]

    # The room publisher comes: it carries the voice; the loop stops encoding.
    room = Publisher(
        media_server.http, stage.session, stage.stream_key, CounterTrack(), ToneTrack(ROOM_HZ)
    )
    assert (await room.start()).status == 201
    assert await wait_until(lambda: viewer.heard.hears(ROOM_HZ), 15), "no room sound"
    together = time.monotonic()
    alone_before, mixed_before = await encoded()
    await asyncio.sleep(1.0)
    alone_after, mixed_after = await encoded()
    assert alone_after - alone_before <= 5, "the voice was encoded twice while the room sent"
    assert mixed_after - mixed_before > 25
    assert viewer.heard.level(TONE_HZ, together) > HEARS
    assert viewer.heard.level(ROOM_HZ, together) > HEARS

    # The room publisher stops: the voice goes on alone, at once.
    await room.stop()
    stopped = time.monotonic()
    await asyncio.sleep(1.5)
    assert viewer.heard.level(ROOM_HZ, stopped + 0.5) < QUIET
    assert viewer.heard.level(TONE_HZ, stopped + 0.5) > HEARS
    assert (await encoded())[0] - alone_after > 40
    # No hole at either hand-over: every frame the viewer decoded follows the one before
    # by exactly 20 ms of the stream's one clock, or jumps on by 200 ms or more where the
    # server's loop was held up that long (AudioEncoder re-anchors to the wall clock then).
    steps = {b - a for a, b in itertools.pairwise(viewer.audio_pts)}
    assert all(s == 960 or s > 9600 for s in steps), steps
    # And in real time: the longest pause between audio frames arriving around the stop
    # (about 40 ms on a quiet machine; a machine's load adds its scheduling delays).
    arrivals = [at for at in viewer.audio_at if stopped - 0.5 <= at <= stopped + 1.0]
    longest = max(b - a for a, b in itertools.pairwise(arrivals))
    print(f"longest pause in the viewer's audio at the hand-over: {longest * 1000:.0f} ms")
    assert longest < 0.25, longest

    await ack(moderator, {"type": "hand.end", "hand": hand})
    await publisher.stop()
    await viewer.stop()


async def test_each_speaker_hears_the_room_and_the_other_voice_but_not_their_own(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """Mix-minus: the room publisher sends 1 kHz, speaker A 440 Hz and speaker B 660 Hz,
    both offering sendrecv as the remote page does. A's return feed holds 1 kHz and 660 Hz
    but not 440 Hz, B's 1 kHz and 440 Hz but not 660 Hz; the stream's viewer hears all
    three; a break's slate mutes the room in the returns too. After A's turn ends, A's return ends and B no longer hears 440 Hz. A sendonly
    offer (another WHIP client) is accepted and gets no return."""
    stage = Stage(media_server, "ledarskap-2020-06", opened)
    await stage.load_settings()
    moderator = await stage.moderator()
    room = Publisher(
        media_server.http, stage.session, stage.stream_key, CounterTrack(), ToneTrack(ROOM_HZ)
    )
    assert (await room.start()).status == 201
    viewer = Viewer(media_server.http, stage.session, await stage.participant_token())
    assert (await viewer.start()).status == 201
    assert await wait_until(lambda: viewer.heard.hears(ROOM_HZ), 15), "no room sound"

    _, a_token, a_hand = await on_stage(stage, moderator, "Anna")
    _, b_token, b_hand = await on_stage(stage, moderator, "Bo")
    url = media_server.http
    a = Publisher(url, stage.session, a_token, audio=ToneTrack(), endpoint="whip-stage", hear=True)
    b = Publisher(
        url, stage.session, b_token, audio=ToneTrack(B_HZ), endpoint="whip-stage", hear=True
    )
    assert (await a.start()).status == 201
    published = time.monotonic()
    assert (await b.start()).status == 201
    assert await wait_until(lambda: a.heard.hears(ROOM_HZ) and a.heard.hears(B_HZ), 10), (
        "A's return never carried the room and B"
    )
    print(
        f"A's return carries the room and B {time.monotonic() - published:.2f} s after A published"
    )
    assert await wait_until(lambda: b.heard.hears(ROOM_HZ) and b.heard.hears(TONE_HZ), 10)
    assert await wait_until(lambda: viewer.heard.hears(TONE_HZ) and viewer.heard.hears(B_HZ), 10)
    together = time.monotonic()
    await asyncio.sleep(1.5)
    for hz in (ROOM_HZ, TONE_HZ, B_HZ):
        assert viewer.heard.level(hz, together) > HEARS, f"the stream lacks {hz} Hz"
    # How soon B's voice reached A's return and the stream's viewer (a figure, printed).
    a_onset, viewer_onset = onset(a.heard, B_HZ, published), onset(viewer.heard, B_HZ, published)
    assert a_onset is not None and viewer_onset is not None
    print(
        f"B's voice in A's return {(a_onset - viewer_onset) * 1000:+.0f} ms"
        " from its arrival at the stream's viewer"
    )
    assert a.heard.level(ROOM_HZ, together) > HEARS
    assert a.heard.level(B_HZ, together) > HEARS
    assert a.heard.level(TONE_HZ, together) < QUIET, "A hears their own voice"
    assert b.heard.level(ROOM_HZ, together) > HEARS
    assert b.heard.level(TONE_HZ, together) > HEARS
    assert b.heard.level(B_HZ, together) < QUIET, "B hears their own voice"
    counts = await stage.stats()
    assert counts["broadcasts"][stage.session]["return_feeds"] == 2, counts

    # A break's slate mutes the room in the stream, and so in the returns; B stays heard.
    await ack(moderator, {"type": "agenda.goto", "item": "fika"})
    await asyncio.sleep(1.0)
    slate_from = time.monotonic()
    await asyncio.sleep(1.0)
    assert a.heard.level(ROOM_HZ, slate_from) < QUIET, "A heard the room in the break"
    assert a.heard.level(B_HZ, slate_from) > HEARS
    await ack(moderator, {"type": "agenda.goto", "item": "diskussion"})
    assert await wait_until(lambda: a.heard.hears(ROOM_HZ), 5), "the room did not return"

    # A connects again (as a page does after a drop): the old connection and its return
    # end, the new one gets its own, still without A's voice; no return is left behind.
    a_again = Publisher(
        url, stage.session, a_token, audio=ToneTrack(), endpoint="whip-stage", hear=True
    )
    assert (await a_again.start()).status == 201
    assert await wait_until(lambda: a.heard_until is not None, 5), "A's old return went on"
    assert await wait_until(
        lambda: a_again.heard.hears(ROOM_HZ) and a_again.heard.hears(B_HZ), 10
    ), "A's new connection got no return"
    again = time.monotonic()
    await asyncio.sleep(1.0)
    assert a_again.heard.level(TONE_HZ, again) < QUIET, "A hears their own voice"
    counts = await stage.stats()
    assert counts["broadcasts"][stage.session]["return_feeds"] == 2, counts
    await a.stop(delete=False)
    a = a_again

    # A's turn ends: A's return ends with it, and B's loses A's voice.
    ended = time.monotonic()
    await ack(moderator, {"type": "hand.end", "hand": a_hand})
    assert await wait_until(lambda: a.heard_until is not None, 5), "A's return went on"
    assert a.heard_until is not None
    print(f"A's return ended {a.heard_until - ended:.2f} s after hand.end")
    await asyncio.sleep(1.5)
    gone = b.heard.gone_since(TONE_HZ, ended)
    assert gone is not None and gone - ended < 1.0, (gone, ended)
    assert b.heard.level(TONE_HZ, ended + 1.0) < QUIET
    assert b.heard.level(ROOM_HZ, ended + 1.0) > HEARS
    counts = await stage.stats()
    assert counts["broadcasts"][stage.session]["return_feeds"] == 1, counts

    # B again, now offering sendonly (as another WHIP client would): no return.
    await b.stop()
    plain = voice(stage, b_token)
    assert (await plain.start()).status == 201
    assert await wait_until(lambda: viewer.heard.hears(TONE_HZ), 10)
    assert plain.pc is not None
    assert all(t.currentDirection == "sendonly" for t in plain.pc.getTransceivers())
    counts = await stage.stats()
    assert counts["broadcasts"][stage.session]["return_feeds"] == 0, counts

    await ack(moderator, {"type": "hand.end", "hand": b_hand})
    await plain.stop()
    await a.stop()
    await viewer.stop()
    await room.stop()
