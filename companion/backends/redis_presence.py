"""Presence across processes on Redis: each process's part of a session, under a lease.

Per session, a registry hash `companion:presence:<session>` holds one field per process:
when its part lapses (Redis's clock) and its connection counts; beside it, the hash
`companion:presence:<session>:<process>` holds that process's participants. A process
sends its part every `SYNC_SECONDS` in one script call per session (all sessions in one
pipeline): only the participants that came, moved or left since the last call, so a
crowd joining costs one round trip per tick, not one per join. The same script drops
lapsed parts (a dead process's people leave the counts once its lease is over) and
counts the session's distinct participants over every live part: a participant connected
to two processes, or reconnecting to another while the dead one's part has not lapsed,
counts once. That count reads every part, so it is kept with the parts' versions and
made again only when a part's people changed (10,000 participants: about 6 ms of Redis). Fresh identities are counted per address digest in
`companion:identities:<session>`, which outlives the processes that gave them out.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from companion.backends.base import PresenceShare, SessionPresence, StoreUnavailable

PREFIX = "companion:"
# A process's part lapses LEASE seconds after its last share; it shares every
# SYNC_SECONDS, so a live process's part never lapses unless its loop stalls that long.
LEASE = 4.0
IDENTITIES_KEPT = 2 * 86400.0  # seconds after the last fresh identity of the session

# KEYS: registry, this process's participants, identities (the registry's `:version`
# counter and `:merged` cache, and the other processes' parts, are named after the
# registry's key: a single Redis, as deployed, not a Redis Cluster, whose scripts may
# touch only the keys they are given). ARGV: process, lease (ms), full (0/1), withdraw (0/1), moderators, screens, viewers, identities kept (ms), the
# number of participant pairs, then (participant, stamp or '' for gone) pairs, then
# (address digest, fresh identities) pairs. Stamps are "r" (room) or "m" (remote) and the
# join time in ms. Returns room, remote, moderators, screens, viewers, new identities,
# most from one address, leader (0/1), resend (0/1).
SHARE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local me = ARGV[1]
local lease = tonumber(ARGV[2])
local full = ARGV[3] == '1'
local withdraw = ARGV[4] == '1'
local pairs_n = tonumber(ARGV[9])
local resend = 0

local mine = redis.call('HGET', KEYS[1], me)
local lapsed = (not mine) or tonumber(string.match(mine, '^(%d+)')) < now_ms
if withdraw then
  redis.call('HDEL', KEYS[1], me)
  redis.call('DEL', KEYS[2])
elseif lapsed and not full then
  -- Changes only make sense on top of the part they change, which is gone.
  resend = 1
else
  -- A part's version changes with its people (from one counter per session, so a part
  -- that lapsed and came back never reuses a version the merge cache may hold).
  local version = mine and string.match(mine, '^%d+ (%d+)') or '0'
  if full or pairs_n > 0 then
    version = redis.call('INCR', KEYS[1] .. ':version')
    if full then redis.call('DEL', KEYS[2]) end
    for i = 10, 9 + pairs_n * 2, 2 do
      if ARGV[i + 1] == '' then
        redis.call('HDEL', KEYS[2], ARGV[i])
      else
        redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
      end
    end
  end
  redis.call('HSET', KEYS[1], me, (now_ms + lease) .. ' ' .. version .. ' ' ..
    ARGV[5] .. ' ' .. ARGV[6] .. ' ' .. ARGV[7])
  redis.call('PEXPIRE', KEYS[2], lease * 3)
  redis.call('PEXPIRE', KEYS[1], lease * 3)
  redis.call('PEXPIRE', KEYS[1] .. ':version', ARGV[8])
end

for i = 10 + pairs_n * 2, #ARGV, 2 do
  local n = redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[3], '#new', ARGV[i + 1])
  if n > tonumber(redis.call('HGET', KEYS[3], '#most') or '0') then
    redis.call('HSET', KEYS[3], '#most', n)
  end
  redis.call('PEXPIRE', KEYS[3], ARGV[8])
end

local live = {}
local moderators, screens, viewers = 0, 0, 0
local leader = nil
local parts = redis.call('HGETALL', KEYS[1])
for i = 1, #parts, 2 do
  local process = parts[i]
  local expires, version, m, s, v = string.match(parts[i + 1], '^(%d+) (%d+) (%d+) (%d+) (%d+)$')
  if tonumber(expires) < now_ms then
    redis.call('HDEL', KEYS[1], process)
    redis.call('DEL', KEYS[1] .. ':' .. process)
  else
    moderators = moderators + tonumber(m)
    screens = screens + tonumber(s)
    viewers = viewers + tonumber(v)
    if leader == nil or process < leader then leader = process end
    table.insert(live, process .. '=' .. version)
  end
end

-- Counting distinct participants reads every live part: done once per change of the
-- parts, not once per share (the result is kept under the parts' versions).
table.sort(live)
local signature = table.concat(live, ',')
local room, remote = nil, nil
local cached = redis.call('GET', KEYS[1] .. ':merged')
if cached then
  local sig, r, m = string.match(cached, '^(.*)|(%d+)|(%d+)$')
  if sig == signature then room, remote = tonumber(r), tonumber(m) end
end
if room == nil then
  room, remote = 0, 0
  local seen = {}
  for _, entry in ipairs(live) do
    local process = string.match(entry, '^(.*)=')
    local people = redis.call('HGETALL', KEYS[1] .. ':' .. process)
    for j = 1, #people, 2 do
      local who, stamp = people[j], people[j + 1]
      local before = seen[who]
      if before == nil then
        seen[who] = stamp
        if string.sub(stamp, 1, 1) == 'r' then room = room + 1 else remote = remote + 1 end
      elseif tonumber(string.sub(stamp, 2)) > tonumber(string.sub(before, 2)) then
        -- Connected to two processes: where the latest join said.
        seen[who] = stamp
        local was, is = string.sub(before, 1, 1), string.sub(stamp, 1, 1)
        if was ~= is then
          if is == 'r' then room = room + 1; remote = remote - 1
          else room = room - 1; remote = remote + 1 end
        end
      end
    end
  end
  redis.call('SET', KEYS[1] .. ':merged', signature .. '|' .. room .. '|' .. remote,
    'PX', lease * 3)
end
local counted = redis.call('HMGET', KEYS[3], '#new', '#most')
return {room, remote, moderators, screens, viewers,
  tonumber(counted[1] or '0'), tonumber(counted[2] or '0'),
  (leader == me) and 1 or 0, resend}
"""


