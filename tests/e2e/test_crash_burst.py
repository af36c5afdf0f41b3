"""Crashes in the middle of a burst: every acknowledged question and vote survives, and nothing
is half applied.

Many participants ask and vote at once; the test records every ack. Then the server is
SIGKILLed (SQLite, and Redis with Redis up), or Redis is stopped and started again under a
running server (append-only file). Afterwards every acknowledged question is there with its
id, text and author, every acknowledged vote is in its voter's `my_votes`, nothing appears
that nobody sent, and each question's vote count equals the number of participants who back
it. Changes that were in flight without an ack may or may not be there.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import BURST_LIMITS, SESSION, started
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.wsclient import Client, Message

pytestmark = pytest.mark.timeout(120)

PARTICIPANTS = 60
PACE = 0.06  # seconds between one participant's requests: under the per-connection limit


@dataclass
class Ledger:
    """What was sent and what was acknowledged."""

    tokens: dict[str, str] = field(default_factory=dict)  # participant id -> token
    sent: set[str] = field(default_factory=set)  # every question text sent
    asked: dict[int, tuple[str, str]] = field(default_factory=dict)  # acked: id -> (author, text)
    tried: set[tuple[str, int]] = field(default_factory=set)  # (participant, question) votes sent
    votes: dict[tuple[str, int], bool] = field(default_factory=dict)  # acked: -> voted
    errors: list[str] = field(default_factory=list)

    @property
    def acks(self) -> int:
        """Acknowledged changes so far."""
        return len(self.asked) + len(self.votes)


async def participant(server: ServerProcess, code: str, ledger: Ledger) -> tuple[Client, str]:
    """A joined participant whose token the ledger keeps."""
    client = await Client.open(server.ws)
    welcome = await client.join(code=code, where="room")
    assert welcome["type"] == "welcome", welcome
    pid = welcome["participant"]["id"]
    ledger.tokens[pid] = welcome["participant"]["token"]
    return client, pid


async def burst(client: Client, pid: str, ledger: Ledger, stop: asyncio.Event) -> None:
    """Ask and vote (each question at most once, so votes never toggle) until stopped or cut off."""
    rng = random.Random(pid)
    n = 0
    while not stop.is_set():
        n += 1
        choices = [q for q in ledger.asked if (pid, q) not in ledger.tried]
        try:
            if not choices or rng.random() < 0.3:
                text = f"{pid} fråga {n}"
                ledger.sent.add(text)
                # Named, so the moderator snapshot carries the author the check compares
                # (an anonymous question carries none, see tests/e2e/test_anonymity.py).
                ask = {"type": "ask", "text": text, "name": pid}
                reply = await client.request(ask, timeout=10)
                if reply["type"] == "ack":
                    ledger.asked[reply["question"]] = (pid, text)
            else:
                question = rng.choice(choices)
                ledger.tried.add((pid, question))
                reply = await client.request({"type": "vote", "question": question}, timeout=10)
                if reply["type"] == "ack":
                    ledger.votes[(pid, question)] = reply["voted"]
        except (ConnectionError, TimeoutError):
            return  # the server went away mid-request: that one is unacknowledged
        if reply["type"] == "error":
            ledger.errors.append(reply["code"])
        await asyncio.sleep(PACE)


async def run_burst(
    server: ServerProcess, ledger: Ledger
) -> tuple[list[Client], asyncio.Event, list[asyncio.Task[None]]]:
    """Join every participant, then start them all asking and voting."""
    code, _ = server.access()[SESSION]
    joined = [await participant(server, code, ledger) for _ in range(PARTICIPANTS)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(burst(c, pid, ledger, stop)) for c, pid in joined]
    return [c for c, _ in joined], stop, tasks


async def wait_for_acks(ledger: Ledger, count: int, timeout: float = 30) -> None:
    """Until the ledger holds `count` more acks than now."""
    target = ledger.acks + count
    deadline = asyncio.get_running_loop().time() + timeout
    while ledger.acks < target:
        assert asyncio.get_running_loop().time() < deadline, (ledger.acks, ledger.errors[-5:])
        await asyncio.sleep(0.01)


async def finish(clients: list[Client], stop: asyncio.Event, tasks: list[asyncio.Task[None]]):
    """Stop the burst and close every connection."""
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    for client in clients:
        await client.close()


async def stored_view(server: ServerProcess, ledger: Ledger) -> tuple[Message, dict[str, Message]]:
    """A moderator snapshot, and each participant's own snapshot (rejoined with their token)."""
    code, key = server.access()[SESSION]
    moderator = await Client.open(server.ws)
    await moderator.join(role="moderator", session=SESSION, moderator_token=key)
    snap = await moderator.wait_for(lambda m: m["type"] == "snapshot")
    await moderator.close()
    own = {}
    for pid, token in ledger.tokens.items():
        client = await Client.open(server.ws)
        welcome = await client.join(code=code, where="room", token=token)
        assert welcome["type"] == "welcome" and welcome["participant"]["id"] == pid, welcome
        own[pid] = await client.wait_for(lambda m: m["type"] == "snapshot")
        await client.close()
    return snap, own


