"""The scale-out store and event tail on Redis (chosen when REDIS_URL is set).

Each session's event log is a Redis Stream whose entry ids are `<seq>-0`, written by a
Lua script that refuses any seq that does not follow the stored one: two processes that
decide against the same state cannot both append, and the log never has a gap. Every
process tails the streams (XREAD) to learn what the others committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, RedisError, ResponseError, TimeoutError

from companion.backends.base import SeqConflict, StoreUnavailable
from companion.domain.access import SessionAccess
from companion.domain.events import Event

log = logging.getLogger(__name__)

PREFIX = "companion:"
PROGRAMME = PREFIX + "programme"
ACCESS = PREFIX + "access"
CODES = PREFIX + "codes"
SESSIONS = PREFIX + "sessions"

# KEYS: seq key, stream key. ARGV: first seq, then (type, data, at) per event.
APPEND = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq ~= last + 1 then
  return redis.error_reply('SEQ ' .. last)
end
local n = (#ARGV - 1) / 3
for i = 0, n - 1 do
  redis.call('XADD', KEYS[2], (seq + i) .. '-0',
    't', ARGV[2 + i * 3], 'd', ARGV[3 + i * 3], 'a', ARGV[4 + i * 3])
end
redis.call('SET', KEYS[1], seq + n - 1)
return seq + n - 1
"""


def _seq_key(session_id: str) -> str:
    return f"{PREFIX}seq:{session_id}"


def _stream_key(session_id: str) -> str:
    return f"{PREFIX}events:{session_id}"


def _event(session_id: str, entry_id: str, fields: dict[str, str]) -> Event:
    return Event(
        session_id,
        int(entry_id.split("-", 1)[0]),
        fields["t"],
        json.loads(fields["d"]),
        float(fields["a"]),
    )


def connect(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client with short timeouts, so a Redis outage is an error, never a hang.

    A blocking pool makes bursts wait for a free connection instead of failing.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        # A pooled connection may be stale after a Redis restart: retry on a fresh one.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
        retry_on_error=[ConnectionError, TimeoutError],
        socket_timeout=3,
        socket_connect_timeout=2,
        health_check_interval=10,
        max_connections=max_connections,
        timeout=3,
    )
    return aioredis.Redis(connection_pool=pool)


class RedisStore:
    """Store on Redis: programme and secrets as keys, event logs as streams."""

    shared = True  # other processes may append: commands must not apply before the append

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: aioredis.Redis | None = None
        self._append: Any = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """`redis://[:password@]host:port/db`, `rediss://…` or `unix:///path.sock`."""
        return cls(url)

    def tail(self) -> RedisTail:
        """A follower of every session's stream, on a connection of its own."""
        return RedisTail(self.url)

    async def open(self) -> None:
        """Connect (and check the connection)."""
        self.redis = connect(self.url)
        self._append = self.redis.register_script(APPEND)
        await self._call(self.redis.ping())

    async def close(self) -> None:
        """Disconnect."""
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            if isinstance(exc, ResponseError) and str(exc).startswith("SEQ "):
                raise SeqConflict(int(str(exc).split()[1])) from None
            raise StoreUnavailable(f"Redis: {exc}") from exc

    def _client(self) -> aioredis.Redis:
        if self.redis is None:
            raise StoreUnavailable("The store is not open.")
        return self.redis

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        """Replace the programme and add secrets for new sessions, in one transaction."""
        pipe = self._client().pipeline(transaction=True)
        pipe.set(PROGRAMME, json.dumps(data, ensure_ascii=False))
        for a in access:
            pipe.hsetnx(
                ACCESS,
                a.session_id,
                json.dumps({"join_code": a.join_code, "moderator_token": a.moderator_token}),
            )
            pipe.hsetnx(CODES, a.join_code, a.session_id)
            pipe.sadd(SESSIONS, a.session_id)
        await self._call(pipe.execute())

    async def load_programme(self) -> dict[str, Any] | None:
        """The stored programme, or None."""
        raw = await self._call(self._client().get(PROGRAMME))
        return json.loads(raw) if raw else None

    async def load_access(self) -> list[SessionAccess]:
        """The secrets of every session."""
        rows = await self._call(self._client().hgetall(ACCESS))
        out = []
        for session_id, raw in rows.items():
            d = json.loads(raw)
            out.append(SessionAccess(session_id, d["join_code"], d["moderator_token"]))
        return out

    async def update_access(self, access: SessionAccess, old_code: str) -> None:
        """Replace one session's join code and moderator token, atomically."""
        pipe = self._client().pipeline(transaction=True)
        pipe.hset(
            ACCESS,
            access.session_id,
            json.dumps({"join_code": access.join_code, "moderator_token": access.moderator_token}),
        )
        if old_code != access.join_code:
            pipe.hdel(CODES, old_code)
            pipe.hset(CODES, access.join_code, access.session_id)
        await self._call(pipe.execute())

    async def append(self, events: list[Event]) -> None:
        """Append one session's consecutive events atomically; SeqConflict if not next."""
        if not events:
            return
        session_id = events[0].session_id
        args: list[Any] = [events[0].seq]
        for e in events:
            args += [e.type, json.dumps(e.data, ensure_ascii=False), repr(e.at)]
        await self._call(
            self._append(keys=[_seq_key(session_id), _stream_key(session_id)], args=args)
        )

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """A session's events after `after_seq`, in order."""
        rows = await self._call(
            self._client().xrange(_stream_key(session_id), min=f"({after_seq}-0", max="+")
        )
        return [_event(session_id, entry_id, fields) for entry_id, fields in rows]


class RedisTail:
    """Follows every session's stream and hands each new event to a callback, in order.

    One XREAD per process covers all sessions; after an outage it resumes from the last
    seq it delivered, so nothing is skipped and nothing is delivered twice.
    """

    def __init__(self, url: str, block_ms: int = 1000) -> None:
        self.url = url
        self.block_ms = block_ms
        self.positions: dict[str, int] = {}
        self.connected = True
        self._task: asyncio.Task[None] | None = None
        self._on_state: Callable[[bool], None] = lambda up: None

    def start(
        self,
        positions: dict[str, int],
        on_event: Callable[[Event], None],
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        """Tail from these seqs (session id -> last seq already applied)."""
        self.positions = dict(positions)
        if on_state is not None:
            self._on_state = on_state
        self._task = asyncio.get_running_loop().create_task(self._run(on_event))

    async def stop(self) -> None:
        """Stop tailing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, on_event: Callable[[Event], None]) -> None:
        client = connect(self.url)
        # XREAD BLOCK must be allowed to wait longer than the socket timeout.
        client.connection_pool.connection_kwargs["socket_timeout"] = self.block_ms / 1000 + 5
        delay = 0.2
        try:
            while True:
                try:
                    streams = {_stream_key(s): f"{seq}-0" for s, seq in self.positions.items()}
                    reply = await client.xread(streams, block=self.block_ms, count=1000)
                    self._set_connected(True)
                    delay = 0.2
                except (RedisError, OSError) as exc:
                    self._set_connected(False)
                    log.warning("event tail: %s; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                for stream, entries in reply or []:
                    session_id = stream[len(PREFIX + "events:") :]
                    for entry_id, fields in entries:
                        event = _event(session_id, entry_id, fields)
                        self.positions[session_id] = event.seq
                        on_event(event)
        finally:
            await client.aclose()

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            self._on_state(up)
