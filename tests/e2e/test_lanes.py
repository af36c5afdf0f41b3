"""A big session through a real server: its participants are flushed a lane at a time
(companion.realtime.delivery). Lowered to a few connections here, the big-session path
must keep every promise of the protocol: every vote seen by everyone within about one
coalescing interval, seq order per connection, exact resume, the exact totals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LIFTED_LIMITS, Room, started
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)

LISTENERS = 40
ENV = {
    **LIFTED_LIMITS,
    "COMPANION_VOTES_PER_SECOND": "1000",
    "COMPANION_QUESTIONS_PER_MINUTE": "6000",
    "COMPANION_MAX_CONNECTIONS_PER_ADDRESS": "1000",
    "COMPANION_CONNECTS_PER_SECOND": "1000",
    "COMPANION_NEW_PARTICIPANTS_PER_MINUTE": "100000",
    "COMPANION_LANES_FROM": "10",  # everything below runs as a big session does
}


@pytest.fixture
def big(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that treats a session of 10 connections as big."""
    with started(ServerProcess(tmp_path, extra_env=ENV)) as server:
        yield server


def seqs(client: Client) -> list[int]:
    return [m["seq"] for m in client.events()]


def view(client: Client, before: list[dict] | None = None) -> tuple[dict[int, int], set[int]]:
    """What a participant's page would show, from what it got `before` a reconnect and
    since: the latest count per question (messages are upserts, the last one wins) and
    the questions it knows."""
    counts: dict[int, int] = {}
    questions: set[int] = set()
    for message in [*(before or []), *client.events()]:
        if message["type"] in ("snapshot", "questions"):
            questions |= {q["id"] for q in message["questions"]}
            counts.update({q["id"]: q["votes"] for q in message["questions"]})
        elif message["type"] == "counts":
            counts.update({int(q): n for q, n in message["counts"].items()})
    return counts, questions


async def test_a_big_session_keeps_order_resume_and_totals(
    big: ServerProcess, clients: list[Client]
) -> None:
    room = Room(big, clients)
    asker = await room.participant("remote")
    asked = [
        (await asker.request({"type": "ask", "text": f"Fråga {i}?"}))["question"] for i in range(3)
    ]
    listeners = [await room.participant("room") for _ in range(LISTENERS)]
    moderator = await room.moderator()

    # Every listener votes once on every question, while two more questions are asked; half
    # the listeners drop out half-way and come back with their last seq.
    last: dict[int, int] = {}
    seen_late: list[float] = []

    async def votes(client: Client, index: int) -> None:
        for qid in asked:
            reply = await client.request({"type": "vote", "question": qid})
            assert reply["type"] == "ack", reply
            last[qid] = max(last.get(qid, 0), reply["votes"])
            await asyncio.sleep(0.01 * (index % 7))

    first = [asyncio.create_task(votes(c, i)) for i, c in enumerate(listeners[: LISTENERS // 2])]
    asked.append((await asker.request({"type": "ask", "text": "Fråga mitt i?"}))["question"])
    await asyncio.gather(*first)

    # While the other half votes, a quarter drop out and resume, each just after a new
    # question reached them, when some lanes have not had their turn to get it yet.
    rest = [asyncio.create_task(votes(c, i)) for i, c in enumerate(listeners[LISTENERS // 2 :])]
    dropped = listeners[: LISTENERS // 2 : 2]
    resumed: list[Client] = []
    before: dict[Client, list[dict]] = {}
    for n, client in enumerate(dropped):
        qid = (await asker.request({"type": "ask", "text": f"Fråga {n} medan andra röstar?"}))[
            "question"
        ]
        asked.append(qid)
        await client.wait_for(
            lambda m, qid=qid: m["type"] == "questions" and m["questions"][0]["id"] == qid
        )
        since, token = client.seq, client.welcome["participant"]["token"]  # type: ignore[index]
        await client.close()
        again = await room.connect()
        welcome = await again.join(code=room.code, where="room", token=token, since=since)
        assert welcome["type"] == "welcome", welcome
        done = await again.wait_for(lambda m: m["type"] in ("resumed", "snapshot"))
        assert done["type"] == "resumed", done  # exact resume, not a snapshot
        # Nothing replayed from before the seq the client had; at it, counts at most
        # (their latest values, which the client may already have).
        assert all(
            m["seq"] > since or (m["seq"] == since and m["type"] in ("counts", "resumed"))
            for m in again.events()
        ), (since, [(m["type"], m["seq"]) for m in again.events()])
        resumed.append(again)
        before[again] = client.events()
    listeners = [c for c in listeners if c not in dropped] + resumed
    await asyncio.gather(*rest)
    started_wait = time.monotonic()

    latecomer = await room.participant("remote")
    final = await latecomer.wait_for(lambda m: m["type"] == "snapshot")
    totals = {q["id"]: q["votes"] for q in final["questions"]}
    assert {qid: totals[qid] for qid in last} == last  # the acks' last values are the totals
    for client in [*listeners, moderator]:
        old = before.get(client)
        while view(client, old) != (totals, set(totals)) and time.monotonic() - started_wait < 5:
            await asyncio.sleep(0.01)
        assert view(client, old) == (totals, set(totals))  # every question, at its total
        seen_late.append(time.monotonic() - started_wait)
        order = seqs(client)
        assert order == sorted(order), order  # seq order on every connection
    assert max(seen_late) < 2.0, seen_late