def _registry(session_id: str) -> str:
    return f"{PREFIX}presence:{session_id}"


class RedisPresence:
    """One process's presence board on Redis (see the module's description)."""

    def __init__(self, redis: aioredis.Redis, process: str, lease: float = LEASE) -> None:
        self.redis = redis
        self.process = process
        self.lease = lease
        self._share = redis.register_script(SHARE)

    async def share(self, shares: list[PresenceShare]) -> list[SessionPresence]:
        """Send every session's part in one pipeline; the merged presence of each."""
        if not shares:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for part in shares:
            registry = _registry(part.session_id)
            args: list[Any] = [
                self.process,
                int(self.lease * 1000),
                int(part.full),
                int(part.withdraw),
                part.moderators,
                part.screens,
                part.viewers,
                int(IDENTITIES_KEPT * 1000),
                len(part.people),
            ]
            for who, stamp in part.people.items():
                args += [who, stamp or ""]
            for digest, n in (part.identities or {}).items():
                args += [digest, n]
            keys = [registry, f"{registry}:{self.process}", f"{PREFIX}identities:{part.session_id}"]
            await self._share(keys=keys, args=args, client=pipe)
        try:
            replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {exc}") from exc
        return [_merged(reply) for reply in replies]


def _merged(reply: list[Any]) -> SessionPresence:
    room, remote, moderators, screens, viewers, new, most, leader, resend = map(int, reply)
    return SessionPresence(
        room, remote, moderators, screens, viewers, new, most, bool(leader), bool(resend)
    )
