"""Who may do what: every moderator HTTP route and WebSocket action, tried with no token, a
participant token, another session's token and a tampered token, on a real server.

Each refusal must have the documented status or error code, and nothing may change: the
session's event log (seq), its secrets and the stream stay exactly as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection

from companion.realtime.protocol import CLIENT_TYPES
from companion.services.commands import COMMANDS, MODERATOR_ACTIONS, PARTICIPANT
from tests.e2e.conftest import SESSION, Room
from tests.wsclient import Client, Message

OTHER = "ledarskap-2020-05-15"  # another session of the demo programme
PARTICIPANT_TYPES = {c.type for c in COMMANDS.values() if c.senders == PARTICIPANT}
MODERATOR_TYPES = sorted(CLIENT_TYPES - {"join", "ping"} - PARTICIPANT_TYPES)


@dataclass
class Answer:
    """An HTTP answer: status, lower-case headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def code(self) -> str | None:
        """The `code` of a JSON error body."""
        try:
            return json.loads(self.body).get("code")
        except ValueError:
            return None


def _fetch(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


async def fetch(
    method: str,
    url: str,
    token: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    **headers: str,
) -> Answer:
    """One HTTP request from a worker thread, so the event loop keeps reading WebSockets."""
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    return await asyncio.to_thread(_fetch, method, url, body, all_headers)


async def sdp_offer(direction: str) -> bytes:
    """A real SDP offer from aiortc with video and audio (the connection is closed at once)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for kind in ("video", "audio"):
        pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp.encode()


def tamper(token: str) -> str:
    """The same token with its last character changed."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def fields_for(kind: str, question: int, poll: int, item: str) -> Message:
    """A well-formed message of a moderator action, so only authority can refuse it."""
    fields: dict[str, dict[str, Any]] = {
        "question.edit": {"question": question, "text": "Ändrad av någon obehörig"},
        "question.merge": {"question": question, "into": question + 1},
        "agenda.goto": {"item": item},
        "timer.extend": {"minutes": 5},
        "item.status": {"item": item, "status": "postponed"},
        "break.start": {"minutes": 10, "message": "Paus"},
        "session.premoderation": {"on": True},
        "session.lock": {"on": True},
        "session.close": {"on": True},
        "poll.create": {"kind": "single", "text": "Obehörig?", "options": ["Ja", "Nej"]},
        "poll.hide_results": {"poll": poll, "hide": True},
    }
    message: Message = {"type": kind, **fields.get(kind, {})}
    if kind.startswith("question.") and "question" not in message:
        message["question"] = question
    if kind.startswith("poll.") and kind != "poll.create" and "poll" not in message:
        message["poll"] = poll
    return message


async def moderator_view(room: Room) -> Message:
    """A fresh moderator snapshot of the session (everything, drafts and authors included),
    without what moves on its own: the timer and attendance peaks (recorded as people join)."""
    check = await room.moderator()
    snap = await check.wait_for(lambda m: m["type"] == "snapshot")
    await check.close()
    room.opened.remove(check)
    view = {k: v for k, v in snap.items() if k not in ("attendance", "seq")}
    view["agenda"] = {k: v for k, v in snap["agenda"].items() if k != "timer"}
    view["log_seq"] = snap["seq"]
    return view


def changes_since(room: Room, seq: int, session: str = SESSION) -> list[str]:
    """Types of the events stored for the session after `seq`, attendance peaks left out."""
    with contextlib.closing(sqlite3.connect(room.server.data_dir / "companion.db")) as db:
        rows = db.execute(
            "SELECT type FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
            (session, seq),
        ).fetchall()
    return [kind for (kind,) in rows if kind != "attendance.peak"]


def assert_unchanged(room: Room, before: Message, after: Message) -> None:
    """Nothing but attendance peaks was stored, and the moderator sees the same session."""
    assert changes_since(room, before["log_seq"]) == []
    strip = ("log_seq",)
    assert {k: v for k, v in after.items() if k not in strip} == {
        k: v for k, v in before.items() if k not in strip
    }


async def media_stats(room: Room) -> dict[str, Any]:
    """The server's open peer connections, publishers and viewers."""
    return json.loads((await fetch("GET", f"{room.server.http}/healthz/media")).body)


async def stream_key(room: Room, session: str, moderator_token: str) -> str:
    """A session's stream key, from the console's settings route."""
    answer = await fetch("GET", f"{room.server.http}/api/stream/{session}", moderator_token)
    assert answer.status == 200, answer.body
    return json.loads(answer.body)["stream_key"]


def test_the_matrix_names_every_moderator_action() -> None:
    """The protocol's moderator actions are exactly the service's actions plus the two secret-changing ones."""
    assert set(MODERATOR_TYPES) == set(MODERATOR_ACTIONS) | {
        "session.rotate_key",
        "session.new_code",
    }


async def test_moderator_http_routes_refuse_every_wrong_credential(room: Room) -> None:
    """Report (json/zip/html, header or form), stream settings, WHIP publish and the WHIP resource
    refuse no token (401), a participant token, another session's tokens, a tampered token and a
    cookie (403 / 401), and nothing changes."""
    http = room.server.http
    participant = await room.participant("remote")
    participant_token = participant.welcome["participant"]["token"]
    other_code, other_moderator = room.server.access()[OTHER]
    key = await stream_key(room, SESSION, room.moderator_token)
    other_key = await stream_key(room, OTHER, other_moderator)
    wrong = {
        "participant token": participant_token,
        "other session's moderator token": other_moderator,
        "other session's stream key": other_key,
        "tampered moderator token": tamper(room.moderator_token),
        "moderator token with a suffix": room.moderator_token + "x",
        "tampered stream key": tamper(key),
    }
    ambient = {"Cookie": f"key={room.moderator_token}; token={room.moderator_token}; lang=sv"}
    before = await moderator_view(room)
    access_before = room.server.access()
    stats_before = await media_stats(room)

    # The report, by header and by form field.
    for fmt in ("json", "zip", "html"):
        url = f"{http}/moderate/{SESSION}/report.{fmt}"
        for method in ("GET", "POST"):
            missing = await fetch(method, url, **ambient)
            assert (missing.status, missing.code()) == (401, "forbidden"), (fmt, method)
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert missing.headers["cache-control"] == "no-store"
        for what, token in [*wrong.items(), ("stream key", key)]:
            refused = await fetch("GET", url, token)
            assert (refused.status, refused.code()) == (403, "forbidden"), (fmt, what)
            form = await fetch(
                "POST",
                url,
                body=f"key={token}".encode(),
                content_type="application/x-www-form-urlencoded",
            )
            assert (form.status, form.code()) == (403, "forbidden"), (fmt, what)
            assert b"ledarskap" not in refused.body + form.body
        # The report of another session does not open with this session's token either.
        cross = await fetch("GET", f"{http}/moderate/{OTHER}/report.{fmt}", room.moderator_token)
        assert (cross.status, cross.code()) == (403, "forbidden")

    # The console's stream settings (they hold the stream key).
    settings_url = f"{http}/api/stream/{SESSION}"
    missing = await fetch("GET", settings_url, **ambient)
    assert (missing.status, missing.code()) == (401, "unauthorized")
    for what, token in [*wrong.items(), ("stream key", key)]:
        refused = await fetch("GET", settings_url, token)
        assert (refused.status, refused.code()) == (403, "forbidden"), what
        assert key.encode() not in refused.body

    # Publishing: a real offer, so only the credential can be what is refused.
    offer = await sdp_offer("sendonly")
    whip = f"{http}/whip/{SESSION}"
    missing = await fetch("POST", whip, body=offer, content_type="application/sdp", **ambient)
    assert (missing.status, missing.code()) == (401, "unauthorized")
    for what, token in wrong.items():
        refused = await fetch("POST", whip, token, offer, "application/sdp")
        assert (refused.status, refused.code()) == (403, "forbidden"), what
    # The other session's stream key publishes to the other session only, never to this one.
    assert (await media_stats(room))["publishers"] == 0

    # The WHIP resource answers only the token that created it.
    created = await fetch("POST", whip, key, offer, "application/sdp")
    assert created.status == 201, created.body
    location = created.headers["location"]
    for method in ("DELETE", "PATCH"):
        body = b"a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n" if method == "PATCH" else None
        content_type = "application/trickle-ice-sdpfrag" if method == "PATCH" else None
        missing = await fetch(method, location, None, body, content_type, If_Match="*", **ambient)
        assert (missing.status, missing.code()) == (401, "unauthorized"), method
        for what, token in [
            *wrong.items(),
            ("this session's moderator token", room.moderator_token),
        ]:
            refused = await fetch(method, location, token, body, content_type, If_Match="*")
            assert (refused.status, refused.code()) == (403, "forbidden"), (method, what)
    assert (await media_stats(room))["publishers"] == 1
    assert (await fetch("DELETE", location, key)).status == 200
    assert (await media_stats(room))["publishers"] == 0

    # Watching needs a participant token of this very session.
    viewer_offer = await sdp_offer("recvonly")
    whep = f"{http}/whep/{SESSION}"
    assert (
        await fetch("POST", whep, body=viewer_offer, content_type="application/sdp")
    ).status == 401
    stranger = await Client.open(room.server.ws)
    room.opened.append(stranger)
    other_participant = (await stranger.join(code=other_code))["participant"]["token"]
    for token in (other_participant, tamper(participant_token), participant_token + "."):
        refused = await fetch("POST", whep, token, viewer_offer, "application/sdp")
        assert refused.status == 403 and refused.code() in ("invalid_token", "forbidden"), token

    assert_unchanged(room, before, await moderator_view(room))
    assert room.server.access() == access_before
    stats = await media_stats(room)
    assert stats["viewers"] == 0 and stats["publishers"] == 0
    assert stats["peer_connections"] == stats_before["peer_connections"]


async def test_old_moderator_token_stops_opening_http_routes_after_rotation(room: Room) -> None:
    """Once the key is rotated, the old token gets 403 from the report, stream settings and WHIP; the new one works."""
    moderator = await room.moderator()
    new_token = (await moderator.request({"type": "session.rotate_key"}))["moderator_token"]
    http = room.server.http
    offer = await sdp_offer("sendonly")
    for token, report_status, settings_status in (
        (room.moderator_token, 403, 403),
        (new_token, 200, 200),
    ):
        for fmt in ("json", "zip", "html"):
            answer = await fetch("GET", f"{http}/moderate/{SESSION}/report.{fmt}", token)
            assert answer.status == report_status, (fmt, token == new_token)
        answer = await fetch("GET", f"{http}/api/stream/{SESSION}", token)
        assert answer.status == settings_status
    refused = await fetch(
        "POST", f"{http}/whip/{SESSION}", room.moderator_token, offer, "application/sdp"
    )
    assert (refused.status, refused.code()) == (403, "forbidden")
    assert (await media_stats(room))["publishers"] == 0


async def test_every_moderator_action_is_refused_without_moderator_rights(room: Room) -> None:
    """Failed moderator joins (no, participant, other session's, tampered, mistyped tokens) leave the
    connection unjoined; participants and the big screen get `forbidden` for every action; nothing changes."""
    moderator = await room.moderator()
    phone = await room.participant("room", name="Eva")
    question = (await phone.request({"type": "ask", "text": "Första frågan?"}))["question"]
    await phone.request({"type": "ask", "text": "Andra frågan?"})
    poll_ack = await moderator.request(
        {"type": "poll.create", "kind": "words", "text": "Ett ord om dagen?"}
    )
    assert poll_ack["type"] == "ack"
    snap = await moderator.wait_for(lambda m: m["type"] == "polls")
    poll = snap["polls"][0]["id"]
    item = (await moderator_view(room))["agenda"]["items"][1]["id"]
    messages = [fields_for(kind, question, poll, item) for kind in MODERATOR_TYPES]
    participant_token = phone.welcome["participant"]["token"]
    _, other_moderator = room.server.access()[OTHER]
    before = await moderator_view(room)
    access_before = room.server.access()

    # Moderator joins with anything but this session's token are refused with `forbidden`.
    bad_tokens: list[object] = [
        None,
        "",
        participant_token,
        other_moderator,
        tamper(room.moderator_token),
        room.moderator_token[:-1],
        room.moderator_token + " ",
        room.moderator_token.upper(),
        "\ud800" + room.moderator_token[1:],  # a lone surrogate (legal in JSON text)
        42,
        [room.moderator_token],
        {"token": room.moderator_token},
    ]
    intruder = await room.connect()
    for token in bad_tokens:
        join: Message = {"role": "moderator", "session": SESSION}
        if token is not None:
            join["moderator_token"] = token
        refused = await intruder.join(**join)
        assert (refused["type"], refused["code"]) == ("error", "forbidden"), token
    # The moderator key does not open another session's console either.
    cross = await intruder.join(
        role="moderator", session=OTHER, moderator_token=room.moderator_token
    )
    assert cross["code"] == "forbidden"
    for message in messages:
        # One message per 1/20 s, the default refill of a connection's message bucket: the
        # joins above used most of its burst of 40, and the table has more moderator
        # actions than the rest, so going faster would meet `rate_limited` first.
        await asyncio.sleep(0.05)
        reply = await intruder.request(message)
        assert (reply["type"], reply["code"]) == ("error", "not_joined"), message

    # Participants with a forged or foreign token do not get in.
    other_code, _ = room.server.access()[OTHER]
    stranger = await room.connect()
    foreign = (await stranger.join(code=other_code))["participant"]["token"]
    session, pid, issued, mac = participant_token.split(".")
    forged = [
        foreign,
        tamper(participant_token),
        f"{session}.{'0' * len(pid)}.{issued}.{mac}",  # someone else's id, same signature
        f"{session}.{pid}.{int(issued) + 1}.{mac}",
        f"{OTHER}.{pid}.{issued}.{mac}",
    ]
    for token in forged:
        refused = await (await room.connect()).join(code=room.code, token=token)
        assert refused["code"] == "invalid_token", token

    # Joined participants and screens: every moderator action is forbidden.
    screen = await room.screen()
    for client in (phone, screen):
        for message in messages:
            # Paced like the intruder's above: the screen sends every moderator action and
            # three participant ones, more than a connection's burst of 40 at once.
            await asyncio.sleep(0.05)
            reply = await client.request(message)
            assert (reply["type"], reply["code"]) == ("error", "forbidden"), message
    # The big screen is read-only: participant actions too.
    for message in (
        {"type": "ask", "text": "Skärmen frågar?"},
        {"type": "vote", "question": question},
        {"type": "poll.answer", "poll": poll, "answer": "skärm"},
    ):
        assert (await screen.request(message))["code"] == "forbidden", message
    assert not phone.closed and not screen.closed and not intruder.closed

    assert_unchanged(room, before, await moderator_view(room))
    assert room.server.access() == access_before


async def test_another_sessions_moderator_acts_only_on_their_own_session(room: Room) -> None:
    """A moderator of another session who names this session's ids changes their own session only."""
    phone = await room.participant("room")
    question = (await phone.request({"type": "ask", "text": "Min fråga?"}))["question"]
    before = await moderator_view(room)
    access_before = room.server.access()[SESSION]
    other = Room(room.server, room.opened, OTHER)
    outsider = await other.moderator()
    for message in (
        {"type": "question.hide", "question": question, "session": SESSION},
        {"type": "session.close", "on": True, "session": SESSION},
        {"type": "agenda.next", "session": SESSION, "code": room.code},
        {"type": "session.new_code", "session": SESSION},
    ):
        reply = await outsider.request(message)
        assert reply["type"] in ("ack", "error"), reply
        assert reply.get("code") != "forbidden"
    rotated = await outsider.request({"type": "session.rotate_key", "session": SESSION})
    assert rotated["type"] == "ack"
    assert_unchanged(room, before, await moderator_view(room))
    assert room.server.access()[SESSION] == access_before
    assert "session.closed" in changes_since(room, 0, OTHER)
    assert room.server.access()[OTHER][1] == rotated["moderator_token"]
