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
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from companion.backends.base import SeqConflict, StoreUnavailable, TooLate, VersionConflict
from companion.backends.redis_presence import RedisPresence
from companion.backends.redis_writers import RedisWriterBoard
from companion.domain.access import SessionAccess
from companion.domain.events import Event
from companion.domain.members import NetworkMember
from companion.domain.organisers import AuditEntry, OneTimeLink, Organiser, Signin

log = logging.getLogger(__name__)

READ_COUNT = 1000  # entries per stream per tail read
WAIT_LIMIT = 0.25  # longest a join waits for the log (per step) while Redis hangs

PREFIX = "companion:"
PROGRAMME = PREFIX + "programme"
ACCESS = PREFIX + "access"
CODES = PREFIX + "codes"
SESSIONS = PREFIX + "sessions"
ORGANISERS = PREFIX + "organisers"  # id -> JSON
ORGANISER_EMAILS = PREFIX + "organiser-emails"  # email -> id
AUDIT_KEPT = 10000  # entries per network
# A network's member list (not its organisers, which are `members:<network>`): one hash
# per network, id -> JSON; and one index of the current links' digests -> "network|id".
MEMBER_TOKENS = PREFIX + "member-tokens"

# KEYS: the network's member hash, the token index. ARGV: network id, then (member id,
# token digest or '', JSON) per member. A link the member no longer carries leaves the
# index in the same step.
SAVE_MEMBERS = """
for i = 2, #ARGV, 3 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if old then
    local was = cjson.decode(old)['token_hash']
    if was ~= '' and was ~= ARGV[i + 1] then redis.call('HDEL', KEYS[2], was) end
  end
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  if ARGV[i + 1] ~= '' then
    redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[1] .. '|' .. ARGV[i])
  end
end
return 1
"""

# KEYS: the network's member hash, the token index. ARGV: member id. 0 when absent.
DELETE_MEMBER = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local was = cjson.decode(old)['token_hash']
if was ~= '' then redis.call('HDEL', KEYS[2], was) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""

# KEYS: emails, organisers. ARGV: email, id, JSON. 0 when the email is taken.
ADD_ORGANISER = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: the failure counter. ARGV: now, window (seconds). A fixed window from the first failure.
COUNT_FAILURE = """
local start = tonumber(redis.call('HGET', KEYS[1], 's') or '-1')
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if start < 0 or start <= now - window then
  redis.call('HSET', KEYS[1], 's', ARGV[1], 'c', 1)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return 1
end
return redis.call('HINCRBY', KEYS[1], 'c', 1)
"""

PROGRAMME_VERSION = PREFIX + "programme:version"

# KEYS: version, programme, access, codes, sessions. ARGV: expected version ('' for any),
# programme JSON, then (session id, access JSON, join code) per new session.
SAVE_PROGRAMME = """
local version = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then
  return redis.error_reply('VERSION ' .. version)
end
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HSETNX', KEYS[4], ARGV[i + 2], ARGV[i])
    redis.call('SADD', KEYS[5], ARGV[i])
  end
end
redis.call('SET', KEYS[1], version + 1)
return version + 1
"""

# KEYS: access, codes. ARGV: session id, its access JSON, its join code.
UPDATE_ACCESS = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local code = cjson.decode(old)['join_code']
  if code ~= ARGV[3] and redis.call('HGET', KEYS[2], code) == ARGV[1] then
    redis.call('HDEL', KEYS[2], code)
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS: seq key, stream key. ARGV: the deadline in Redis's clock (microseconds since the
# epoch; 0: none), the first seq, then (type, data, at) per event. Redis's TIME is returned
# (and given with a refusal), so the store keeps its view of Redis's clock current. Each
# entry keeps when Redis wrote it ('r', Redis's clock), so the deadline can be audited.
APPEND = """
local now = redis.call('TIME')
local deadline = tonumber(ARGV[1])
if deadline > 0 and tonumber(now[1]) * 1000000 + tonumber(now[2]) > deadline then
  return redis.error_reply('LATE ' .. now[1] .. ' ' .. now[2])
end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[2])
if seq ~= last + 1 then
  return redis.error_reply('SEQ ' .. last)
end
local n = (#ARGV - 2) / 3
local ran = now[1] .. '.' .. string.format('%06d', tonumber(now[2]))
for i = 0, n - 1 do
  redis.call('XADD', KEYS[2], (seq + i) .. '-0',
    't', ARGV[3 + i * 3], 'd', ARGV[4 + i * 3], 'a', ARGV[5 + i * 3], 'r', ran)
end
redis.call('SET', KEYS[1], seq + n - 1)
return {seq + n - 1, now[1], now[2]}
"""

