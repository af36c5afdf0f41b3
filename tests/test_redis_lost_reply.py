"""A Redis append whose reply is lost (a dropped connection, a timeout under load) is retried
by the client library; the retry must not turn our own stored event into a conflict, which
made the service decide again: a question stored twice, a vote cast and then withdrawn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from companion.backends.memory import MemoryBus
from companion.backends.redis import RedisStore
from companion.domain.access import SessionAccess
from companion.domain.errors import DomainError
from companion.domain.events import Event
from companion.domain.programme import Programme
from companion.services.sessions import SessionService
from tests.redisproc import RedisProcess
from tests.redisproxy import RedisProxy

SID = "ledarskap-2020-05-05"


@pytest.fixture
async def proxy(redis: RedisProcess) -> AsyncIterator[RedisProxy]:
    """A proxy in front of Redis that can lose replies and drop appends."""
    lossy = RedisProxy(redis.port)
    await lossy.start()
    yield lossy
    await lossy.stop()


@asynccontextmanager
async def demo_service(
    url: str, demo: Programme
) -> AsyncIterator[tuple[RedisStore, SessionService]]:
    """A session service on the Redis at `url`, with the demo programme imported."""
    store = RedisStore(url)
    try:
        await store.open()
        service = SessionService(store, MemoryBus())
        await service.import_programme(demo)
        await service.load()
        yield store, service
    finally:
        await store.close()


async def test_a_lost_reply_is_not_decided_twice(proxy: RedisProxy, demo: Programme) -> None:
    """An ask and a vote whose append reply is lost are stored once and acknowledged as what
    they were: no second question, no vote withdrawn again."""
    async with demo_service(proxy.url, demo) as (store, service):
        first = await service.ask(SID, "p1", "room", "Första frågan?", None)
        proxy.lose_replies = 1
        second = await asyncio.wait_for(service.ask(SID, "p2", "room", "Andra frågan?", None), 15)
        assert proxy.lost == 1
        assert (first.event.data["id"], second.event.data["id"]) == (1, 2)
        proxy.lose_replies = 1
        vote = await asyncio.wait_for(service.vote(SID, "p1", 2), 15)
        assert proxy.lost == 2 and vote.event.type == "vote.cast"
        stored = await store.load_events(SID)
        assert [e.type for e in stored] == ["question.asked", "question.asked", "vote.cast"]
        state = service.state(SID)
        assert state.seq == 3 and len(state.board.questions) == 2
        assert state.board.questions[2].votes == 1


async def test_a_change_answered_store_unavailable_but_stored_is_not_made_twice_by_its_retry(
    proxy: RedisProxy, demo: Programme
) -> None:
    """The one case where `store_unavailable` is not the truth: Redis ran the vote, its
    reply was lost and every retry of the client library failed. The participant sends the
    vote again with the same `key`: the answer is the first vote's ack, and the vote is not
    withdrawn. The same for a question: it is not asked twice."""
    async with demo_service(proxy.url, demo) as (store, service):
        await service.ask(SID, "p1", "room", "Första frågan?", None)

        proxy.lose_replies, proxy.drop_after_loss = 1, True
        with pytest.raises(DomainError) as refused:
            await service.vote(SID, "p2", 1, key="v-1")
        assert refused.value.code == "store_unavailable"
        proxy.drop_appends = False
        assert [e.type for e in await store.load_events(SID)][-1] == "vote.cast"  # stored
        vote = await asyncio.wait_for(service.vote(SID, "p2", 1, key="v-1"), 5)
        assert vote.event.type == "vote.cast" and vote.change.vote == (1, 1)
        assert len(await store.load_events(SID)) == 2  # not withdrawn by its retry

        proxy.lose_replies, proxy.drop_after_loss = 1, True
        with pytest.raises(DomainError) as refused:
            await service.ask(SID, "p2", "room", "Andra frågan?", None, key="q-1")
        assert refused.value.code == "store_unavailable"
        proxy.drop_appends = False
        ask = await asyncio.wait_for(
            service.ask(SID, "p2", "room", "Andra frågan?", None, key="q-1"), 5
        )
        assert ask.event.data["id"] == 2
        events = await store.load_events(SID)
        assert [e.type for e in events] == ["question.asked", "vote.cast", "question.asked"]
        state = service.state(SID)
        assert state.board.questions[1].voters == {"p2"} and len(state.board.questions) == 2
        # Without the key the same vote is a new change: it withdraws.
        again = await service.vote(SID, "p2", 1)
        assert again.event.type == "vote.withdrawn"


async def test_a_rotation_by_a_process_of_the_earlier_version_still_revokes(
    redis: RedisProcess, demo: Programme
) -> None:
    """During a rolling upgrade a process of the earlier version rotates the key its way
    (the table first, then an event without the token). A current process that sees that
    event on the tail takes the key from the table: the old key stops working there too."""
    async with demo_service(redis.url, demo) as (store, service):
        old = service.access[SID]
        fresh = SessionAccess(SID, old.join_code, "nyckel-från-en-äldre-process")
        await store.update_access(fresh)  # the earlier version's order: table, then event
        event = Event(SID, service.state(SID).seq + 1, "session.key_rotated", {}, 1.0)
        await store.append([event])
        service.on_remote_event(event)  # as the tail delivers it
        for _ in range(50):
            if service.is_moderator(SID, fresh.moderator_token):
                break
            await asyncio.sleep(0.02)
        assert service.is_moderator(SID, fresh.moderator_token)
        assert not service.is_moderator(SID, old.moderator_token)
