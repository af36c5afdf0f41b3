"""How Companion answers through a Redis outage: answer times and what the log holds.

Run from the repository root (a benchmark, not a test):

    python bench/redis_outage.py                       # hang 10 s, then down 10 s
    python bench/redis_outage.py --hang 30 --down 30 --participants 40

Two `companion serve` processes share a fresh `redis-server` (tests/redisproc.py); the
participants, half on each process, ask and vote (each question once per participant, so
no vote toggles) as fast as their answers come. Redis is first hung (SIGSTOP) and later
shut down, each for the given seconds, with a settled phase before, between and after.
Per phase it prints the requests sent, how they were answered and the answer times
(p50 / p99 / max, seconds, measured by the client from send to answer); then it reads
the log from Redis and counts acknowledged changes missing from it (must be 0), changes
answered `store_unavailable` that are in it (docs/protocol.md 5.1: only when Redis wrote
them within their deadline and its answer was lost), and the largest time between a
change's decision and Redis writing it (the deadline is 0.8 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import SESSION
from tests.e2e.test_store_faults import LIMITS, Traffic, talk
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.wsclient import Client


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of the values, 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace, root: Path) -> None:
    """Start everything, run the phases, print the table and the log check."""
    redis = RedisProcess(root / "redis")
    redis.start()
    servers = []
    for name in ("a", "b"):
        (root / name).mkdir()
        env = {**LIMITS, "REDIS_URL": redis.url}
        servers.append(ServerProcess(root / name, extra_env=env))
    assert servers[0].import_programme().returncode == 0
    for server in servers:
        server.start()
    traffic = Traffic()
    clients: list[Client] = []
    phases: list[tuple[str, float]] = []
    try:
        code, _ = servers[0].access()[SESSION]
        tasks = []
        stop = asyncio.Event()
        for i in range(args.participants):
            client = await Client.open(servers[i % 2].ws)
            welcome = await client.join(code=code, where="room")
            clients.append(client)
            pid = welcome["participant"]["id"]
            tasks.append(asyncio.create_task(talk(client, pid, i % 2, traffic, stop)))
        steps = [
            ("before", args.settle, None),
            ("hung (SIGSTOP)", args.hang, redis.pause),
            ("after the hang", args.settle, redis.resume),
            ("down (shut down)", args.down, redis.stop),
            ("after the outage", args.settle, redis.start),
        ]
        for name, seconds, action in steps:
            if action is not None:
                await asyncio.to_thread(action)  # the clients keep running meanwhile
            phases.append((name, time.time()))
            await asyncio.sleep(seconds)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await asyncio.sleep(1)
        client_r = aioredis.from_url(redis.url, decode_responses=True)
        try:
            entries = await client_r.xrange(f"companion:events:{SESSION}")
        finally:
            await client_r.aclose()
    finally:
        redis.resume()
        for client in clients:
            await client.close()
        for server in servers:
            server.stop()
        redis.stop()

    print(
        f"{'phase':<18} {'sent':>6} {'ack':>6} {'unavail.':>8} {'other':>6} "
        f"{'p50 s':>7} {'p99 s':>7} {'max s':>7}"
    )
    bounds = [*(t for _, t in phases[1:]), float("inf")]
    for (name, start), end in zip(phases, bounds, strict=True):
        replies = [r for r in traffic.replies if start <= r.sent < end]
        seconds = [r.seconds for r in replies]
        acks = sum(r.answer == "ack" for r in replies)
        unavailable = sum(r.answer == "store_unavailable" for r in replies)
        print(
            f"{name:<18} {len(replies):>6} {acks:>6} {unavailable:>8} "
            f"{len(replies) - acks - unavailable:>6} {quantile(seconds, 0.5):>7.3f} "
            f"{quantile(seconds, 0.99):>7.3f} {max(seconds, default=0):>7.3f}"
        )
    stored: set[object] = set()
    for _, fields in entries:
        data = json.loads(fields["d"])
        if fields["t"] == "question.asked":
            stored.add(data["text"])
        elif fields["t"] == "vote.cast":
            stored.add((data["participant"], data["id"]))
    acked = {r.key for r in traffic.replies if r.answer == "ack"}
    refused = {r.key for r in traffic.replies if r.answer == "store_unavailable"}
    lags = [float(f["r"]) - float(f["a"]) for _, f in entries]
    print(
        f"\nlog: {len(entries)} events; acknowledged but missing: {len(acked - stored)}; "
        f"answered store_unavailable but stored: {len(refused & stored)}"
    )
    print(
        f"decision to Redis write: p50 {statistics.median(lags):.3f} s, "
        f"max {max(lags):.3f} s (deadline 0.8 s)"
    )


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=24)
    parser.add_argument("--hang", type=float, default=10.0, help="seconds Redis is stopped")
    parser.add_argument("--down", type=float, default=10.0, help="seconds Redis is shut down")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds between phases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(run(args, Path(root)))


if __name__ == "__main__":
    main()
