"""The Redis event tail: every committed event of every session, in order, once, across outages."""

from __future__ import annotations

import asyncio

from companion.backends.base import StoreUnavailable
from companion.backends.redis import RedisStore, RedisTail
from companion.domain.events import Event
from tests.redisproc import RedisProcess


async def wait_until(predicate, timeout: float = 10.0) -> None:
    """Poll until predicate() is true or fail after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_tail_delivers_new_events_in_order_and_survives_a_redis_restart(
    redis: RedisProcess,
) -> None:
    """Events appended by another writer reach the tail in seq order, none twice, also after Redis restarts."""
    writer = RedisStore(redis.url)
    await writer.open()
    await writer.append([Event("a", 1, "x", {}, 1.0)])  # already applied before tailing
    seen: list[tuple[str, int]] = []
    states: list[bool] = []
    tail = RedisTail(redis.url, block_ms=200)
    tail.start({"a": 1, "b": 0}, lambda e: seen.append((e.session_id, e.seq)), states.append)
    try:
        await writer.append([Event("a", 2, "x", {}, 2.0), Event("a", 3, "x", {}, 3.0)])
        await writer.append([Event("b", 1, "x", {}, 1.0)])
        await wait_until(lambda: len(seen) == 3)
        assert sorted(seen) == [("a", 2), ("a", 3), ("b", 1)]
        assert [s for s in seen if s[0] == "a"] == [("a", 2), ("a", 3)]

        redis.stop()
        await wait_until(lambda: states[-1:] == [False])
        redis.start()
        await wait_until(lambda: states[-1:] == [True])
        await writer.append([Event("a", 4, "x", {}, 4.0)])
        await wait_until(lambda: ("a", 4) in seen)
        assert len(seen) == len(set(seen)) == 4
    finally:
        await tail.stop()
        await writer.close()


async def test_a_stream_of_appends_is_read_at_the_tails_pace(redis: RedisProcess) -> None:
    """Appends every 2 ms for 0.4 s (a stream of votes) are read in about one XREAD per
    `pace` (20 ms), not one per append, and are all delivered, in order."""
    writer = RedisStore(redis.url)
    await writer.open()
    seen: list[int] = []
    tail = writer.tail()
    tail.start({"a": 0}, lambda e: seen.append(e.seq))
    try:
        await asyncio.sleep(0.05)  # the first read is waiting for an entry
        reads_before = tail._started
        for seq in range(1, 201):
            await writer.append([Event("a", seq, "x", {}, float(seq))])
            await asyncio.sleep(0.002)
        await wait_until(lambda: len(seen) == 200)
        assert seen == list(range(1, 201))
        reads = tail._started - reads_before
        # 0.4 s of appends and more at 20 ms: about 20 reads (one per append was 200).
        assert reads <= 40, reads
    finally:
        await tail.stop()
        await writer.close()


async def test_fresh_and_caught_up_read_at_once_what_was_stored_before(
    redis: RedisProcess,
) -> None:
    """While the tail rests between reads, an event stored just before `fresh` (the hub's
    flush) or `caught_up` (a join) is handed on before either returns, not a pace later."""
    writer = RedisStore(redis.url)
    await writer.open()
    seen: list[int] = []
    tail = writer.tail()
    tail.pace = 5.0  # it would rest this long after a read that brought events
    tail.start({"a": 0}, lambda e: seen.append(e.seq))
    try:
        await writer.append([Event("a", 1, "x", {}, 1.0)])
        await wait_until(lambda: seen == [1])  # read; now resting for 5 s
        await writer.append([Event("a", 2, "x", {}, 2.0)])
        await asyncio.wait_for(tail.fresh(timeout=1.0), 2)
        assert seen == [1, 2]
        await writer.append([Event("a", 3, "x", {}, 3.0)])
        await asyncio.wait_for(tail.caught_up("a"), 2)
        assert seen == [1, 2, 3]
        # Nothing new: once the read under way has waited for an entry a while, `fresh`
        # does not wait for it.
        tail.pace = 0.01
        await asyncio.sleep(0.1)
        started = asyncio.get_running_loop().time()
        await tail.fresh(timeout=1.0)
        assert asyncio.get_running_loop().time() - started < 0.5
    finally:
        await tail.stop()
        await writer.close()


async def test_a_join_waits_a_bounded_time_for_a_hung_redis() -> None:
    """`caught_up` (before every join) gives up within a quarter of a second when Redis
    does not answer the GET of the session's seq (hung, not refusing), and at once when
    the store refuses: a join is never held for the socket timeout (3 s)."""
    hang = asyncio.Event()

    async def hung_get(session_id: str) -> int:
        await hang.wait()
        return 0

    tail = RedisTail("redis://127.0.0.1:1", hung_get)
    tail.positions = {"a": 0}
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(tail.caught_up("a"), 2)
    assert 0.2 <= loop.time() - started < 1.0

    async def refused(session_id: str) -> int:
        raise StoreUnavailable("Redis: connection refused")

    tail = RedisTail("redis://127.0.0.1:1", refused)
    tail.positions = {"a": 0}
    started = loop.time()
    await tail.caught_up("a")
    assert loop.time() - started < 0.1
