"""What docs/protocol.md promises, checked on a real server process over real WebSockets.

Each test here pins one place where server and document disagreed (issue 10, item 19).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.services.commands import COMMANDS
from tests.e2e.conftest import SESSION, Room, started
from tests.serverproc import ServerProcess
from tests.test_protocol_doc import json_examples
from tests.wsclient import Client


async def reply_to(client: Client, raw: str) -> dict[str, object]:
    """Send a raw frame and return the next reply (error, pong, welcome or ack)."""
    start = len(client.messages)
    await client.send_raw(raw)
    return await client.wait_for(
        lambda m: m["type"] in {"error", "pong", "ack", "welcome"}, 5, start
    )


@pytest.mark.parametrize("joined", [False, True])
async def test_the_id_is_echoed_on_every_error_once_the_frame_is_an_object(
    room: Room, joined: bool
) -> None:
    """`unknown_type` and a missing or non-string `type` echo a valid `id` (also 0) as `re`,
    before and after joining; frames that cannot be read that far get `re: null`."""
    client = await (room.participant() if joined else room.connect())
    cases = [
        ({"id": "x1", "type": "no.such.type"}, "unknown_type", "x1"),
        ({"id": 5}, "bad_message", 5),
        ({"id": 0, "type": 7}, "bad_message", 0),
        ({"id": 0, "type": "no.such.type"}, "unknown_type", 0),
        ({"id": "r", "type": None}, "bad_message", "r"),
        ({"id": True, "type": "ping"}, "bad_message", None),
        ({"id": "x" * 65}, "bad_message", None),
    ]
    for frame, code, echoed in cases:
        reply = await reply_to(client, json.dumps(frame))
        assert reply == {**reply, "type": "error", "code": code, "re": echoed}, (frame, reply)
    for raw in ('{"id": 3, "type": ', "[1]", '"ping"'):
        reply = await reply_to(client, raw)
        assert reply["type"] == "error" and reply["re"] is None, (raw, reply)


async def test_before_join_an_unknown_type_is_unknown_type_and_a_known_one_not_joined(
    room: Room,
) -> None:
    """The frame is checked before the connection's state: a type the protocol does not
    have is `unknown_type` in every state; a known type before `join` is `not_joined`."""
    client = await room.connect()
    assert (await reply_to(client, '{"type": "nope", "id": 1}'))["code"] == "unknown_type"
    for kind in ("ask", "vote", "question.approve", "poll.create"):
        reply = await reply_to(client, json.dumps({"type": kind, "id": kind}))
        assert (reply["code"], reply["re"]) == ("not_joined", kind)


async def test_the_message_size_limit_counts_utf8_bytes(room: Room) -> None:
    """`COMPANION_MAX_MESSAGE_BYTES` (8192) is bytes of UTF-8, not characters: 4,100 `å`
    (8,200 bytes, 4,130 characters) are too large, 4,070 (8,140 bytes and the rest of the frame) fit."""
    client = await room.participant()
    big = json.dumps({"type": "ping", "id": 1, "pad": "å" * 4100}, ensure_ascii=False)
    assert len(big) < 8192 < len(big.encode())
    reply = await reply_to(client, big)
    assert (reply["type"], reply["code"]) == ("error", "message_too_large")
    fits = json.dumps({"type": "ping", "id": 2, "pad": "å" * 4070}, ensure_ascii=False)
    assert len(fits.encode()) <= 8192
    assert await reply_to(client, fits) == {"type": "pong", "re": 2}


async def test_invalid_frames_count_against_the_connection_limit(room: Room) -> None:
    """The connection bucket counts every frame, valid or not (burst 40, then 20 a second):
    a flood of frames that are not JSON meets `rate_limited` too."""
    client = await room.participant()
    start = len(client.messages)
    for _ in range(100):
        await client.send_raw("not json")

    def errors() -> list[str]:
        return [m["code"] for m in client.messages[start:] if m["type"] == "error"]

    await client.wait_for(lambda m: len(errors()) >= 100, 5, start)
    codes = errors()
    assert len(codes) == 100
    assert "rate_limited" in codes and "bad_json" in codes, codes
    limited = [m for m in client.messages[start:] if m.get("code") == "rate_limited"]
    assert all(isinstance(m["retry_after"], float | int) for m in limited)


async def test_presence_comes_per_interval_to_moderators_and_once_a_second_to_others(
    room: Room,
) -> None:
    """While people keep joining, moderators get `presence` at most once per coalescing
    interval (100 ms) and participants and screens at most once a second."""
    moderator = await room.moderator()
    watcher = await room.participant("remote")
    screen = await room.screen()
    started = len(moderator.messages), len(watcher.messages), len(screen.messages)
    for _ in range(20):  # a join every 150 ms for 3 s
        await room.participant()
        await asyncio.sleep(0.15)
    await asyncio.sleep(1.2)  # the point: a rate over time; 1.2 s takes in the last second

    def presences(client: Client, start: int) -> int:
        return sum(m["type"] == "presence" for m in client.messages[start:])

    mod_count, watch_count, screen_count = (
        presences(c, s) for c, s in zip((moderator, watcher, screen), started, strict=True)
    )
    # 3 s of joins and 1.2 s after: at most one a second (plus one for the phase).
    assert 2 <= watch_count <= 6, watch_count
    assert 2 <= screen_count <= 6, screen_count
    assert mod_count >= 10, mod_count
    # What the server sends is what every example in docs/protocol.md shows.
    last = next(m for m in reversed(watcher.messages) if m["type"] == "presence")
    documented = [set(e) for e in json_examples() if e["type"] == "presence"]
    assert documented and all(fields == set(last) for fields in documented), (last, documented)
    assert "viewers" in last


async def test_a_rating_of_the_wrong_type_is_invalid_answer(room: Room) -> None:
    """Like a single-choice poll: a wrong type is `invalid_answer`; a whole number off the
    scale is `invalid_rating`."""
    moderator = await room.moderator()
    created = await moderator.request({"type": "poll.create", "kind": "rating", "text": "Betyg?"})
    poll = created["poll"]
    assert (await moderator.request({"type": "poll.open", "poll": poll}))["type"] == "ack"
    phone = await room.participant()
    for answer, code in (
        ("3", "invalid_answer"),
        (2.5, "invalid_answer"),
        (True, "invalid_answer"),
        ([3], "invalid_answer"),
        (0, "invalid_rating"),
        (6, "invalid_rating"),
    ):
        reply = await phone.request({"type": "poll.answer", "poll": poll, "answer": answer})
        assert (reply["type"], reply.get("code")) == ("error", code), (answer, reply)
    assert (await phone.request({"type": "poll.answer", "poll": poll, "answer": 5}))[
        "type"
    ] == "ack"


async def test_the_poll_create_ack_names_the_new_poll(room: Room) -> None:
    """Two consoles creating polls at once each learn which new poll is theirs."""
    first, second = await room.moderator(), await room.moderator()
    acks = await asyncio.gather(
        *(
            console.request(
                {"type": "poll.create", "kind": "words", "text": f"Ett ord från konsol {n}"}
            )
            for n, console in ((1, first), (2, second))
            for _ in range(3)
        )
    )
    assert all(set(a) == {"type", "re", "poll"} for a in acks), acks
    ids = [a["poll"] for a in acks]
    assert sorted(ids) == list(range(1, 7))
    await first.wait_for(lambda m: m["type"] == "polls" and m["polls"][0]["id"] == max(ids))
    polls = {p["id"]: p["text"] for m in first.events("polls") for p in m["polls"]}
    for n, ack in zip([1, 1, 1, 2, 2, 2], acks, strict=True):
        assert polls[ack["poll"]] == f"Ett ord från konsol {n}"


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that gives one address two fresh identities, then one a minute."""
    env = {"COMPANION_NEW_PARTICIPANT_BURST": "2", "COMPANION_NEW_PARTICIPANTS_PER_MINUTE": "1"}
    with started(ServerProcess(tmp_path, extra_env=env)) as proc:
        yield proc


