"""Where a forwarded vote's time goes, hop by hop, on two processes sharing one Redis.

    python bench/forward_hops.py                 # 50 votes, 10 a second
    python bench/forward_hops.py --votes 200 --gap 0.02

Two real `companion serve` processes on a fresh `redis-server` (the e2e tests' cluster);
the voters join the process that does NOT hold the session's writer lease, so every vote
is forwarded. Redis's MONITOR timestamps each command, so for every vote it prints: its
sending to the forward's XADD, the XADD to the writer's append, the append to the voter's
ack, and the sending to the moment a screen on each process first showed it, plus the
phase (ms after a whole 100 ms of the wall clock) of the `counts` messages that showed it.
Both processes and Redis run unpinned: this tells the hops apart on a quiet machine, it
is not a load test (bench/ws_load.py is).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.e2e.test_session_writers import SESSION, ask, cluster, join, writer_pid  # noqa: E402
from tests.wsclient import Client  # noqa: E402


def _monitor(url: str, log: list[tuple[float, str]], stop: threading.Event) -> None:
    with redis.Redis.from_url(url, decode_responses=True).monitor() as monitor:
        for command in monitor.listen():
            if stop.is_set():
                break
            log.append((float(command["time"]), str(command["command"])))


def _first_shown(client: Client) -> dict[int, float]:
    """When `client` first read a `counts` message naming each question."""
    shown: dict[int, float] = {}
    for message, at in zip(client.messages, client.received, strict=True):
        if message["type"] == "counts":
            for question in message["counts"]:
                shown.setdefault(int(question), at)
    return shown


def _line(name: str, values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return f"| {name} | - | - | - |"
    p90 = values[max(0, int(len(values) * 0.9) - 1)]
    return f"| {name} | {statistics.median(values):.1f} | {p90:.1f} | {values[-1]:.1f} |"


async def run(directory: Path, votes: int, gap: float) -> None:
    """Ask `votes` questions, vote once on each through the forwarding process, report."""
    with cluster(directory, 2) as (store, servers):
        code, _ = servers[0].access()[SESSION]
        opened: list[Client] = []
        questions: list[int] = []
        for batch in range(0, votes, 10):  # a connection may send 20 messages a second
            questions += await ask(servers[0], code, opened, min(10, votes - batch), "Hopp")
        writer = writer_pid(store)
        forwarder = next(s for s in servers if s.proc is not None and s.proc.pid != writer)
        holder = next(s for s in servers if s is not forwarder)
        screens = {
            "the writer's": await join(holder, code),
            "the forwarder's": await join(forwarder, code),
        }
        voters = [await join(forwarder, code) for _ in range(6)]
        opened += [*screens.values(), *voters]
        log: list[tuple[float, str]] = []
        stop = threading.Event()
        threading.Thread(target=_monitor, args=(store.url, log, stop), daemon=True).start()
        await asyncio.sleep(0.5)
        sent: dict[int, float] = {}
        acked: dict[int, float] = {}
        try:
            for k, question in enumerate(questions):
                sent[question] = time.time()
                reply = await voters[k % len(voters)].request(
                    {"type": "vote", "question": question}
                )
                if reply["type"] != "ack":
                    raise SystemExit(f"vote refused: {reply}")
                acked[question] = time.time()
                await asyncio.sleep(gap)
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            for client in opened:
                await client.close()
        forwarded: dict[int, float] = {}
        appended: dict[int, float] = {}
        wanted = set(questions)
        for at, command in log:
            if "companion:commands:" in command and "EVALSHA" in command:
                for question in wanted:
                    if (
                        f'"question": {question}' in command
                        or f'\\"question\\": {question}' in command
                    ):
                        forwarded.setdefault(question, at)
            elif "companion:events:" in command and "vote.cast {" in command:
                for question in wanted:
                    if f'vote.cast {{"id": {question},' in command:
                        appended.setdefault(question, at)
        seen = {name: _first_shown(client) for name, client in screens.items()}
        both = [q for q in questions if q in forwarded and q in appended]
        print(f"{len(both)} of {len(questions)} votes found in MONITOR (forward and append)\n")
        print("| from → to | p50 ms | p90 ms | max ms |\n|---|---:|---:|---:|")
        print(_line("sent → forward (XADD)", [(forwarded[q] - sent[q]) * 1e3 for q in both]))
        print(_line("forward → append", [(appended[q] - forwarded[q]) * 1e3 for q in both]))
        print(_line("append → ack", [(acked[q] - appended[q]) * 1e3 for q in both]))
        for name, shown in seen.items():
            print(
                _line(
                    f"sent → {name} screen",
                    [(shown[q] - sent[q]) * 1e3 for q in both if q in shown],
                )
            )
        phases = sorted((at % 0.1) * 1e3 for at in seen["the forwarder's"].values())
        print(_line("counts on the forwarder's screen: ms after a whole 100 ms", phases))


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--votes", type=int, default=50, help="votes, one per question")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between votes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-hops-") as directory:
        asyncio.run(run(Path(directory), args.votes, args.gap))


if __name__ == "__main__":
    main()
