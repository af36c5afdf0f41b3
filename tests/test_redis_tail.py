"""The Redis event tail: every committed event of every session, in order, once, across outages."""

from __future__ import annotations

import asyncio

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
