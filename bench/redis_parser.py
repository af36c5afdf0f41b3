"""CPU of redis-py's reply parsers: pure Python against hiredis (C), on a tail's read.

Run from the repository root: `python bench/redis_parser.py`. It starts a fresh
`redis-server` (tests/redisproc.py), stores 20 events as the store does, and prints the
process CPU per `XREAD` of those 20 entries plus one `EVALSHA`, as every process's tail
and append make them, with each parser, three times (the ratio is what to read on a busy
machine). redis-py uses hiredis whenever it is installed (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis.asyncio as aioredis
from redis._parsers import _AsyncHiredisParser, _AsyncRESP3Parser

from tests.redisproc import RedisProcess

EVENT = {
    "t": "vote.cast",
    "d": '{"id": 3, "participant": "p-3f9a2c71", "where": "room"}',
    "a": "2026-11-30T11:00:00.000000+00:00",
    "r": "1764500000.123456",
}


async def cpu_per_call(url: str, parser: type, sha: str, calls: int = 2000) -> float:
    """Microseconds of this process's CPU per XREAD + EVALSHA with `parser`."""
    client = aioredis.Redis.from_url(url, decode_responses=True, parser_class=parser)
    await client.ping()
    began = time.process_time()
    for _ in range(calls):
        await client.xread({"events": "0-0"}, count=20)
        await client.evalsha(sha, 1, "x", "1")
    used = time.process_time() - began
    await client.aclose()
    return used / calls * 1e6


async def main(url: str) -> None:
    client = aioredis.Redis.from_url(url)
    for _ in range(20):
        await client.xadd("events", EVENT)
    sha = await client.script_load("return {1, 2, 3}")
    await client.aclose()
    for _ in range(3):
        python = await cpu_per_call(url, _AsyncRESP3Parser, sha)
        hiredis = await cpu_per_call(url, _AsyncHiredisParser, sha)
        print(
            f"CPU µs per XREAD of 20 events + EVALSHA: Python parser {python:.0f}, hiredis {hiredis:.0f}"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        server = RedisProcess(Path(directory))
        server.start()
        try:
            asyncio.run(main(server.url))
        finally:
            server.stop()
