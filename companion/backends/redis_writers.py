"""One writer per session on Redis: the writer lease, the command streams and the replies.

A session's writer holds the key `companion:writer:<session>` (set with an expiry and
renewed while held; when the holder dies it lapses, or another process that finds the
holder's named connection gone takes it at once). Other processes forward their clients'
commands to the writer by adding them to the session's command stream
`companion:commands:<session>`: one entry per batch, the commands a process forwarded
to the session while its previous batch was on its way, in entries of at most 16 KiB (the
stream keeps its last 5,000 entries, as much as 10,000 commands of 8 KiB each, and is gone
a minute after the last command or lease renewal). The writers read it through one consumer group, so each
command is delivered to one writer only, and a new writer gets exactly the commands no
earlier writer read. The writer publishes each answer on the forwarding process's
channel `companion:replies:<process>`.

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
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from companion.backends.base import StoreUnavailable, TooLate

if TYPE_CHECKING:
    from companion.backends.redis import RedisClock

log = logging.getLogger(__name__)

PREFIX = "companion:"
COMMANDS_KEPT_MS = 60_000  # a forwarded command is never run after its fence (< 1 s)
ENTRIES_KEPT = 5_000  # a writer reads them within a fence of their adding, or never
ENTRY_BYTES = 16_384  # so 5,000 entries hold no more than 10,000 messages of 8 KiB did

GROUP = "writers"  # every session's command stream has one consumer group: its writers

# KEYS: the lease, the session's command stream. ARGV: this process, lease (ms), a holder
# known to be dead ('' if none), how long the stream is kept (ms). Renews the lease when
# this process holds it, takes it when nobody (or only the dead holder) does; returns the
# holder. A holder keeps the stream and its consumer group alive: the group delivers each
# forwarded command to one writer only, so a new writer gets exactly the commands no
# earlier writer read, and none twice.
LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[2], 'writers', '0', 'MKSTREAM')
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return ARGV[1]
"""

# KEYS: the session's command stream. ARGV: a batch of commands (a JSON array), entries
# kept, how long the stream is kept (ms). The group is made with the stream, so no
# command is missed.
FORWARD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], 'writers', '0', 'MKSTREAM')
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
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


def reader_name(process: str) -> str:
    return f"companion-writer-{process}"


def replies_channel(process: str) -> str:
    return f"{PREFIX}replies:{process}"


class RedisWriterBoard:
    """The Redis side of the session writers of one process (`process`)."""

    def __init__(self, client: aioredis.Redis, url: str, process: str, clock: RedisClock) -> None:
        self.redis = client
        self.url = url
        self.process = process
        self.clock = clock
        self._lease = client.register_script(LEASE)
        self._forward = client.register_script(FORWARD)
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

    async def leases(self, session_ids: list[str], ttl: float, dead: str = "") -> dict[str, str]:
        """Renew or take the writer lease of each session (one round trip for all); one
        held by `dead` (a process `alive` said is gone) is taken too. Who holds each."""
        pipe = self.redis.pipeline(transaction=False)
        for session_id in session_ids:
            await self._lease(
                keys=[lease_key(session_id), commands_key(session_id)],
                args=[self.process, max(1, int(ttl * 1000)), dead, COMMANDS_KEPT_MS],
                client=pipe,
            )
        return dict(zip(session_ids, await _call(pipe.execute()), strict=True))

    async def alive(self, process: str) -> bool:
        """Whether `process` is connected to Redis: each process keeps its command reader's
        connection open and named after itself from start to end, and a killed process's
        connections are closed by its kernel at once."""
        clients = await _call(self.redis.client_list())
        return any(c.get("name") == reader_name(process) for c in clients)

    async def release(self, session_ids: list[str]) -> None:
        """Give up these leases (on shutdown), so another process takes them at once."""
        if not session_ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for session_id in session_ids:
            await self._release(keys=[lease_key(session_id)], args=[self.process], client=pipe)
        await _call(pipe.execute())

    async def forward(self, session_id: str, commands: list[dict[str, Any]]) -> None:
        """Add a batch of commands to the session's stream, for its writer, in this order,
        in one round trip: one entry (several if over ENTRY_BYTES), so the writer reads
        them at once."""
        entries: list[list[str]] = [[]]
        size = 0
        for command in commands:
            encoded = json.dumps(command, ensure_ascii=False)
            length = len(encoded.encode()) + 1
            if entries[-1] and size + length > ENTRY_BYTES:
                entries.append([])
                size = 0
            entries[-1].append(encoded)
            size += length
        key = [commands_key(session_id)]
        if len(entries) == 1:  # as a rule; a pipeline of scripts costs a SCRIPT EXISTS
            args: list[str | int] = [
                "[" + ",".join(entries[0]) + "]",
                ENTRIES_KEPT,
                COMMANDS_KEPT_MS,
            ]
            await _call(self._forward(keys=key, args=args))
            return
        pipe = self.redis.pipeline(transaction=False)
        for entry in entries:
            args = ["[" + ",".join(entry) + "]", ENTRIES_KEPT, COMMANDS_KEPT_MS]
            await self._forward(keys=key, args=args, client=pipe)
        await _call(pipe.execute())

    async def reply(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        """Send forwarded commands' answers to the processes that forwarded them: one
        message per process, all in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for process, batch in answers.items():
            pipe.publish(replies_channel(process), json.dumps(batch, ensure_ascii=False))
        await _call(pipe.execute())

    async def replies(self) -> AsyncIterator[list[dict[str, Any]] | bool]:
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
        return CommandReader(self.url, self.process, block_ms)


class CommandReader:
    """XREAD BLOCK over the command streams of the sessions held, on its own connection."""

    def __init__(self, url: str, process: str, block_ms: int) -> None:
        from companion.backends.redis import connect

        self.process = process
        self.block_ms = block_ms
        self.client = connect(url, max_connections=1)
        kwargs = self.client.connection_pool.connection_kwargs
        # XREADGROUP BLOCK must be allowed to wait longer than the socket timeout.
        kwargs["socket_timeout"] = block_ms / 1000 + 5
        kwargs["client_name"] = reader_name(process)  # how the others see this one lives

    async def connect(self) -> None:
        """Open the named connection (kept open, between reads too)."""
        await _call(self.client.ping())

    async def read(self, sessions: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(session id, command) forwarded to these sessions and not yet delivered to any
        writer, in order (each is delivered once: NOACK, nothing to acknowledge later)."""
        streams: dict[Any, Any] = {commands_key(s): ">" for s in sessions}
        reply: Any = await _call(
            self.client.xreadgroup(
                GROUP, self.process, streams, count=500, block=self.block_ms, noack=True
            )
        )
        out = []
        for stream, entries in reply or []:
            session_id = stream[len(PREFIX + "commands:") :]
            for _, fields in entries:
                if not fields:  # a delivered entry trimmed away meanwhile has no fields
                    continue
                batch = json.loads(fields["c"])
                # (one command alone: an entry of a process of the previous version)
                for command in batch if isinstance(batch, list) else [batch]:
                    out.append((session_id, command))
        return out

    async def close(self) -> None:
        """Disconnect."""
        await self.client.aclose()


async def _call(awaitable: Any) -> Any:
    try:
        return await awaitable
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis: {exc}") from exc