# KEYS: seq key, stream key. ARGV: the seq the log must end at, then (seq, type, data, at)
# per event of the new log. The stream is replaced whole, with the same entry ids, so a
# tail that has read up to an id goes on after it; the seq key ends at the last event.
REPLACE_LOG = """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last ~= tonumber(ARGV[1]) then
  return redis.error_reply('SEQ ' .. last)
end
local now = redis.call('TIME')
local ran = now[1] .. '.' .. string.format('%06d', tonumber(now[2]))
redis.call('DEL', KEYS[2])
local n = (#ARGV - 1) / 4
for i = 0, n - 1 do
  redis.call('XADD', KEYS[2], ARGV[2 + i * 4] .. '-0',
    't', ARGV[3 + i * 4], 'd', ARGV[4 + i * 4], 'a', ARGV[5 + i * 4], 'r', ran)
end
redis.call('SET', KEYS[1], ARGV[2 + (n - 1) * 4])
return n
"""


def _seq_key(session_id: str) -> str:
    return f"{PREFIX}seq:{session_id}"


async def _within(awaitable: Awaitable[Any], timeout: float) -> None:
    """Wait for `awaitable`, or `timeout` seconds, whichever is first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(awaitable, timeout)


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


class RedisClock:
    """Redis's clock as this process sees it: the TIME of the latest reply, paired with the
    local monotonic instant the reply arrived.

    Redis read its clock before sending the reply, so the pairing runs behind Redis by the
    reply's travel time: a local deadline converted with it falls early in Redis's clock,
    never late. It is refreshed by every append and, when older than `STALE`, by a TIME.
    """

    STALE = 30.0

    def __init__(self) -> None:
        self.redis_time: float | None = None
        self.local_time = 0.0

    def observe(self, seconds: Any, microseconds: Any) -> None:
        """Record a TIME reply (seconds, microseconds) that arrived just now."""
        self.redis_time = int(seconds) + int(microseconds) / 1e6
        self.local_time = time.monotonic()

    def stale(self) -> bool:
        """Whether the pairing is missing or old enough for the clocks to have drifted."""
        return self.redis_time is None or time.monotonic() - self.local_time > self.STALE

    def microseconds_at(self, deadline: float) -> int:
        """A local monotonic instant in Redis's clock, in microseconds since the epoch."""
        assert self.redis_time is not None
        return int((self.redis_time + (deadline - self.local_time)) * 1e6)

    def local_at(self, microseconds: int) -> float:
        """An instant in Redis's clock as a local monotonic instant (`microseconds_at`
        undone, so a fence passed on is the same microseconds again)."""
        assert self.redis_time is not None
        return self.local_time + (microseconds / 1e6 - self.redis_time)


def connect(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client with short timeouts, so a Redis outage is an error, never a hang.

    A blocking pool makes bursts wait for a free connection instead of failing.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        # A pooled connection may be stale after a Redis restart, or a reply lost: one retry,
        # on a fresh connection, covers both. More only delays the answer while Redis is
        # down, and commands of a session queue behind each other.
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),
        retry_on_error=[ConnectionError, RedisTimeout],
        socket_timeout=3,
        socket_connect_timeout=2,
        health_check_interval=10,
        max_connections=max_connections,
        timeout=3,
    )
    return aioredis.Redis(connection_pool=pool)


