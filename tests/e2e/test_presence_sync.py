"""Presence is the session's with two `companion serve` processes on one real Redis:
clients split across both, every moderator sees the session's totals, a killed process's
people drop out within seconds and its reconnecting clients count once, and the report's
attendance peak is the session's, recorded by one process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
from websockets.asyncio.client import ClientConnection

from tests.e2e.conftest import BURST_LIMITS, SESSION, redis_pair
from tests.e2e.test_report import get
from tests.e2e.test_venue import fresh_join
from tests.serverproc import ServerProcess
from tests.wsclient import Client, Message

pytestmark = pytest.mark.timeout(120)

LEASE = 4.0  # companion.backends.redis_presence.LEASE


def presence(**expected: int) -> Callable[[Message], bool]:
    """A predicate: a presence message with these numbers."""
    return lambda m: m["type"] == "presence" and all(m.get(k) == v for k, v in expected.items())


async def join(server: ServerProcess, code: str, where: str, **fields: Any) -> Client:
    """A participant joined on one process."""
    client = await Client.open(server.ws)
    welcome = await client.join(code=code, where=where, **fields)
    assert welcome["type"] == "welcome", welcome
    return client


async def moderator(server: ServerProcess, key: str) -> Client:
    """A moderator joined on one process."""
    client = await Client.open(server.ws)
    welcome = await client.join(role="moderator", session=SESSION, moderator_token=key)
    assert welcome["type"] == "welcome", welcome
    return client


def peak_events(redis_url: str) -> list[tuple[int, int]]:
    """Every attendance peak recorded in the session's log, in order."""
    with redis_client.Redis.from_url(redis_url, decode_responses=True) as r:
        rows = r.xrange(f"companion:events:{SESSION}")
    return [
        (json.loads(f["d"])["room"], json.loads(f["d"])["remote"])
        for _, f in rows
        if f["t"] == "attendance.peak"
    ]


async def report_peak(server: ServerProcess, key: str, want: tuple[int, int]) -> tuple[int, int]:
    """The report's attendance peak once it is `want` (peaks lag up to 2 s), or the last seen."""
    deadline = time.monotonic() + 10
    while True:
        status, _, body = get(f"{server.http}/moderate/{SESSION}/report.json", key)
        assert status == 200, body
        att = json.loads(body)["attendance"]
        seen = (att["peak_room"], att["peak_remote"])
        if seen == want or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.25)


async def test_both_processes_show_the_sessions_presence_and_its_peak(tmp_path: Path) -> None:
    """15 in the room and 15 remote split 7/8 and 8/7 over two processes: both moderators
    and the participants see 15/15 (with 2 moderators, 1 screen and 30 fresh identities),
    a second tab on the other process counts once, and the report's peak is 15/15,
    recorded as growing peaks by one process only."""
    with redis_pair(tmp_path, BURST_LIMITS) as (redis, a, b):
        code, key = a.access()[SESSION]
        opened: list[Client] = []
        try:
            mod_a, mod_b = await moderator(a, key), await moderator(b, key)
            opened += [mod_a, mod_b]
            for server, in_room, remote in ((a, 7, 8), (b, 8, 7)):
                for where, n in (("room", in_room), ("remote", remote)):
                    opened += [await join(server, code, where) for _ in range(n)]
            opened.append(screen := await Client.open(b.ws))
            assert (await screen.join(role="screen", code=code))["type"] == "welcome"

            everyone = presence(room=15, remote=15, moderators=2, screens=1)
            for client in (mod_a, mod_b, opened[2], opened[-2]):
                await client.wait_for(everyone, timeout=10)
            for mod in (mod_a, mod_b):
                last = [m for m in mod.messages if m["type"] == "presence"][-1]
                assert last["identities"] == {"new": 30, "most_from_one_address": 30}, last

            # A participant in the room on A opens a second tab on B: still 15 people.
            first = opened[2]
            assert first.welcome is not None
            token = first.welcome["participant"]["token"]
            start = len(mod_b.messages)
            opened.append(await join(b, code, "room", token=token))
            told = await mod_b.wait_for(lambda m: m["type"] == "presence", 10, start)
            assert (told["room"], told["remote"]) == (15, 15), told

            assert await report_peak(a, key, (15, 15)) == (15, 15)
            assert await report_peak(b, key, (15, 15)) == (15, 15)
            peaks = peak_events(redis.url)
            # One process records; each event is a new peak, none twice; none above the truth.
            assert peaks == sorted(set(peaks)), peaks
            assert peaks[-1] == (15, 15), peaks
            assert all(r <= 15 and m <= 15 for r, m in peaks), peaks
        finally:
            for client in opened:
                await client.close()


