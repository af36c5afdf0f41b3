"""Retention over real stores (SQLite, a real redis-server) with a clock the test sets:
what is due when, what a run deletes, and that the anonymous record stays the same."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from companion.backends.memory import MemoryBus
from companion.backends.redis import RedisStore, RedisTail
from companion.backends.sqlite import SQLiteStore
from companion.domain.errors import NotFound
from companion.domain.programme import Programme
from companion.services.report import build_report
from companion.services.retention import Retention, RetentionSchedule, describe
from companion.services.sessions import SessionService
from tests.redisproc import RedisProcess

SID = "ledarskap-2020-05-05"  # the demo meeting of tisdag 5 maj 2020
ANNA, BO = "a1b2c3d4e5f60718", "0f1e2d3c4b5a6978"


class Clock:
    """The time the test says it is."""

    def __init__(self, day: dt.date) -> None:
        self.set(day)

    def set(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(3)).timestamp()

    def __call__(self) -> float:
        return self.now


def day(days_after: int) -> dt.date:
    return dt.date(2020, 5, 5) + dt.timedelta(days=days_after)


async def meeting(service: SessionService) -> None:
    """A named and an anonymous question, votes, a hidden one and a poll answered."""
    q1 = await service.ask(SID, ANNA, "room", "Hur når vi unga ledare?", "Anna Andersson")
    q2 = await service.ask(SID, BO, "remote", "Vad kostar det?", None)
    secret = await service.ask(SID, BO, "remote", "Min chef heter Sven", None)
    for who, question in [(BO, q1), (ANNA, q2)]:
        await service.vote(SID, who, question.event.data["id"], where="room")
    await service.moderate(SID, "question.hide", {"question": secret.event.data["id"]})
    poll = await service.moderate(
        SID, "poll.create", {"kind": "single", "text": "Bra?", "options": ["Ja", "Nej"]}
    )
    await service.moderate(SID, "poll.open", {"poll": poll.event.data["id"]})
    await service.answer_poll(SID, ANNA, poll.event.data["id"], 1)
    await service.answer_poll(SID, BO, poll.event.data["id"], 2)
    await service.record_attendance(SID, 14, 9)


def anonymous_record(service: SessionService) -> dict[str, Any]:
    """The report without the parts retention removes (names, hidden texts, who)."""
    found = service.programme.find_session(SID)
    assert found is not None
    report = build_report(service.state(SID), found[0], found[2], 0.0)
    for q in report["questions"]:
        q.pop("name")
        q.pop("anonymous")  # whether a name was given: it no longer is
        if q["status"] == "hidden":
            q.pop("text")
    return report


async def loaded(store: Any, demo: Programme, clock: Clock) -> SessionService:
    service = SessionService(store, MemoryBus(), clock=clock)
    await service.import_programme(demo)
    await service.load()
    return service


def stored_text(events: list[Any]) -> str:
    return json.dumps([e.to_data() for e in events], ensure_ascii=False)


async def test_sqlite_deletes_on_day_91_and_keeps_the_anonymous_record(
    store: SQLiteStore, demo: Programme, db_path: Path
) -> None:
    clock = Clock(day(0))
    service = await loaded(store, demo, clock)
    await meeting(service)
    for n in range(200):  # enough pages that some are freed when the log shrinks
        await service.ask(SID, ANNA, "room", f"Fråga {n} " + "x" * 300, "Anna Andersson")
    before = anonymous_record(service)
    retention = Retention(service, 90, clock)
    clock.set(day(90))
    assert await retention.due() == []
    clock.set(day(91))
    due = await retention.run(dry_run=True)
    assert [d.session_id for d in due] == [SID]
    line = describe(due[0], dry_run=True)
    assert "would delete 201 names on questions, the link to 2 participants" in line
    assert "2 votes and 2 poll answers), and the text of 1 questions" in line
    assert "Anna Andersson" in stored_text(await store.load_events(SID))  # dry run: kept

    done = await retention.run()
    assert [d.session_id for d in done] == [SID]
    assert anonymous_record(service) == before
    text = stored_text(await store.load_events(SID))
    for personal in (ANNA, BO, "Anna Andersson", "Min chef heter Sven"):
        assert personal not in text
    assert "Hur når vi unga ledare?" in text
    assert not service.my_data(SID, ANNA)["questions"]
    await store.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*") if p.is_file())
    for personal in (ANNA, BO, "Anna Andersson", "Min chef heter Sven"):
        assert personal.encode() not in raw, personal  # not in free pages or the WAL either
    await store.open()
    again = await loaded(store, demo, clock)
    assert anonymous_record(again) == before
    assert await Retention(again, 90, clock).due() == []  # nothing personal left


async def test_a_network_sets_its_own_period_and_zero_keeps_data(
    store: SQLiteStore, demo: Programme
) -> None:
    clock = Clock(day(0))
    service = await loaded(store, demo, clock)
    await meeting(service)
    network = service.programme.find_session(SID)
    assert network is not None
    for days, due_on in [(30, 31), (0, None)]:
        networks = tuple(
            replace(n, retention_days=days) if n.id == network[0].id else n
            for n in service.programme.networks
        )
        service.programme = Programme(networks=networks)
        retention = Retention(service, 90, clock)
        clock.set(day(30))
        assert await retention.due() == []
        clock.set(day(31 if due_on else 4000))
        assert [d.session_id for d in await retention.due()] == ([SID] if due_on else [])


async def test_participant_rights_through_the_service(store: SQLiteStore, demo: Programme) -> None:
    clock = Clock(day(0))
    service = await loaded(store, demo, clock)
    await meeting(service)
    mine = service.my_data(SID, ANNA)
    assert [q["text"] for q in mine["questions"]] == ["Hur når vi unga ledare?"]
    assert mine["votes"] == [2] and mine["answers"] == [{"poll": 1, "answer": 1}]
    with pytest.raises(NotFound):  # Bo's question answers as a missing one
        await service.withdraw(SID, ANNA, 2)
    await service.unname(SID, ANNA, 1)
    assert "Anna Andersson" not in stored_text(await store.load_events(SID))
    await service.withdraw(SID, BO, 2)
    assert service.state(SID).board.questions[2].status.value == "hidden"
    with pytest.raises(Exception, match="withdrew"):
        await service.moderate(SID, "question.approve", {"question": 2})
    removed = await service.forget(SID, ANNA)
    assert (removed.questions, removed.votes, removed.answers) == (1, 1, 1)
    assert ANNA not in stored_text(await store.load_events(SID))
    assert service.my_data(SID, ANNA) == {"questions": [], "votes": [], "answers": [], "hand": None}
    assert service.state(SID).board.questions[1].votes == 1  # Bo's vote stays
    # A restart folds the rewritten log to the same state.
    again = await loaded(store, demo, clock)
    assert anonymous_record(again) == anonymous_record(service)


@pytest.fixture
async def redis_pair(
    redis: RedisProcess, demo: Programme
) -> AsyncIterator[tuple[SessionService, SessionService, Clock]]:
    """Two services on one redis-server, each following the log like a process does."""
    clock = Clock(day(0))
    stores, tails, services = [], [], []
    for _ in range(2):
        store = RedisStore(redis.url)
        await store.open()
        service = await loaded(store, demo, clock)
        tail = RedisTail(redis.url, block_ms=100)
        tail.start({s: st.seq for s, st in service.states.items()}, service.on_remote_event)
        stores.append(store)
        tails.append(tail)
        services.append(service)
    yield services[0], services[1], clock
    for tail in tails:
        await asyncio.wait_for(tail.stop(), 10)
    for store in stores:
        await asyncio.wait_for(store.close(), 10)


async def until(check: Any) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached within 5 s")


async def test_redis_one_process_deletes_and_the_other_follows(
    redis_pair: tuple[SessionService, SessionService, Clock],
) -> None:
    a, b, clock = redis_pair
    await meeting(a)
    await until(lambda: b.state(SID).seq == a.state(SID).seq)
    before = anonymous_record(b)
    clock.set(day(91))
    schedules = [RetentionSchedule(Retention(s, 90, clock)) for s in (a, b)]
    runs = await asyncio.gather(*(s.once() for s in schedules))
    assert sorted(r is None for r in runs) == [False, True]  # exactly one did it
    assert [d.session_id for d in next(r for r in runs if r)] == [SID]
    for service in (a, b):
        await until(lambda s=service: not s.my_data(SID, ANNA)["questions"])
        assert anonymous_record(service) == before
        names = [q.name for q in service.state(SID).board.questions.values()]
        assert names == [None, None, None]
    assert await asyncio.gather(*(s.once() for s in schedules)) == [None, None]  # once a day
    # Appends go on after the rewrite, from either process.
    await b.ask(SID, BO, "remote", "En fråga efter gallringen", None)
    await until(lambda: a.state(SID).seq == b.state(SID).seq)
    assert a.state(SID).board.questions[4].text == "En fråga efter gallringen"


async def test_a_rewrite_is_decided_again_when_another_process_appends_meanwhile(
    redis_pair: tuple[SessionService, SessionService, Clock],
) -> None:
    """While process A reads the log to rewrite it, B appends and A's tail applies that:
    A's rewrite must not reuse the seq B took (Redis refused the stream as out of order
    and the device was not forgotten); it is decided again after the new event."""
    a, b, _ = redis_pair
    await meeting(a)
    await until(lambda: b.state(SID).seq == a.state(SID).seq)
    original = a.store.load_events
    armed = [True]

    async def load_events(session_id: str, after_seq: int = 0) -> list[Any]:
        if armed[0] and after_seq == 0:
            armed[0] = False
            await b.ask(SID, BO, "remote", "Mitt i omskrivningen", None)
            await until(lambda: a.state(SID).seq == b.state(SID).seq)  # A's tail applied it
        return await original(session_id, after_seq)

    a.store.load_events = load_events  # type: ignore[method-assign]
    removed = await a.forget(SID, ANNA)
    assert removed.questions == 1 and not armed[0]
    events = await original(SID)
    assert ANNA not in stored_text(events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    await until(lambda: b.state(SID).seq == a.state(SID).seq == events[-1].seq)
    assert anonymous_record(a) == anonymous_record(b)
    assert "Mitt i omskrivningen" in [q.text for q in a.state(SID).board.questions.values()]