def check(snap: Message, own: dict[str, Message], ledger: Ledger) -> None:
    """Every ack is stored, nothing unsent appeared, and counts equal voter sets."""
    stored = {q["id"]: q for q in snap["questions"]}
    for qid, (author, text) in ledger.asked.items():
        assert qid in stored, f"acknowledged question {qid} ({text}) is missing"
        assert (stored[qid]["author"], stored[qid]["text"]) == (author, text)
    for q in stored.values():
        # Unacknowledged ones may be there, but only as sent, by whoever sent them.
        assert q["text"] in ledger.sent and q["text"].startswith(f"{q['author']} "), q
    mine = {qid for snapshot in own.values() for qid in snapshot["mine"]}
    assert mine == set(stored)
    for pid, snapshot in own.items():
        assert set(snapshot["mine"]) == {q["id"] for q in stored.values() if q["author"] == pid}
    backers: dict[int, int] = dict.fromkeys(stored, 0)
    for pid, snapshot in own.items():
        for qid in snapshot["my_votes"]:
            assert (pid, qid) in ledger.tried, f"{pid} backs {qid} without having voted"
            backers[qid] += 1
    for (pid, qid), voted in ledger.votes.items():
        assert (qid in own[pid]["my_votes"]) == voted, f"acknowledged vote {pid}->{qid} lost"
    assert {qid: q["votes"] for qid, q in stored.items()} == backers
    # Stored changes: one seq each, no gaps (every question and vote is one event).
    assert snap["seq"] >= len(stored) + sum(backers.values())


async def test_sigkill_mid_burst_keeps_every_ack_sqlite(tmp_path: Path) -> None:
    """SQLite: SIGKILL while 60 participants ask and vote; after restart every ack is there."""
    ledger = Ledger()
    with started(ServerProcess(tmp_path, extra_env=dict(BURST_LIMITS))) as server:
        clients, stop, tasks = await run_burst(server, ledger)
        await wait_for_acks(ledger, 400)
        server.kill()
        acked = ledger.acks
        await finish(clients, stop, tasks)
        assert ledger.acks - acked < PARTICIPANTS  # at most what was already on the wire
        server.start()
        snap, own = await stored_view(server, ledger)
        check(snap, own, ledger)
        assert len(snap["questions"]) >= len(ledger.asked) > 20 and len(ledger.votes) > 100


def redis_server(tmp_path: Path, redis: RedisProcess, name: str) -> ServerProcess:
    """A Companion process on that Redis (the programme is imported once, by the first)."""
    (tmp_path / name).mkdir()
    return ServerProcess(tmp_path / name, extra_env={**BURST_LIMITS, "REDIS_URL": redis.url})


async def test_sigkill_mid_burst_keeps_every_ack_redis(tmp_path: Path, redis: RedisProcess) -> None:
    """Redis up, Companion SIGKILLed mid-burst: after restart every ack is there."""
    ledger = Ledger()
    with started(redis_server(tmp_path, redis, "a")) as server:
        clients, stop, tasks = await run_burst(server, ledger)
        await wait_for_acks(ledger, 400)
        server.kill()
        await finish(clients, stop, tasks)
        server.start()
        snap, own = await stored_view(server, ledger)
        check(snap, own, ledger)
        assert len(ledger.asked) > 20 and len(ledger.votes) > 100


async def test_redis_restart_mid_burst_keeps_every_ack(tmp_path: Path, redis: RedisProcess) -> None:
    """Redis stopped and started again (append-only) under a running server mid-burst: every ack
    from before, during and after the outage is in Redis, as a fresh process reads it."""
    server = redis_server(tmp_path, redis, "a")
    fresh = redis_server(tmp_path, redis, "b")
    ledger = Ledger()
    with started(server):
        try:
            clients, stop, tasks = await run_burst(server, ledger)
            await wait_for_acks(ledger, 300)
            redis.stop()
            before_outage = ledger.acks
            await asyncio.sleep(1.0)  # the point: an outage of a second under the burst
            redis.start()
            await wait_for_acks(ledger, 200, timeout=30)  # the burst goes on once Redis is back
            await finish(clients, stop, tasks)
            assert "store_unavailable" in ledger.errors
            assert ledger.acks >= before_outage + 200
            fresh.start()
            snap, own = await stored_view(fresh, ledger)
            check(snap, own, ledger)
            # The process that lived through the outage agrees with the log.
            live, _ = await stored_view(server, Ledger())
            assert live["questions"] == snap["questions"] and live["seq"] == snap["seq"]
        finally:
            with contextlib.suppress(Exception):
                fresh.stop()
