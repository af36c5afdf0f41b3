"""The Redis side of the session writers (companion.backends.redis_writers)."""

from __future__ import annotations

import json

import redis as sync_redis

from companion.backends.redis import RedisStore
from companion.backends.redis_writers import ENTRY_BYTES, commands_key
from tests.redisproc import RedisProcess

SID = "ledarskap-2020-05-05"


async def test_a_batch_is_one_entry_and_a_large_one_is_split_in_order(
    redis: RedisProcess,
) -> None:
    """A batch of forwarded commands is one stream entry; one over ENTRY_BYTES is split
    into entries of at most that size (a command alone may be larger), added in one
    round trip, and the writer's reader gets every command once, in the order given."""
    store = RedisStore(redis.url)
    await store.open()
    board = store.writer_board("probe")
    reader = board.reader(block_ms=100)
    try:
        assert await board.leases([SID], 2.0) == {SID: "probe"}  # makes the group
        small = [{"i": i, "m": {"type": "vote", "question": 1}} for i in range(50)]
        await board.forward(SID, small)
        large = [{"i": 100 + i, "m": {"type": "ask", "text": "å" * 3000}} for i in range(12)]
        large.insert(5, {"i": 99, "m": {"type": "ask", "text": "x" * (ENTRY_BYTES + 100)}})
        await board.forward(SID, large)
        client = sync_redis.Redis.from_url(redis.url, decode_responses=True)
        raw = [fields["c"] for _, fields in client.xrange(commands_key(SID))]
        entries = [json.loads(r) for r in raw]
        assert entries[0] == small
        assert [c for entry in entries[1:] for c in entry] == large
        assert len(entries) > 2
        for stored, entry in zip(raw[1:], entries[1:], strict=True):
            assert len(stored.encode()) <= ENTRY_BYTES + 1 or len(entry) == 1, len(stored)
        await reader.connect()
        read = await reader.read([SID])
        assert read == [(SID, c) for c in small + large]
        assert await reader.read([SID]) == []  # each delivered once
    finally:
        await reader.close()
        await store.close()
