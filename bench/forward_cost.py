"""What a forwarded vote costs in Redis: commands and round trips, on each side.

Run from the repository root (it counts, it does not time; the machine may be busy):

    python bench/forward_cost.py                       # 4 processes, 1,600 votes
    python bench/forward_cost.py --processes 2 --voters 40 --questions 10 --rate 400

It starts a fresh `redis-server` and P `companion serve` processes on it (as
tests/e2e/test_session_writers.py does), lets the first process take the session's writer
lease, and sends `--voters` participants per process voting on `--questions` questions at
about `--rate` votes a second in all. Redis `MONITOR` records every command meanwhile;
each command's client connection is matched to its server process (psutil), so the
figures split into the writer's side and the forwarding side. Per forwarded vote (a vote
sent to a process that does not hold the lease) it prints:

- the top-level commands each side sent, by kind (a script by its name), and the
  commands the scripts ran inside Redis;
- round trips: runs of consecutive commands from one connection (a pipeline arrives in
  one read and Redis runs it without interleaving other clients; two separate calls of
  one connection with nothing between them would count as one, so this is a floor).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import redis

from companion.backends import redis as redis_store
from companion.backends import redis_presence, redis_writers
from tests.e2e.conftest import SESSION
from tests.e2e.test_session_writers import LEASE, cluster, join
from tests.wsclient import Client

LINE = re.compile(r'^\+[\d.]+ \[\d+ (\S+)\] "([^"]*)"(?: "([^"]*)")?')


def script_names() -> dict[str, str]:
    """sha1 of each Lua script the server sends -> its constant's name."""
    names = {}
    for module in (redis_store, redis_presence, redis_writers):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and "redis.call" in value:
                names[hashlib.sha1(value.encode()).hexdigest()] = name
    return names


class Monitor:
    """A raw MONITOR connection; every line it receives, kept for parsing afterwards."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"MONITOR\r\n")
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(1 << 20):
                self.chunks.append(chunk)

    def lines(self) -> list[str]:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.sock.close()
        return b"".join(self.chunks).decode(errors="replace").splitlines()


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def ports_of(pids: list[int], redis_port: int) -> dict[str, int]:
    """'127.0.0.1:port' of each server process's Redis connection -> its pid."""
    out = {}
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == redis_port:
                out[f"{conn.laddr.ip}:{conn.laddr.port}"] = pid
    return out


async def vote(servers: list, voters: int, questions: int, rate: float) -> tuple[int, int]:
    """Every voter votes on every question, spread at about `rate` a second; how many
    votes went through the writer's process and through the others (all acked)."""
    code, _ = servers[0].access()[SESSION]
    asker = await join(servers[0], code)
    ids = [
        (await asker.request({"type": "ask", "text": f"Fråga {i}"}))["question"]
        for i in range(questions)
    ]
    clients = [(i, await join(s, code)) for i, s in enumerate(servers) for _ in range(voters)]
    per_round = len(clients) / rate

    async def one(client: Client, question: int, key: str) -> None:
        await asyncio.sleep(random.uniform(0, per_round))
        reply = await client.request({"type": "vote", "question": question, "key": key})
        assert reply["type"] == "ack" and reply["voted"], reply

    through: Counter[bool] = Counter()
    for q in ids:
        await asyncio.gather(*(one(c, q, f"k{q}") for _, c in clients))
        for i, _ in clients:
            through[i == 0] += 1
    for _, c in clients:
        await c.close()
    await asker.close()
    return through[True], through[False]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--voters", type=int, default=40, help="participants per process")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--rate", type=float, default=400.0, help="votes a second in all")
    args = parser.parse_args()
    names = script_names()
    with (
        tempfile.TemporaryDirectory() as tmp,
        cluster(Path(tmp), args.processes) as (
            store,
            servers,
        ),
    ):
        pids = [s.proc.pid for s in servers]
        client = redis.Redis.from_url(store.url, decode_responses=True)
        monitor = Monitor(store.port)
        time.sleep(0.2)
        procs = {pid: psutil.Process(pid) for pid in [*pids, store.proc.pid]}
        before = {pid: cpu_seconds(proc) for pid, proc in procs.items()}
        at_writer, forwarded = asyncio.run(vote(servers, args.voters, args.questions, args.rate))
        used = {pid: cpu_seconds(proc) - before[pid] for pid, proc in procs.items()}
        holder = client.get(LEASE) or ""
        owner = ports_of(pids, store.port)
        lines = monitor.lines()
    writer = int(holder.split("-", 1)[0])
    assert writer == pids[0], "the first process was to hold the lease"
    top: dict[str, Counter[str]] = {"writer": Counter(), "forwarding": Counter()}
    inner: dict[str, Counter[str]] = {"writer": Counter(), "forwarding": Counter()}
    trips: Counter[str] = Counter()
    last_client = ""
    last_side = ""
    for line in lines:
        match = LINE.match(line)
        if match is None:
            continue
        addr, command, first = match.group(1), match.group(2).upper(), match.group(3)
        if addr == "lua":
            if last_side:
                inner[last_side][command] += 1
            continue
        pid = owner.get(addr)
        if pid is None:
            last_side = ""
            last_client = addr
            continue  # this script's own connections, or one closed meanwhile
        side = "writer" if pid == writer else "forwarding"
        kind = command
        if command == "EVALSHA":
            kind = f"EVALSHA {names.get(first or '', first)}"
        elif command == "PUBLISH":
            kind = f"PUBLISH {(first or '').split(':')[1]}"
        top[side][kind] += 1
        if addr != last_client:
            trips[side] += 1
        last_client, last_side = addr, side
    print(
        f"{args.processes} processes, {at_writer + forwarded} votes: {forwarded} forwarded, "
        f"{at_writer} at the writer"
    )
    votes = at_writer + forwarded
    print(
        "CPU ms per vote (while voting, MONITOR on): "
        f"writer {1000 * used[writer] / votes:.2f}, forwarding processes "
        + ", ".join(f"{1000 * used[pid] / votes:.2f}" for pid in pids if pid != writer)
        + f", Redis {1000 * used[store.proc.pid] / votes:.2f}"
    )
    for side in ("forwarding", "writer"):
        total = sum(top[side].values())
        print(
            f"{side}: per forwarded vote {total / max(1, forwarded):.2f} commands, "
            f"{sum(inner[side].values()) / max(1, forwarded):.2f} inside scripts, "
            f"{trips[side] / max(1, forwarded):.2f} round trips"
        )
        for kind, n in top[side].most_common():
            print(f"    {kind:32} {n:6}  {n / max(1, forwarded):.3f} per forwarded vote")


if __name__ == "__main__":
    main()
