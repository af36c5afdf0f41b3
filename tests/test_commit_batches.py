"""Commits on a shared store (companion.services.commits.AppendThenApply): the commands of
a session that arrive while its append is under way are decided one after another and
appended together, and a batch whose append fails leaves nothing in memory or the log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from companion.backends.memory import MemoryBus
from companion.backends.redis import RedisStore
from companion.domain.errors import DomainError
from companion.domain.events import Event
from companion.domain.programme import Programme
from companion.services.commands import COMMANDS
from companion.services.session_writers import Forwarded, SessionWriters
from companion.services.sessions import SessionService
from tests.redisproc import RedisProcess
from tests.redisproxy import RedisProxy

SID = "ledarskap-2020-05-05"


@asynccontextmanager
async def service_on(url: str, demo: Programme) -> AsyncIterator[SessionService]:
    store = RedisStore(url)
    try:
        await store.open()
        service = SessionService(store, MemoryBus())
        await service.import_programme(demo)
        await service.load()
        yield service
    finally:
        await store.close()


async def appends_of(url: str) -> list[tuple[str, str]]:
    """(event type, when Redis wrote it) of every stored event: one append script call
    writes all its events at one instant."""
    client = aioredis.from_url(url, decode_responses=True)
    try:
        entries = await client.xrange(f"companion:events:{SID}")
    finally:
        await client.aclose()
    return [(fields["t"], fields["r"]) for _, fields in entries]


async def test_concurrent_votes_are_appended_in_few_calls_and_add_up(
    redis: RedisProcess, demo: Programme
) -> None:
    """60 votes at once: each is decided against the votes before it (one vote per
    participant and question, exact counts), and they reach Redis in a few appends, not
    60 round trips one after another."""
    async with service_on(redis.url, demo) as service:
        question = (await service.ask(SID, "p0", "room", "Hur går det?", None)).event.data["id"]
        voters = [f"p{i}" for i in range(1, 61)]
        outcomes = await asyncio.gather(
            *(service.vote(SID, voter, question, f"k{voter}") for voter in voters),
            # The same participant twice at once: one vote cast, the second withdraws it.
            service.vote(SID, "p1", question, "again"),
        )
        assert [o.change.vote for o in outcomes[:60]] == [(question, n) for n in range(1, 61)]
        assert outcomes[60].event.type == "vote.withdrawn"
        assert outcomes[60].change.vote == (question, 59)
        assert service.state(SID).board.questions[question].votes == 59
        appends = await appends_of(redis.url)
        votes = [ran for kind, ran in appends if kind.startswith("vote.")]
        assert len(votes) == 61
        assert len(set(votes)) <= 10, len(set(votes))


async def test_a_batch_whose_append_fails_leaves_nothing(
    redis: RedisProcess, demo: Programme
) -> None:
    """Appends are dropped on their way to Redis: every command of the batch is answered
    store_unavailable, memory is folded again from the log (no vote counted, the seq the
    log's), and once appends pass the same votes are cast once each."""
    proxy = RedisProxy(redis.port)
    await proxy.start()
    try:
        async with service_on(proxy.url, demo) as service:
            question = (await service.ask(SID, "p0", "room", "Hörs jag?", None)).event.data["id"]
            seq = service.state(SID).seq
            proxy.drop_appends = True
            results = await asyncio.gather(
                *(service.vote(SID, f"p{i}", question, f"k{i}") for i in range(1, 21)),
                return_exceptions=True,
            )
            assert all(
                isinstance(r, DomainError) and r.code == "store_unavailable" for r in results
            ), results
            state = service.state(SID)
            assert state.seq == seq and state.board.questions[question].votes == 0
            assert [kind for kind, _ in await appends_of(redis.url)] == ["question.asked"]
            proxy.drop_appends = False
            again = await asyncio.gather(
                *(service.vote(SID, f"p{i}", question, f"k{i}") for i in range(1, 21))
            )
            assert all(o.event.type == "vote.cast" for o in again)
            assert service.state(SID).board.questions[question].votes == 20
            stored = await appends_of(redis.url)
            assert [kind for kind, _ in stored].count("vote.cast") == 20
    finally:
        await proxy.stop()


async def test_another_process_appending_during_a_batch_is_followed(
    redis: RedisProcess, demo: Programme
) -> None:
    """Two services (processes) on one Redis vote at once: batches conflict, are decided
    again against the other's events, and both end with the log's exact counts."""
    async with service_on(redis.url, demo) as a, service_on(redis.url, demo) as b:
        question = (await a.ask(SID, "p0", "room", "Båda?", None)).event.data["id"]
        await b.commits.catch_up(SID)  # type: ignore[attr-defined]
        await asyncio.gather(
            *(a.vote(SID, f"a{i}", question) for i in range(30)),
            *(b.vote(SID, f"b{i}", question) for i in range(30)),
        )
        for service in (a, b):
            await service.commits.catch_up(SID)  # type: ignore[attr-defined]
            assert service.state(SID).board.questions[question].votes == 60
        client = aioredis.from_url(redis.url, decode_responses=True)
        try:
            entries = await client.xrange(f"companion:events:{SID}")
        finally:
            await client.aclose()
        voters = [json.loads(f["d"])["participant"] for _, f in entries if f["t"] == "vote.cast"]
        assert sorted(voters) == sorted([f"a{i}" for i in range(30)] + [f"b{i}" for i in range(30)])


async def test_a_lone_change_behind_the_log_reads_only_what_it_missed(
    redis: RedisProcess, demo: Programme
) -> None:
    """Process B, which has followed the first 300 votes, records an attendance peak while
    A has appended 300 more B has not seen (its tail is behind): B's append conflicts, and
    B reads the events after its own seq only (never the whole log, which it would fold
    again, its loop held, at every conflict under a stream of votes), applies them and
    appends the peak after them."""
    async with service_on(redis.url, demo) as a, service_on(redis.url, demo) as b:
        question = (await a.ask(SID, "p0", "room", "Hörs jag?", None)).event.data["id"]

        async def votes(first: int) -> None:
            for start in range(first, first + 300, 100):
                voters = range(start, start + 100)
                await asyncio.gather(*(a.vote(SID, f"p{i}", question) for i in voters))

        await votes(0)
        await b.commits.catch_up(SID)  # type: ignore[attr-defined]
        behind = b.state(SID).seq
        await votes(300)
        reads: list[int] = []
        load_events = b.store.load_events

        async def spied(session_id: str, after_seq: int = 0) -> list[Event]:
            reads.append(after_seq)
            return await load_events(session_id, after_seq)

        b.store.load_events = spied  # type: ignore[method-assign]
        outcome = await b.record_attendance(SID, 40, 12)
        assert behind > 300 and reads and min(reads) >= behind, (behind, reads)
        assert outcome.event.seq == behind + 301
        state = b.state(SID)
        assert state.seq == behind + 301 and state.board.questions[question].votes == 600
        assert (state.attendance.peak_room, state.attendance.peak_remote) == (40, 12)
        assert [kind for kind, _ in await appends_of(redis.url)][-1] == "attendance.peak"


async def test_a_refusal_stands_only_against_the_log_as_stored(
    redis: RedisProcess, demo: Programme
) -> None:
    """A process deciding a vote here (it holds the writer lease, or its answer channel is
    down) that has not yet applied a question asked through another process refuses it
    only after catching up with the log (`SessionWriters.caught_up`, the tail's wait for
    the session's seq): the vote is then decided against the question and stored."""
    async with service_on(redis.url, demo) as a, service_on(redis.url, demo) as b:
        question = (await a.ask(SID, "p0", "room", "Hann den fram?", None)).event.data["id"]
        assert question not in b.state(SID).board.questions  # b's tail has not read it
        writers = SessionWriters(b, b.store.writer_board("probe"))  # type: ignore[arg-type]
        vote = COMMANDS["vote"].decide
        assert vote is not None
        who = Forwarded(SID, "p1", "room", None)
        message = {"type": "vote", "question": question}
        with pytest.raises(DomainError) as refused:  # no way to catch up: refused
            await writers._decided(vote, who, message)
        assert refused.value.code == "not_found"

        async def caught_up(session_id: str) -> None:
            await b.commits.catch_up(session_id)  # type: ignore[attr-defined]

        writers.caught_up = caught_up
        ack = await writers._decided(vote, who, message)
        assert ack["votes"] == 1, ack
        assert b.state(SID).board.questions[question].votes == 1