class RedisStore:
    """Store on Redis: programme and secrets as keys, event logs as streams."""

    shared = True  # other processes may append: a command is published only once appended

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis: aioredis.Redis | None = None
        self.clock = RedisClock()
        self._append: Any = None
        self._update_access: Any = None
        self._save_programme: Any = None
        self._replace_log: Any = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """`redis://[:password@]host:port/db`, `rediss://…` or `unix:///path.sock`."""
        return cls(url)

    def tail(self) -> RedisTail:
        """A follower of every session's stream, on a connection of its own."""
        return RedisTail(self.url, self.last_seq)

    def writer_board(self, process: str) -> RedisWriterBoard:
        """Where this process takes session writer leases and forwards commands to the
        writers (after `open`)."""
        return RedisWriterBoard(self._client(), self.url, process, self.clock)

    def presence_board(self, process: str) -> RedisPresence:
        """Where this process shares presence with the others (after `open`)."""
        return RedisPresence(self._client(), process)

    async def open(self) -> None:
        """Connect (and check the connection)."""
        self.redis = connect(self.url)
        self._append = self.redis.register_script(APPEND)
        self._update_access = self.redis.register_script(UPDATE_ACCESS)
        self._add_organiser = self.redis.register_script(ADD_ORGANISER)
        self._count_failure = self.redis.register_script(COUNT_FAILURE)
        self._save_programme = self.redis.register_script(SAVE_PROGRAMME)
        self._replace_log = self.redis.register_script(REPLACE_LOG)
        self._save_members = self.redis.register_script(SAVE_MEMBERS)
        self._delete_member = self.redis.register_script(DELETE_MEMBER)
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
            if isinstance(exc, ResponseError) and str(exc).startswith("LATE "):
                self.clock.observe(*str(exc).split()[1:3])
                raise TooLate(
                    "Redis ran the append after its deadline; nothing was stored."
                ) from None
            if isinstance(exc, ResponseError) and str(exc).startswith("VERSION "):
                raise VersionConflict(int(str(exc).split()[1])) from None
            raise StoreUnavailable(f"Redis: {exc}") from exc

    def _client(self) -> aioredis.Redis:
        if self.redis is None:
            raise StoreUnavailable("The store is not open.")
        return self.redis

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        """Replace the programme and add secrets for new sessions, in one transaction."""
        await self._save(data, access, None)

    async def replace_programme(
        self, data: dict[str, Any], access: list[SessionAccess], expected_version: int
    ) -> int:
        """Save the programme only if it is still at `expected_version` (VersionConflict)."""
        return await self._save(data, access, expected_version)

    async def _save(
        self, data: dict[str, Any], access: list[SessionAccess], expected: int | None
    ) -> int:
        self._client()
        args: list[Any] = [
            "" if expected is None else expected,
            json.dumps(data, ensure_ascii=False),
        ]
        for a in access:
            secrets = {"join_code": a.join_code, "moderator_token": a.moderator_token}
            args += [a.session_id, json.dumps(secrets), a.join_code]
        keys = [PROGRAMME_VERSION, PROGRAMME, ACCESS, CODES, SESSIONS]
        return int(await self._call(self._save_programme(keys=keys, args=args)))

    async def load_programme(self) -> dict[str, Any] | None:
        """The stored programme, or None."""
        raw = await self._call(self._client().get(PROGRAMME))
        return json.loads(raw) if raw else None

    async def load_programme_versioned(self) -> tuple[dict[str, Any] | None, int]:
        """The stored programme and its version, read together."""
        raw, version = await self._call(self._client().mget(PROGRAMME, PROGRAMME_VERSION))
        return (json.loads(raw) if raw else None), int(version or 0)

    async def programme_version(self) -> int:
        """The version of the stored programme."""
        return int(await self._call(self._client().get(PROGRAMME_VERSION)) or 0)

    async def load_access(self) -> list[SessionAccess]:
        """The secrets of every session."""
        rows = await self._call(self._client().hgetall(ACCESS))
        out = []
        for session_id, raw in rows.items():
            d = json.loads(raw)
            out.append(SessionAccess(session_id, d["join_code"], d["moderator_token"]))
        return out

    async def update_access(self, access: SessionAccess) -> None:
        """Replace one session's join code and moderator token, and the code index, atomically."""
        record = {"join_code": access.join_code, "moderator_token": access.moderator_token}
        await self._call(
            self._update_access(
                keys=[ACCESS, CODES],
                args=[access.session_id, json.dumps(record), access.join_code],
            )
        )

    async def append(
        self, events: list[Event], deadline: float | None = None, fence: int | None = None
    ) -> None:
        """Append one session's consecutive events atomically; SeqConflict if not next.

        With a `deadline` (a `time.monotonic()` instant), Redis itself refuses the append
        if it runs it later than that (TooLate): a command that waited in a socket while
        Redis hung or the network stalled cannot land after the caller gave up on it. A
        `fence` is that deadline already in Redis's clock (microseconds since the epoch), as
        the process that forwarded the command fixed it: it is passed on unchanged.
        """
        if not events:
            return
        if deadline is not None:
            if fence is None and self.clock.stale():
                self.clock.observe(*await self._call(self._client().time()))
            if time.monotonic() >= deadline:
                raise TooLate("The append's deadline passed before it was sent.")
            if fence is None:
                fence = self.clock.microseconds_at(deadline)
        session_id = events[0].session_id
        args: list[Any] = [fence or 0, events[0].seq]
        for e in events:
            args += [e.type, json.dumps(e.data, ensure_ascii=False), repr(e.at)]
        reply = await self._call(
            self._append(keys=[_seq_key(session_id), _stream_key(session_id)], args=args)
        )
        self.clock.observe(reply[1], reply[2])

    async def replace_log(self, events: list[Event], expected_last: int) -> None:
        """Replace a session's whole stream by `events` (same seqs, a new one at the end)
        if it still ends at `expected_last`, atomically (one script); SeqConflict if not.

        Redis's append-only file keeps the replaced entries until it is rewritten:
        `compact` asks for that."""
        session_id = events[0].session_id
        args: list[Any] = [expected_last]
        for e in events:
            args += [e.seq, e.type, json.dumps(e.data, ensure_ascii=False), repr(e.at)]
        await self._call(
            self._replace_log(keys=[_seq_key(session_id), _stream_key(session_id)], args=args)
        )

    async def compact(self) -> None:
        """Rewrite the append-only file, so replaced log entries leave the disk too."""
        try:
            await self._call(self._client().bgrewriteaof())
        except StoreUnavailable as exc:  # e.g. a rewrite already under way: it covers ours
            log.info("Redis did not start an AOF rewrite: %s", exc)

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """A session's events after `after_seq`, in order."""
        rows = await self._call(
            self._client().xrange(_stream_key(session_id), min=f"({after_seq}-0", max="+")
        )
        return [_event(session_id, entry_id, fields) for entry_id, fields in rows]

    async def last_seq(self, session_id: str) -> int:
        """The seq of a session's last stored event (0: none)."""
        return int(await self._call(self._client().get(_seq_key(session_id))) or 0)

    # -- organisers ----------------------------------------------------------------------
    async def add_organiser(self, organiser: Organiser) -> bool:
        """Create an account; False when the email is taken (one script: atomic)."""
        added = await self._call(
            self._add_organiser(
                keys=[ORGANISER_EMAILS, ORGANISERS],
                args=[organiser.email, organiser.id, _dump(organiser.to_data())],
            )
        )
        return bool(added)

    async def save_organiser(self, organiser: Organiser) -> None:
        """Replace an existing account."""
        await self._call(self._client().hset(ORGANISERS, organiser.id, _dump(organiser.to_data())))

    async def get_organiser(self, organiser_id: str) -> Organiser | None:
        """An account by id."""
        raw = await self._call(self._client().hget(ORGANISERS, organiser_id))
        return Organiser.from_data(json.loads(raw)) if raw else None

    async def find_organiser(self, email: str) -> Organiser | None:
        """An account by email."""
        organiser_id = await self._call(self._client().hget(ORGANISER_EMAILS, email))
        return await self.get_organiser(organiser_id) if organiser_id else None

    async def list_organisers(self) -> list[Organiser]:
        """Every account, by email."""
        rows = await self._call(self._client().hvals(ORGANISERS))
        return sorted((Organiser.from_data(json.loads(r)) for r in rows), key=lambda o: o.email)

    async def add_membership(self, network_id: str, organiser_id: str) -> None:
        """Make an organiser a member of a network."""
        pipe = self._client().pipeline(transaction=True)
        pipe.sadd(f"{PREFIX}members:{network_id}", organiser_id)
        pipe.sadd(f"{PREFIX}member-of:{organiser_id}", network_id)
        await self._call(pipe.execute())

    async def remove_membership(self, network_id: str, organiser_id: str) -> None:
        """End a membership."""
        pipe = self._client().pipeline(transaction=True)
        pipe.srem(f"{PREFIX}members:{network_id}", organiser_id)
        pipe.srem(f"{PREFIX}member-of:{organiser_id}", network_id)
        await self._call(pipe.execute())

    async def memberships(self, organiser_id: str) -> set[str]:
        """The networks an organiser belongs to."""
        return set(await self._call(self._client().smembers(f"{PREFIX}member-of:{organiser_id}")))

    async def network_members(self, network_id: str) -> set[str]:
        """The organisers of a network."""
        return set(await self._call(self._client().smembers(f"{PREFIX}members:{network_id}")))

    async def put_link(self, link: OneTimeLink) -> None:
        """Keep a one-time link; Redis forgets it when it expires."""
        await self._call(
            self._client().set(
                f"{PREFIX}link:{link.token_hash}",
                _dump(link.to_data()),
                pxat=max(1, int(link.expires * 1000)),
            )
        )

    async def take_link(self, token_hash: str, now: float) -> OneTimeLink | None:
        """Remove and return a link that has not expired (GETDEL: atomic)."""
        raw = await self._call(self._client().getdel(f"{PREFIX}link:{token_hash}"))
        if not raw:
            return None
        link = OneTimeLink.from_data(json.loads(raw))
        return link if link.expires > now else None

    async def put_signin(self, signin: Signin) -> None:
        """Keep a sign-in session; Redis forgets it when it expires."""
        await self._call(
            self._client().set(
                f"{PREFIX}signin:{signin.id_hash}",
                _dump(signin.to_data()),
                pxat=max(1, int(signin.expires * 1000)),
            )
        )

    async def get_signin(self, id_hash: str, now: float) -> Signin | None:
        """A sign-in session that has not expired."""
        raw = await self._call(self._client().get(f"{PREFIX}signin:{id_hash}"))
        if not raw:
            return None
        signin = Signin.from_data(json.loads(raw))
        return signin if signin.expires > now else None

    async def delete_signin(self, id_hash: str) -> None:
        """End a sign-in session."""
        await self._call(self._client().delete(f"{PREFIX}signin:{id_hash}"))

    async def count_failure(self, key: str, window: float, now: float) -> int:
        """Count a failure in a fixed window from the first failure (one script: atomic)."""
        count = await self._call(
            self._count_failure(keys=[f"{PREFIX}failures:{key}"], args=[repr(now), repr(window)])
        )
        return int(count)

    async def clear_failures(self, key: str) -> None:
        """Forget the failures of `key`."""
        await self._call(self._client().delete(f"{PREFIX}failures:{key}"))

    async def renew_lease(self, name: str, owner: str, ttl: float) -> None:
        """The lease as a key that Redis expires: a dead owner's lapses by itself."""
        await self._call(
            self._client().set(f"{PREFIX}lease:{name}", owner, px=max(1, int(ttl * 1000)))
        )

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        """SET NX: of several processes claiming at once, exactly one gets it."""
        taken = await self._call(
            self._client().set(f"{PREFIX}claim:{name}", owner, px=max(1, int(ttl * 1000)), nx=True)
        )
        return bool(taken)

    async def lease_owner(self, name: str) -> str | None:
        """The owner, while the key lives."""
        owner: str | None = await self._call(self._client().get(f"{PREFIX}lease:{name}"))
        return owner

    async def append_audit(self, entry: AuditEntry) -> None:
        """Record an audit entry (the newest AUDIT_KEPT are kept)."""
        key = f"{PREFIX}audit:{entry.network_id}"
        pipe = self._client().pipeline(transaction=True)
        pipe.lpush(key, _dump(entry.to_data()))
        pipe.ltrim(key, 0, AUDIT_KEPT - 1)
        await self._call(pipe.execute())

    async def load_audit(self, network_id: str, limit: int = 500) -> list[AuditEntry]:
        """Newest first."""
        rows = await self._call(self._client().lrange(f"{PREFIX}audit:{network_id}", 0, limit - 1))
        return [AuditEntry.from_data(json.loads(r)) for r in rows]

    # -- a network's member list ----------------------------------------------------------
    async def load_members(self, network_id: str) -> list[NetworkMember]:
        """Every member of a network."""
        rows = await self._call(self._client().hvals(_members_key(network_id)))
        return [NetworkMember.from_data(json.loads(r)) for r in rows]

    async def get_member(self, network_id: str, member_id: str) -> NetworkMember | None:
        """One member of a network."""
        raw = await self._call(self._client().hget(_members_key(network_id), member_id))
        return NetworkMember.from_data(json.loads(raw)) if raw else None

    async def save_members(self, members: list[NetworkMember]) -> None:
        """Add or replace members of one network (one script: all or none)."""
        if not members:
            return
        network_id = members[0].network_id
        args: list[Any] = [network_id]
        for m in members:
            assert m.network_id == network_id, "one network at a time"
            args += [m.id, m.token_hash, _dump(m.to_data())]
        await self._call(
            self._save_members(keys=[_members_key(network_id), MEMBER_TOKENS], args=args)
        )

    async def delete_member(self, network_id: str, member_id: str) -> bool:
        """Remove a member and their link (one script)."""
        removed = await self._call(
            self._delete_member(keys=[_members_key(network_id), MEMBER_TOKENS], args=[member_id])
        )
        return bool(removed)

    async def member_by_token(self, token_hash: str) -> NetworkMember | None:
        """The member whose current link has this digest."""
        if not token_hash:
            return None
        ref = await self._call(self._client().hget(MEMBER_TOKENS, token_hash))
        if not ref:
            return None
        network_id, _, member_id = ref.partition("|")
        member = await self.get_member(network_id, member_id)
        return member if member is not None and member.token_hash == token_hash else None


