"""Load benchmark of Companion scaled out on Redis: 1, 2, 4 processes sharing one session.

Run from the repository root (a benchmark, not a test):

    python bench/ws_load.py --processes 1,2,4 --sizes 10000 --vote-rate 1000 --seconds 8
    python bench/ws_load.py --processes 2 --sizes 1000,5000,10000 --vote-rate 100
    python bench/ws_load.py --help                     # every option (most from ws_fanout.py)

It reuses bench/ws_fanout.py (the lean listener client, the voter process, the latency
analysis, the CPU and quiet-machine checks) and only changes the server side: for every
run it starts a fresh `redis-server` (tests/redisproc.py: appendonly yes, appendfsync
everysec, a free loopback port) and P `companion serve` processes with `REDIS_URL` set and
the raised limits of ws_fanout.py. The demo programme is imported once, through the first
process (the programme lives in Redis). The listeners of the one session are spread over
the P processes round robin (connection k of a listener process joins server k mod P);
there is one voter process per server, each sending its share of `--vote-rate`, so votes
enter through every process and reach the listeners of the others through the Redis
Streams.

Per run (processes x connections x vote rate) it reports vote-to-every-screen p50/p99
(the last of ALL listeners on ALL processes to see the vote counted), messages/s
received, CPU % (of one core) and RSS of each server process, KiB of server RSS per
connection and server CPU µs per delivered message, the load generator's CPU (all bench
processes), and Redis: its CPU % of one core (psutil on its pid; Redis executes
commands on one thread, so 100 % is its limit) and commands/s (INFO stats
total_commands_processed over the window). The machine has 2 cores shared by the
servers, Redis and the load generator: read every CPU figure against 200 %.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
import redis
import ws_fanout as wf

from tests.redisproc import RedisProcess
from tests.serverproc import free_port


@dataclass
class RedisCluster(wf.Cluster):
    """P servers on one fresh redis-server, which is measured during the window."""

    redis_server: RedisProcess = field(default_factory=lambda: RedisProcess(Path(".")))
    _begin: tuple[float, dict[str, Any]] = (0.0, {})
    cpu: int | None = None  # the servers' core: Redis is part of the system under test

    def start(self) -> None:
        """Redis first (on the servers' core, every thread), then the import (through
        server 0) and the servers."""
        self.redis_server.start()
        if self.cpu is not None:
            assert self.redis_server.proc is not None
            for thread in psutil.Process(self.redis_server.proc.pid).threads():
                os.sched_setaffinity(thread.id, {self.cpu})
        super().start()

    def stop(self) -> None:
        """Servers, then Redis."""
        super().stop()
        self.redis_server.stop()

    def _proc(self) -> psutil.Process:
        assert self.redis_server.proc is not None
        return psutil.Process(self.redis_server.proc.pid)

    def known_procs(self) -> list[psutil.Process]:
        """Redis is part of the system under test, not a disturbance."""
        return [self._proc()]

    def _info(self) -> dict[str, Any]:
        with redis.Redis.from_url(self.redis_server.url) as client:
            info: dict[str, Any] = client.info("stats")
            info.update(client.info("memory"))
            info["commandstats"] = client.info("commandstats")
        return info

    def window_begin(self) -> None:
        """Redis CPU and command counter at the start of the window."""
        self._begin = (wf._cpu([self._proc()]), self._info())

    def window_end(self, seconds: float) -> dict[str, Any]:
        """Redis CPU % of one core, commands/s, network in/out over the window."""
        cpu1, info1 = wf._cpu([self._proc()]), self._info()
        cpu0, info0 = self._begin

        def rate(key: str) -> float:
            return (info1.get(key, 0) - info0.get(key, 0)) / seconds

        stats0, stats1 = info0.get("commandstats", {}), info1.get("commandstats", {})
        commands = {}
        for name, now in stats1.items():
            before = stats0.get(name, {})
            calls = (now.get("calls", 0) - before.get("calls", 0)) / seconds
            failed = (now.get("failed_calls", 0) - before.get("failed_calls", 0)) / seconds
            if calls >= 0.5:
                commands[name.removeprefix("cmdstat_")] = (calls, failed)
        return {
            "redis_commands": commands,
            "redis_cpu": (cpu1 - cpu0) / seconds * 100,
            "redis_ops": rate("total_commands_processed"),
            "redis_in_kib": rate("total_net_input_bytes") / 1024,
            "redis_out_kib": rate("total_net_output_bytes") / 1024,
            "redis_mib": info1.get("used_memory", 0) / 2**20,
        }


def redis_cluster(processes: int) -> Any:
    """A make_cluster for wf.run_size: `processes` servers on one new Redis."""

    def make(args: argparse.Namespace, directory: Path, env: dict[str, str]) -> RedisCluster:
        rs = RedisProcess(directory / "redis", port=free_port())
        servers = []
        for i in range(processes):
            data = directory / f"server{i}"
            data.mkdir(parents=True)
            servers.append(
                wf.BenchServer(data, extra_env={**env, "REDIS_URL": rs.url}, cpu=args.server_cpu)
            )
        return RedisCluster(servers, redis_server=rs, cpu=args.server_cpu)

    return make


def _f(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt % value


def _each(row: dict[str, Any], key: str) -> str:
    values = row.get(key)
    return " + ".join(f"{v:.0f}" for v in values) if values else "-"


def table(rows: list[dict[str, Any]]) -> str:
    """The main markdown table."""
    ms = wf._ms
    lines = [
        "| processes | connections | votes/s asked (sent) | connect s "
        "| vote to every screen p50 / p99 ms | per pair p50 / p99 ms "
        "| msgs/s received (per conn) | server CPU % per process | server RSS MiB per process "
        "| KiB / conn | server CPU µs / msg | loadgen CPU % | Redis CPU % | Redis ops/s "
        "| machine busy % of 2 cores |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        conns = f"{r['size']:,}"
        if r.get("connected", r["size"]) < r["size"]:
            conns += f" (only {r['connected']:,})"
        msgs = (
            f"{r['msgs_per_s']:,.0f} ({r['msgs_per_client_s']:.1f})" if "msgs_per_s" in r else "-"
        )
        us_per_msg = (
            r["server_cpu"] / 100 / r["msgs_per_s"] * 1e6
            if r.get("msgs_per_s") and "server_cpu" in r
            else math.nan
        )
        lines.append(
            f"| {r['processes']} | {conns} | {r['rate']:g} ({_f(r, 'vote_rate_real', '%.0f')}) "
            f"| {_f(r, 'connect_s', '%.1f')} "
            f"| {ms(r.get('all_p50', math.nan))} / {ms(r.get('all_p99', math.nan))} "
            f"| {ms(r.get('pair_p50', math.nan))} / {ms(r.get('pair_p99', math.nan))} "
            f"| {msgs} | {_each(r, 'server_cpu_each')} | {_each(r, 'rss_mib_each')} "
            f"| {_f(r, 'kib_per_conn', '%.1f')} | {us_per_msg:.1f} "
            f"| {_f(r, 'loadgen_cpu', '%.0f')} | {_f(r, 'redis_cpu', '%.0f')} "
            f"| {_f(r, 'redis_ops', '%.0f')} | {_f(r, 'machine_busy', '%.0f')} |"
        )
    return "\n".join(lines)


def _commands(row: dict[str, Any]) -> str:
    """Redis commands per second by name; a failed evalsha is a seq conflict between servers."""
    commands = sorted(row.get("redis_commands", {}).items(), key=lambda kv: -kv[1][0])
    return (
        ", ".join(
            f"{name} {calls:.0f}" + (f" ({failed:.0f})" if failed >= 0.5 else "")
            for name, (calls, failed) in commands
        )
        or "-"
    )


def diagnostics(rows: list[dict[str, Any]]) -> str:
    """What explains the first table."""
    ms = wf._ms
    lines = [
        "| processes | connections | votes/s | votes sent/cast | vote ack p50 / p99 ms "
        "| probe ping p50 / p99 / max ms | counts msgs/s seen (all servers) | server CPU peak 1 s % "
        "| Redis in / out KiB/s | Redis used MiB | Redis commands/s (failed/s) "
        "| others CPU % | unseen pairs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "votes_sent" not in r:
            continue
        lines.append(
            f"| {r['processes']} | {r['size']:,} | {r['rate']:g} "
            f"| {r['votes_sent']:,}/{r['votes_cast']:,} "
            f"| {ms(r['ack_p50'])} / {ms(r['ack_p99'])} "
            f"| {ms(r['ping_p50'])} / {ms(r['ping_p99'])} / {ms(r['ping_max'])} "
            f"| {r['counts_per_s']:.1f} | {r['server_cpu_peak']:.0f} "
            f"| {_f(r, 'redis_in_kib', '%.0f')} / {_f(r, 'redis_out_kib', '%.0f')} "
            f"| {_f(r, 'redis_mib', '%.0f')} | {_commands(r)} "
            f"| {r['other_cpu']:.0f} | {r['missing_pairs']:,} |"
        )
    return "\n".join(lines)


def notes(rows: list[dict[str, Any]]) -> str:
    """Errors and failures, one line per run that had any."""
    out = []
    for r in rows:
        extra = {
            k: r[k]
            for k in ("error", "connect_failures", "vote_errors", "closed", "negative_pairs")
            if r.get(k)
        }
        extra["vote ack p50 first s -> last s (ms)"] = r.get("ack_trend_ms")
        extra["voters"] = r.get("voters")
        out.append(
            f"- {r['processes']} processes, {r['size']:,} connections, {r['rate']:g} votes/s: "
            + ", ".join(f"{k}: {v}" for k, v in extra.items())
        )
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """ws_fanout.py's options, with --processes and a list of vote rates."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0], conflict_handler="resolve"
    )
    wf.add_arguments(parser)
    parser.add_argument("--processes", default="1,2,4", help="server process counts")
    parser.add_argument("--sizes", default="1000,5000,10000", help="connection counts")
    parser.add_argument("--vote-rate", default="100,1000", help="votes per second, a list")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window")
    parser.add_argument("--attempts", type=int, default=1, help="runs per cell if disturbed")
    args = parser.parse_args(argv)
    args.process_list = [int(s) for s in args.processes.split(",") if s.strip()]
    if max(args.process_list) > wf.SERVER_SLOTS:
        parser.error(f"at most {wf.SERVER_SLOTS} processes")
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.rate_list = [float(s) for s in args.vote_rate.split(",") if s.strip()]
    wf.settle_arguments(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the matrix (vote rate, then size, then processes) and print the tables."""
    args = parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    limit = wf.raise_nofile(max(args.size_list) + 2000)
    if args.load_cpu is not None:
        os.sched_setaffinity(0, {args.load_cpu})  # the orchestrator is load too
    digest = wf.source_digest()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    rows: list[dict[str, Any]] = []
    for rate in args.rate_list:
        for size in args.size_list:
            for processes in args.process_list:
                run_args = argparse.Namespace(**vars(args))
                run_args.vote_rate = rate
                for attempt in range(1, args.attempts + 1):
                    wf._log(f"== {processes} processes, {size} connections, {rate:g} votes/s")
                    row = wf.run_size(run_args, size, redis_cluster(processes))
                    row.update(processes=processes, rate=rate, attempt=attempt)
                    if row.get("other_cpu", 0.0) <= args.max_others or attempt == args.attempts:
                        break
                    wf._log(f"others used {row['other_cpu']:.0f}% of a core: measuring again")
                rows.append(row)
                wf._log(table(rows[-1:]))
    print(f"\nCommand: `{command}` (started {started})\n")
    print(f"Server source companion/*.py: {digest}")
    if wf.source_digest() != digest:
        print("WARNING: the server source changed during the run")
    print()
    print(
        f"Window {args.seconds:g} s, {args.question_rate:g} questions/s, listeners in "
        f"{args.workers} processes ({args.client} client) spread round robin over the servers, "
        "one voter process per server, one fresh redis-server per run (appendonly yes, "
        f"appendfsync everysec), RLIMIT_NOFILE {limit}. {psutil.cpu_count()} CPUs shared by "
        "the servers, Redis and the load generator; CPU % is of one core (200 % = machine).\n"
    )
    print(table(rows))
    print()
    print(diagnostics(rows))
    print()
    print(notes(rows))
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