async def test_a_killed_process_drops_out_and_its_clients_count_once(tmp_path: Path) -> None:
    """10 and 10 on each of two processes; B is SIGKILLed while half of its clients resume
    on A at once: A's moderator never sees anyone twice, B's people who did not come back
    are gone from the counts within a few seconds, and the report's peak stays the
    session's (not inflated by the failover)."""
    with redis_pair(tmp_path, BURST_LIMITS) as (redis, a, b):
        code, key = a.access()[SESSION]
        opened: list[Client] = []
        try:
            mod_a, mod_b = await moderator(a, key), await moderator(b, key)
            opened += [mod_a, mod_b]
            on_b: list[Client] = []
            for server in (a, b):
                for where in ("room", "remote"):
                    for _ in range(5):
                        client = await join(server, code, where)
                        opened.append(client)
                        if server is b:
                            on_b.append(client)
            await mod_a.wait_for(presence(room=10, remote=10, moderators=2), timeout=10)
            assert await report_peak(a, key, (10, 10)) == (10, 10)

            start = len(mod_a.messages)
            b.kill()
            killed = time.monotonic()
            # 3 of B's room participants and 2 of its remote ones resume on A at once.
            back = [c for c in on_b if c.welcome["participant"]["where"] == "room"][:3]
            back += [c for c in on_b if c.welcome["participant"]["where"] == "remote"][:2]
            for client in back:
                assert client.welcome is not None
                token = client.welcome["participant"]["token"]
                where = client.welcome["participant"]["where"]
                opened.append(await join(a, code, where, token=token, since=client.seq))
            resumed = time.monotonic() - killed
            await mod_a.wait_for(presence(room=8, remote=7, moderators=1), LEASE + 6, start)
            dropped = time.monotonic() - killed
            print(
                f"\nB's clients resumed on A {resumed:.2f} s after the kill; B's part gone "
                f"from A's counts after {dropped:.2f} s"
            )
            assert dropped < LEASE + 3, dropped
            after = [m for m in mod_a.messages[start:] if m["type"] == "presence"]
            assert all(m["room"] <= 10 and m["remote"] <= 10 for m in after), after

            await asyncio.sleep(2.5)  # a peak would be recorded by now (every 2 s at most)
            assert await report_peak(a, key, (10, 10)) == (10, 10)
            peaks = peak_events(redis.url)
            assert peaks[-1] == (10, 10) and all(r <= 10 and m <= 10 for r, m in peaks), peaks
        finally:
            for client in opened:
                await client.close()


CROWD = 1000
AT_ONCE = 50  # phones connecting at the same moment, per process


def presence_calls(redis_url: str) -> int:
    """Script calls Redis has run so far: the presence shares, and a few appends."""
    with redis_client.Redis.from_url(redis_url, decode_responses=True) as r:
        stats = r.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_a_crowd_joining_costs_a_few_round_trips_and_messages_a_second(
    tmp_path: Path,
) -> None:
    """1,000 phones join, half through each process: each process talks to Redis about
    presence about twice a second (not once per join), the moderator gets at most one
    presence message per flush and a phone about one a second, and both end at 1,000."""
    with redis_pair(tmp_path, BURST_LIMITS) as (redis, a, b):
        code, key = a.access()[SESSION]
        mod_a = await moderator(a, key)
        watcher = await join(b, code, "room")
        phones: list[ClientConnection] = []
        try:
            before, started = presence_calls(redis.url), time.monotonic()

            async def crowd(server: ServerProcess, n: int) -> None:
                for first in range(0, n, AT_ONCE):
                    batch = min(AT_ONCE, n - first)
                    joined = await asyncio.gather(
                        *(fresh_join(server.ws, code) for _ in range(batch))
                    )
                    assert all(reply["type"] == "welcome" for _, reply in joined)
                    phones.extend(ws for ws, _ in joined)

            await asyncio.gather(crowd(a, CROWD // 2 - 1), crowd(b, CROWD // 2))
            await mod_a.wait_for(presence(room=CROWD), timeout=30)
            took = time.monotonic() - started
            calls = presence_calls(redis.url) - before
            told_mod = sum(m["type"] == "presence" for m in mod_a.messages)
            told_phone = sum(m["type"] == "presence" for m in watcher.messages)
            print(
                f"\n{CROWD} phones joined two processes in {took:.1f} s: {calls} Redis script "
                f"calls ({calls / took / 2:.1f}/s per process), {told_mod} presence messages "
                f"to the moderator, {told_phone} to a phone"
            )
            assert calls <= 2 * (took / 0.5 + 3), calls
            assert told_mod <= took / 0.1 + 3, told_mod
            assert told_phone <= took + 3, told_phone
        finally:
            for ws in phones:
                await ws.close()
            await mod_a.close()
            await watcher.close()


async def test_presence_comes_back_exact_after_redis_was_away_longer_than_a_lease(
    tmp_path: Path,
) -> None:
    """Redis stopped for 6 s (every part lapses meanwhile) and started again: both
    processes send their whole part again; a known participant's second tab opened during
    the outage counts once and a newcomer after it counts, on both moderators, and nobody
    ever sees more than the session's numbers."""
    with redis_pair(tmp_path, BURST_LIMITS) as (redis, a, b):
        code, key = a.access()[SESSION]
        opened: list[Client] = []
        try:
            mod_a, mod_b = await moderator(a, key), await moderator(b, key)
            opened += [mod_a, mod_b]
            for server in (a, b):
                opened += [await join(server, code, "room") for _ in range(4)]
                opened += [await join(server, code, "remote") for _ in range(3)]
            for mod in (mod_a, mod_b):
                await mod.wait_for(presence(room=8, remote=6, moderators=2), timeout=10)
            token = opened[2].welcome["participant"]["token"]  # type: ignore[index]
            marks = [len(mod_a.messages), len(mod_b.messages)]

            redis.stop()
            await asyncio.sleep(6)
            # A participant of A opens a second tab on B while Redis is away (no fresh
            # identity needed, so the join does not touch the store).
            opened.append(await join(b, code, "room", token=token))
            redis.start()
            opened.append(await join(a, code, "room"))  # a newcomer once Redis is back
            for mod, mark in zip((mod_a, mod_b), marks, strict=True):
                await mod.wait_for(presence(room=9, remote=6, moderators=2), 15, mark)
                seen = [m for m in mod.messages[mark:] if m["type"] == "presence"]
                assert all(m["room"] <= 9 and m["remote"] <= 6 for m in seen), seen
        finally:
            for client in opened:
                await client.close()