def _members_key(network_id: str) -> str:
    return f"{PREFIX}member-list:{network_id}"


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


class RedisTail:
    """Follows every session's stream and hands each new event to a callback, in order.

    One XREAD per process covers all sessions; after an outage it resumes from the last
    seq it delivered, so nothing is skipped and nothing is delivered twice.

    Under a stream of votes every append would wake every process's tail for a few
    entries (one XREAD per append per process). So after a read that brought events the
    next waits up to `pace`, unless somebody needs the log's latest first: the hub's flush
    (`fresh`: clients are written what was stored before it) and a join or a reading
    command (`reached`: a snapshot shows every change stored before it was asked for).
    """

    pace = 0.02
    # A read that has waited this long found nothing (or its answer waits in a busy
    # loop): `fresh` does not wait for it.
    idle_after = 0.02

    def __init__(
        self,
        url: str,
        last_seq: Callable[[str], Awaitable[int]] | None = None,
        block_ms: int = 1000,
    ) -> None:
        self.url = url
        self.block_ms = block_ms
        self._last_seq = last_seq
        self.positions: dict[str, int] = {}
        self.connected = True
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._on_state: Callable[[bool], None] = lambda up: None
        self._together: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
        self._wake = asyncio.Event()
        self._started = 0  # reads started
        self._ended = 0  # reads ended (delivered, or failed)
        self._reading_since: float | None = None  # monotonic start of the read under way
        self._fresh: list[tuple[int, asyncio.Future[None]]] = []  # (read to end, waiter)
        self._reached: list[tuple[str, int, asyncio.Future[None]]] = []

    def start(
        self,
        positions: dict[str, int],
        on_event: Callable[[Event], None],
        on_state: Callable[[bool], None] | None = None,
        together: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        """Tail from these seqs (session id -> last seq already applied)."""
        self.positions = dict(positions)
        if on_state is not None:
            self._on_state = on_state
        if together is not None:
            self._together = together
        self._task = asyncio.get_running_loop().create_task(self._run(on_event))

    def follow(self, session_id: str, seq: int) -> None:
        """Also follow a session made after `start`; the next XREAD includes it."""
        self.positions.setdefault(session_id, seq)

    async def fresh(self, timeout: float = 0.02) -> None:
        """Return once a read that had not ended when called has (so what was stored
        before the call is handed on), at most `timeout` later; sooner if that read has
        waited `idle_after` for an entry in vain (nothing new was stored)."""
        deadline = time.monotonic() + timeout
        # The read under way, or the next one, started now.
        target = self._started + (0 if self._reading_since is not None else 1)
        done = asyncio.get_running_loop().create_future()
        self._fresh.append((target, done))
        self._wake.set()
        while not done.done():
            if self._started >= target and self._idle():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await _within(asyncio.shield(done), min(left, self.idle_after))

    def _idle(self) -> bool:
        """Whether the read under way has waited `idle_after` for an entry."""
        since = self._reading_since
        return since is not None and time.monotonic() - since >= self.idle_after

    async def reached(self, session_id: str, seq: int, timeout: float = WAIT_LIMIT) -> None:
        """Return once this session's events up to `seq` are handed on (at most `timeout`
        later: Redis may be away), reading at once rather than after the pace."""
        if self.positions.get(session_id, seq) >= seq:
            return
        done = asyncio.get_running_loop().create_future()
        self._reached.append((session_id, seq, done))
        self._wake.set()
        await _within(done, timeout)

    async def caught_up(self, session_id: str) -> None:
        """Return once this session's events stored before the call are handed on (one
        GET of its seq, then `reached`); at once if Redis refuses, within WAIT_LIMIT of
        each step if it hangs."""
        if self._last_seq is None or session_id not in self.positions:
            return
        try:
            async with asyncio.timeout(WAIT_LIMIT):
                seq = await self._last_seq(session_id)
        except (StoreUnavailable, TimeoutError):
            return
        await self.reached(session_id, seq)

    async def stop(self) -> None:
        """Stop tailing."""
        # The flag too: redis-py can swallow the cancellation of a read that was timing out
        # and retry it, and the loop would then go on (seen after a Redis restart under load).
        self._stopping = True
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
            while not self._stopping:
                self._started += 1
                self._reading_since = time.monotonic()
                try:
                    streams: dict[Any, Any] = {
                        _stream_key(s): f"{seq}-0" for s, seq in self.positions.items()
                    }
                    # With decode_responses: [[stream, [(entry id, {field: value})]]].
                    reply: Any = await client.xread(streams, block=self.block_ms, count=READ_COUNT)
                    self._set_connected(True)
                    delay = 0.2
                except (RedisError, OSError) as exc:
                    self._read_ended()
                    self._set_connected(False)
                    log.warning("event tail: %s; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                full = False  # a stream had as many entries as a read takes: more wait
                with self._together():  # the events of one read go out together
                    for stream, entries in reply or []:
                        full = full or len(entries) >= READ_COUNT
                        session_id = stream[len(PREFIX + "events:") :]
                        for entry_id, fields in entries:
                            event = _event(session_id, entry_id, fields)
                            self.positions[session_id] = event.seq
                            on_event(event)
                self._read_ended(done=not full)  # (if full, waiters wait for the next)
                if reply and not full and not self._fresh and not self._reached:
                    self._wake.clear()
                    await _within(self._wake.wait(), self.pace)
        finally:
            await client.aclose()

    def _read_ended(self, done: bool = True) -> None:
        self._reading_since = None
        if done:
            self._ended = self._started
        fresh = []
        for target, waiter in self._fresh:
            if self._ended >= target:
                if not waiter.done():  # (its caller may have given up)
                    waiter.set_result(None)
            elif not waiter.done():
                fresh.append((target, waiter))
        self._fresh = fresh
        reached = []
        for session_id, seq, waiter in self._reached:
            if self.positions.get(session_id, seq) >= seq:
                if not waiter.done():
                    waiter.set_result(None)
            elif not waiter.done():
                reached.append((session_id, seq, waiter))
        self._reached = reached

    def _set_connected(self, up: bool) -> None:
        if up != self.connected:
            self.connected = up
            self._on_state(up)