async def test_the_new_identity_limit_says_when_to_try_again(
    strict_server: ServerProcess,
) -> None:
    """The per-address limit on fresh identities answers `rate_limited` with `retry_after`
    (about a minute here: one identity a minute), like every other rate limit."""
    code, _ = strict_server.access()[SESSION]
    clients = [await Client.open(strict_server.ws) for _ in range(3)]
    try:
        for client in clients[:2]:
            assert (await client.join(code=code))["type"] == "welcome"
        refused = await clients[2].join(code=code)
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
        assert isinstance(refused["retry_after"], float | int)
        assert 50 <= refused["retry_after"] <= 60, refused
        assert "60 s" in refused["message"] or "59 s" in refused["message"], refused
    finally:
        for client in clients:
            await client.close()


async def test_every_command_is_acked_with_exactly_the_fields_the_table_declares(
    room: Room,
) -> None:
    """A meeting that runs every client message type of the command table once with
    success: each ack is `type`, `re` and the fields its row declares, nothing else."""
    moderator = await room.moderator()
    phone = await room.participant()
    seen: dict[str, dict[str, object]] = {}

    async def run(client: Client, type_: str, **fields: object) -> dict[str, object]:
        reply = await client.request({"type": type_, **fields})
        assert reply["type"] == "ack", (type_, reply)
        seen[type_] = reply
        return reply

    await run(moderator, "session.premoderation", on=False)
    first = (await run(phone, "ask", text="Hur mäter ni innovation?"))["question"]
    second = (await run(phone, "ask", text="Hur mäter ni innovation i kommunen?"))["question"]
    await run(phone, "vote", question=first)
    await run(moderator, "question.hide", question=second)
    await run(moderator, "question.approve", question=second)
    await run(moderator, "question.edit", question=second, text="Hur mäter kommunen det?")
    await run(moderator, "question.highlight", question=first)
    await run(moderator, "question.unhighlight", question=first)
    await run(moderator, "question.merge", question=second, into=first)
    await run(moderator, "question.answer", question=first)
    third = (await run(phone, "ask", text="Ett olämpligt inlägg"))["question"]
    await run(moderator, "question.hide_asker", question=third)
    await run(moderator, "agenda.next")
    await run(moderator, "agenda.next")
    await run(moderator, "agenda.prev")
    await run(moderator, "agenda.goto", item="fika")
    await run(moderator, "timer.pause")
    await run(moderator, "timer.start")
    await run(moderator, "timer.extend", minutes=5)
    await run(moderator, "item.status", item="avslutning", status="postponed")
    await run(moderator, "break.start", minutes=10, message="Fika")
    await run(moderator, "break.end")
    await run(moderator, "scene.set", item="diskussion", scene={"screen": "agenda"})
    await run(moderator, "show.screen", screen="speaker")
    await run(moderator, "show.stream", stream="camera")
    await run(moderator, "show.slate_audio", audio="room")
    poll = (
        await run(moderator, "poll.create", kind="single", text="Kaffe?", options=["Ja", "Nej"])
    )["poll"]
    await run(moderator, "poll.open", poll=poll)
    await run(phone, "poll.answer", poll=poll, answer=1)
    await run(moderator, "poll.hide_results", poll=poll, hide=True)
    await run(moderator, "poll.show", poll=poll)
    await run(moderator, "poll.unshow", poll=poll)
    await run(moderator, "poll.close", poll=poll)
    await run(moderator, "stage.send", text="Dags att runda av")
    shown = await moderator.wait_for(lambda m: m["type"] == "stage" and m["stage"]["messages"])
    await run(moderator, "stage.dismiss", message=shown["stage"]["messages"][-1]["id"])
    asker = await room.participant()  # the first phone has used its question burst
    named = (await run(asker, "ask", text="Vem ansvarar för uppföljningen?", name="Kim"))[
        "question"
    ]
    speaker = await room.participant()
    hand = (await run(speaker, "hand.raise", topic="Om budgeten"))["hand"]
    await run(moderator, "hand.invite", hand=hand)
    await run(moderator, "hand.mute", hand=hand, on=True)
    await run(speaker, "hand.mic", problem="denied")
    await run(speaker, "hand.lower")
    declined = (await run(asker, "hand.raise"))["hand"]
    await run(moderator, "hand.end", hand=declined)
    await run(asker, "me.data")
    await run(asker, "question.unname", question=named)
    await run(asker, "question.withdraw", question=named)
    await run(asker, "participant.forget")
    await run(moderator, "session.lock", on=True)
    await run(moderator, "session.close", on=True)
    await run(moderator, "session.new_code")
    await run(moderator, "session.rotate_key")

    decided = {c.type for c in COMMANDS.values() if c.decide is not None}
    assert set(seen) == decided, sorted(decided - set(seen))
    for kind, ack in seen.items():
        assert set(ack) == {"type", "re", *COMMANDS[kind].acks}, (kind, ack)
