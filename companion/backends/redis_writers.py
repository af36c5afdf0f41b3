"""One writer per session on Redis: the writer lease, the command streams and the replies.

A session's writer holds the key `companion:writer:<session>` (SET NX with an expiry,
renewed while held; when the holder dies it lapses and another process takes it). Other
processes forward their clients' commands to the writer by adding them to the session's
command stream `companion:commands:<session>` (trimmed to the last minute, and gone a
minute after the last command); the writer reads the streams of the sessions it holds
(XREAD BLOCK, on a connection of its own) and publishes each answer on the forwarding
process's channel `companion:replies:<process>`.

The appends themselves keep their conflict check (`companion.backends.redis.APPEND`), so
even two processes that both believe they hold a lease (one stalled past its expiry)
never store two events at one seq: the lease only makes conflicts rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from companion.backends.base import StoreUnavailable, TooLate

if TYPE_CHECKING:
    from companion.backends.redis import RedisClock

log = logging.getLogger(__name__)

PREFIX = "companion:"
COMMANDS_KEPT_MS = 60_000  # a forwarded command is never run after its fence (< 1 s)

# KEYS: the lease, the session's command stream. ARGV: this process, lease (ms).
# Renews the lease when this process holds it, takes it when nobody does; returns the
# holder and, when that is this process, the id of the stream's last command: a writer
# that just took the lease reads the commands forwarded to it after that one (the earlier
# ones were the old writer's, run or not by it, and past their fence soon after).
LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {holder, ''} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #last == 0 then return {ARGV[1], '0-0'} end
return {ARGV[1], last[1][1]}
"""

# KEYS: the lease. ARGV: this process. Gives the lease up, if this process holds it.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(session_id: str) -> str:
    return f"{PREFIX}writer:{session_id}"


def commands_key(session_id: str) -> str:
    return f"{PREFIX}commands:{session_id}"


def replies_channel(process: str) -> str:
    return f"{PREFIX}replies:{process}"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who writes a session; when it is this process, `start` is the id of the session's
    last forwarded command when asked (a new writer runs the commands after it)."""

    holder: str
    start: str | None = None


class RedisWriterBoard:
    """The Redis side of the session writers of one process (`process`)."""

    def __init__(self, client: aioredis.Redis, url: str, process: str, clock: RedisClock) -> None:
        self.redis = client
        self.url = url
        self.process = process
        self.clock = clock
        self._lease = client.register_script(LEASE)
        self._release = client.register_script(RELEASE)

    async def fence(self, deadline: float) -> int:
        """A local monotonic deadline in Redis's clock (microseconds since the epoch), as
        the append script takes it; TooLate when it has passed already."""
        if self.clock.stale():
            self.clock.observe(*await _call(self.redis.time()))
        if time.monotonic() >= deadline:
            raise TooLate("The command's fence passed before it was forwarded.")
        return self.clock.microseconds_at(deadline)

    def local_fence(self, microseconds: int) -> float:
        """A fence in Redis's clock as a local monotonic instant (`fence` undone: the
        append script gets the very same microseconds back)."""
        return self.clock.local_at(microseconds)

    async def leases(self, session_ids: list[str], ttl: float) -> dict[str, Lease]:
        """Renew or take the writer lease of each session (one round trip for all)."""
        pipe = self.redis.pipeline(transaction=False)
        for session_id in session_ids:
            await self._lease(
                keys=[lease_key(session_id), commands_key(session_id)],
                args=[self.process, max(1, int(ttl * 1000))],
                client=pipe,
            )
        replies = await _call(pipe.execute())
        return {
            sid: Lease(holder, start or None)
            for sid, (holder, start) in zip(session_ids, replies, strict=True)
        }

    async def release(self, session_ids: list[str]) -> None:
        """Give up these leases (on shutdown), so another process takes them at once."""
        if not session_ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for session_id in session_ids:
            await self._release(keys=[lease_key(session_id)], args=[self.process], client=pipe)
        await _call(pipe.execute())

    async def forward(self, session_id: str, command: dict[str, Any]) -> None:
        """Add a command to the session's stream, for its writer."""
        key = commands_key(session_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, {"c": json.dumps(command, ensure_ascii=False)}, maxlen=10_000)
        pipe.pexpire(key, COMMANDS_KEPT_MS)
        await _call(pipe.execute())

    async def reply(self, process: str, answer: dict[str, Any]) -> None:
        """Send a forwarded command's answer to the process that forwarded it."""
        await _call(self.redis.publish(replies_channel(process), json.dumps(answer)))

    async def replies(self) -> AsyncIterator[dict[str, Any] | bool]:
        """The answers to this process's forwarded commands as they come, True when the
        subscription is in place and False when it is lost; after an outage it subscribes
        again at once (answers published meanwhile are lost)."""
        from companion.backends.redis import connect

        while True:
            client = connect(self.url, max_connections=2)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(replies_channel(self.process))
                async for message in pubsub.listen():
                    if message.get("type") == "subscribe":
                        yield True
                    elif message.get("type") == "message":
                        yield json.loads(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("writer replies: %s", exc)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py: untyped
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            yield False
            await asyncio.sleep(0.1)

    def reader(self, block_ms: int = 200) -> CommandReader:
        """A reader of the command streams of the sessions this process writes."""
        return CommandReader(self.url, block_ms)


class CommandReader:
    """XREAD BLOCK over the command streams of the sessions held, on its own connection."""

    def __init__(self, url: str, block_ms: int) -> None:
        from companion.backends.redis import connect

        self.block_ms = block_ms
        self.client = connect(url, max_connections=2)
        # XREAD BLOCK must be allowed to wait longer than the socket timeout.
        self.client.connection_pool.connection_kwargs["socket_timeout"] = block_ms / 1000 + 5

    async def read(self, positions: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(session id, entry id, command) after each session's position, in order."""
        streams: dict[Any, Any] = {commands_key(s): at for s, at in positions.items()}
        reply: Any = await _call(self.client.xread(streams, block=self.block_ms, count=500))
        out = []
        for stream, entries in reply or []:
            session_id = stream[len(PREFIX + "commands:") :]
            for entry_id, fields in entries:
                out.append((session_id, entry_id, json.loads(fields["c"])))
        return out

    async def close(self) -> None:
        """Disconnect."""
        await self.client.aclose()


async def _call(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis: {exc}") from exc
