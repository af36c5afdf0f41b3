"""Fan-out benchmark of the live stream: what does one more viewer cost the server?

Run from the repository root (a benchmark, not a test; pytest never collects it):

    python bench/stream_fanout.py                              # 1,10,25,50 viewers, both relays
    python bench/stream_fanout.py --sizes 1,10 --seconds 8
    python bench/stream_fanout.py --relays encode-once --sizes 100
    python bench/stream_fanout.py --pin 0:1 --relays encode-once   # server on core 0, load on 1
    python bench/stream_fanout.py --pin 0:1 --relays encode-once --slate  # camera and slate
    python bench/stream_fanout.py --pin 0:1 --relays encode-once --stage  # a voice on stage
    python bench/stream_fanout.py --help

Two relays, side by side in one run, each in its own fresh server process per size:

* encode-once: Companion itself (`companion serve`, tests.serverproc.ServerProcess): the
  publisher's stream is decoded once, encoded once (VP8) and the same packets go to every
  viewer's sender (companion/media).
* mediarelay: the usual aiortc relay, in a small server this file starts
  (`--baseline-server PORT`): aiortc's MediaRelay (buffered=False) subscribed once per
  viewer, each viewer's sender encoding on its own. Each viewer gets its own copy of
  every frame: without it several encoder threads touch one frame object at once and the
  process crashes (see shared notes/streaming.md).

The load, the same for both: one aiortc publisher over WHIP (640x360, 30 fps, a counter
drawn in each frame over a camera-like moving texture, VP8; plus a 1 kHz tone), and N
aiortc viewers over WHEP (video and audio). Decoding 50 streams would need the machine's
two cores by itself, so only `--probes` viewers (2) decode and read the counters, in the
publisher's process; the other viewers, in `--workers` processes, receive, decrypt and
count video frames (RTP marker bits) without decoding.

Reported per relay and size, over a `--seconds` window after everyone is receiving and
at least `--warmup` seconds after the publisher started (its encoder settles on a bitrate
during the first seconds, re-creating itself, which would blur the numbers):

* server CPU: seconds of CPU (user + system, all threads, psutil) per second of stream,
  in total, per viewer (total / N) and per extra viewer ((total(N) - total(1)) / (N - 1));
* CPU per delivered frame: server CPU / (N x frames per viewer), in ms, the fair cost
  per viewer when a relay cannot keep up and delivers fewer frames;
* frames per viewer: frames each viewer got per second (mean and the worst viewer);
* glass to glass: from the publisher making a frame to a probe viewer decoding it, read
  back from the counter in the picture, p50 and p99 (same process, monotonic clock);
* load generator CPU (publisher, probes and viewers together), to show whether the load
  generator, on the same two cores, held things back.

With `--slate`, every encode-once run is repeated as `encode-once+slate`: the same load,
but once everyone receives, the moderator switches the stream to the slate
(`show.stream`), so the server encodes and sends the drawn slate (10 frames a second,
drawn again once a second for its countdown) instead of the camera; the probes then count
slate frames (no counter to read: no glass-to-glass figure). Its rows stand beside the
camera's in the table: the per-viewer cost with a slate active.

With `--stage`, every encode-once run is repeated as `encode-once+stage`: the same load,
plus one remote participant on stage. Before the viewers connect, a participant joins
the session's remote page over the realtime WebSocket and raises a hand (`hand.raise`),
the moderator invites them (`hand.invite`), and an aiortc peer in the publisher's process
publishes a 440 Hz tone as their microphone over `/whip-stage`. The server decodes that
voice once and mixes it into the stream's audio before the one Opus encode, so its rows
should show the same per-viewer cost as the encode-once rows beside them. The probes
check that they hear both tones (FFT of their decoded audio over the window): the last
column says how many probes heard the voice and the room.

The markdown table and the exact command line are printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SESSION = "ledarskap-2020-05-05"
SECRET = "test-secret-key-not-for-production"  # what tests.serverproc gives the server
WIDTH, HEIGHT = 640, 360


# -- the baseline server: MediaRelay with one encoder per viewer -----------------------------


def run_baseline_server(port: int) -> None:
    """Serve WHIP/WHEP with aiortc's MediaRelay: every viewer's sender encodes on its own."""
    import av
    import uvicorn
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRelay
    from aiortc.mediastreams import MediaStreamTrack
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    relay = MediaRelay()
    tracks: dict[str, MediaStreamTrack] = {}
    pcs: dict[str, RTCPeerConnection] = {}

    class FrameCopy(MediaStreamTrack):
        """A private copy of each frame for one viewer's encoder thread."""

        kind = "video"

        def __init__(self, source: MediaStreamTrack) -> None:
            super().__init__()
            self.source = source

        async def recv(self) -> av.VideoFrame:
            frame = await self.source.recv()
            copy = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
            copy.pts, copy.time_base = frame.pts, frame.time_base
            return copy

    async def negotiate(pc: RTCPeerConnection, request: Request) -> Response:
        await pc.setRemoteDescription(
            RTCSessionDescription((await request.body()).decode(), "offer")
        )
        if request.url.path.startswith("/whep"):
            for kind in ("video", "audio"):
                if kind in tracks:
                    source = relay.subscribe(tracks[kind], buffered=False)
                    pc.addTrack(FrameCopy(source) if kind == "video" else source)
        await pc.setLocalDescription(await pc.createAnswer())
        return Response(
            pc.localDescription.sdp,
            201,
            media_type="application/sdp",
            headers={"location": f"{request.base_url}{request.url.path.lstrip('/')}/{id(pc)}"},
        )

    async def whip(request: Request) -> Response:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs[str(id(pc))] = pc

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            tracks[track.kind] = track

        return await negotiate(pc, request)

    async def whep(request: Request) -> Response:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs[str(id(pc))] = pc
        return await negotiate(pc, request)

    async def delete(request: Request) -> Response:
        pc = pcs.pop(request.path_params["resource"], None)
        if pc is None:
            return Response(status_code=404)
        await pc.close()
        return Response()

    async def health(request: Request) -> Response:
        return Response("ok")

    app = Starlette(
        routes=[
            Route("/whip/{session}", whip, methods=["POST"]),
            Route("/whep/{session}", whep, methods=["POST"]),
            Route("/{kind}/{session}/{resource}", delete, methods=["DELETE"]),
            Route("/healthz", health),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


class Baseline:
    """The MediaRelay server as a subprocess of this benchmark."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.http = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--baseline-server", str(self.port)], cwd=ROOT
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("baseline server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class EncodeOnce:
    """Companion itself (`companion serve`) with the demo programme."""

    def __init__(self) -> None:
        from tests.serverproc import ServerProcess

        self.server = ServerProcess(
            Path(tempfile.mkdtemp(prefix="stream-bench-")),
            extra_env={"COMPANION_STREAM_MAX_VIEWERS": "10000"},
        )
        self.http = self.server.http
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        result = self.server.import_programme()
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        self.server.start()
        self.proc = self.server.proc

    def stage_login(self) -> tuple[str, str, str]:
        """What the probe needs to put a participant on stage: (ws URL, join code, key)."""
        code, key = self.server.access()[SESSION]
        return self.server.ws, code, key

    async def show_slate(self) -> None:
        """The moderator puts the slate on the stream (`show.stream`), as the console does."""
        from tests.wsclient import Client

        client = await Client.open(self.server.ws)
        try:
            _, key = self.server.access()[SESSION]
            await client.join(role="moderator", session=SESSION, moderator_token=key)
            reply = await client.request({"type": "show.stream", "stream": "slate"})
            if reply["type"] != "ack":
                raise RuntimeError(f"show.stream: {reply}")
        finally:
            await client.close()

    def stop(self) -> None:
        self.server.stop()


# -- the load: publisher and probe viewers, counting viewers -----------------------------


def tokens() -> tuple[str, str]:
    """(stream key, a participant token) for the benchmark session."""
    from companion.services.stream_access import stream_key
    from companion.services.tokens import TokenSigner

    return stream_key(SECRET, SESSION), TokenSigner(SECRET).issue(SESSION)[1]


def probe_main(
    conn: Connection, base: str, probes: int, stage: tuple[str, str, str] | None
) -> None:
    """The publisher, the voice on stage if any, and the probe viewers (decode, read
    counters and tones): one process."""
    asyncio.run(_probe(conn, base, probes, stage))


async def _on_stage(base: str, stage: tuple[str, str, str]) -> tuple[Any, list[Any]]:
    """A remote participant raises a hand, the moderator invites them, their microphone
    (a 440 Hz tone) goes to /whip-stage. Returns the voice and the two open clients."""
    from tests.media.peers import TONE_HZ, Publisher, ToneTrack
    from tests.wsclient import Client

    ws, code, key = stage
    participant = await Client.open(ws)
    moderator = await Client.open(ws)
    welcome = await participant.join(code=code, where="remote", name="Eva")
    hand = (await participant.request({"type": "hand.raise"}))["hand"]
    await moderator.join(role="moderator", session=SESSION, moderator_token=key)
    reply = await moderator.request({"type": "hand.invite", "hand": hand})
    if reply["type"] != "ack":
        raise RuntimeError(f"hand.invite: {reply}")
    token = welcome["participant"]["token"]
    voice = Publisher(base, SESSION, token, audio=ToneTrack(TONE_HZ), endpoint="whip-stage")
    answer = await voice.start()
    if answer.status != 201:
        raise RuntimeError(f"/whip-stage {answer.status}: {answer.text}")
    return voice, [participant, moderator]


async def _probe(
    conn: Connection, base: str, probes: int, stage: tuple[str, str, str] | None
) -> None:
    from tests.media.peers import (
        HEARS,
        ROOM_HZ,
        TONE_HZ,
        CounterTrack,
        Publisher,
        ToneTrack,
        Viewer,
        wait_until,
    )

    key, token = tokens()
    video = CounterTrack(WIDTH, HEIGHT, noise=True)
    publisher = Publisher(base, SESSION, key, video, ToneTrack(ROOM_HZ))
    answer = await publisher.start()
    if answer.status != 201:
        conn.send(("error", f"WHIP {answer.status}: {answer.text}"))
        return
    voice, clients = await _on_stage(base, stage) if stage else (None, [])
    viewers = [Viewer(base, SESSION, token) for _ in range(probes)]
    for viewer in viewers:
        await viewer.start()
    ok = await wait_until(lambda: all(len(v.frames) >= 10 for v in viewers), 30)
    if stage:  # the voice is in the stream before anything is measured
        ok = ok and await wait_until(lambda: all(v.heard.hears(TONE_HZ) for v in viewers), 15)
    conn.send(("ready", ok))
    _, t0, t1 = await asyncio.to_thread(conn.recv)
    fps, delays, heard = [], [], 0
    for viewer in viewers:
        inside = [(k, at) for k, at, _ in viewer.frames if t0 <= at <= t1]
        slates = [at for _, at in viewer.slates if t0 <= at <= t1]  # --slate runs
        fps.append((len(inside) + len(slates)) / (t1 - t0))
        delays += [at - video.sent_at[k] for k, at in inside if k in video.sent_at]
        tones = (viewer.heard.level(hz, t0, t1) > HEARS for hz in (TONE_HZ, ROOM_HZ))
        heard += all(tones)
    conn.send(("result", {"fps": fps, "delays": delays, "voice_heard": heard}))
    for viewer in viewers:
        await viewer.stop()
    if voice is not None:
        await voice.stop()
    for client in clients:
        await client.close()
    await publisher.stop()


def count_main(conn: Connection, base: str, n: int) -> None:
    """`n` viewers that receive and count frames without decoding them."""
    asyncio.run(_count(conn, base, n))


async def _count(conn: Connection, base: str, n: int) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from tests.media.peers import http, wait_until

    _, token = tokens()
    frames: list[list[float]] = [[] for _ in range(n)]
    pcs = []

    def counter(index: int, handle: Callable[..., Any]) -> Callable[..., Any]:
        async def count(packet: Any, arrival_time_ms: int) -> None:
            if packet.marker:  # the last packet of a video frame
                frames[index].append(time.monotonic())

        return count

    async def one(index: int) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pc)
        video = pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        # Decrypted RTP reaches the receiver here: count it instead of decoding it.
        video.receiver._handle_rtp_packet = counter(index, video.receiver._handle_rtp_packet)
        for t in pc.getTransceivers()[1:]:
            t.receiver._handle_rtp_packet = _ignore
        await pc.setLocalDescription(await pc.createOffer())
        answer = await http("POST", f"{base}/whep/{SESSION}", pc.localDescription.sdp, token)
        await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))

    for start in range(0, n, 5):  # a few at a time, as people arrive
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + 5))))
    ok = await wait_until(lambda: all(f for f in frames), 30)
    conn.send(("ready", ok))
    _, t0, t1 = await asyncio.to_thread(conn.recv)
    fps = [sum(1 for at in f if t0 <= at <= t1) / (t1 - t0) for f in frames]
    conn.send(("result", {"fps": fps, "delays": []}))
    for pc in pcs:
        await pc.close()


async def _ignore(packet: Any, arrival_time_ms: int) -> None:
    return None


# -- one run -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process so far."""
    times = proc.cpu_times()
    return times.user + times.system


def pin(pid: int, cores: set[int]) -> None:
    """Pin every thread of a process to `cores` (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread may end meanwhile
            os.sched_setaffinity(int(task.name), cores)


def run_one(relay: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start a server, connect the load, measure the window, tear everything down."""
    server: Any = EncodeOnce() if relay.startswith("encode-once") else Baseline()
    server.start()
    if args.pin:
        pin(server.proc.pid, args.pin[0])
    ctx = mp.get_context("spawn")
    children: list[tuple[Any, Connection]] = []
    try:
        probes = min(args.probes, n)
        parent, child = ctx.Pipe()
        stage = server.stage_login() if relay.endswith("+stage") else None
        proc = ctx.Process(target=probe_main, args=(child, server.http, probes, stage), daemon=True)
        proc.start()
        children.append((proc, parent))
        status = parent.recv()
        if status[0] != "ready" or not status[1]:
            raise RuntimeError(f"probe: {status}")
        publishing_since = time.monotonic()
        if relay.endswith("+slate"):
            asyncio.run(server.show_slate())
        rest = n - probes
        workers = min(args.workers, rest)
        for w in range(workers):
            share = rest // workers + (1 if w < rest % workers else 0)
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=count_main, args=(child, server.http, share), daemon=True)
            proc.start()
            children.append((proc, parent))
        for _, conn in children[1:]:
            status = conn.recv()
            if status[0] != "ready":
                raise RuntimeError(f"viewers: {status}")
        # The publisher's encoder follows the bitrate estimate for its first seconds
        # (re-creating its encoder, with keyframes): measure the steady state after it.
        time.sleep(max(args.settle, args.warmup - (time.monotonic() - publishing_since)))
        if args.pin:  # threads started before the first pin, in case
            pin(server.proc.pid, args.pin[0])
        server_ps = psutil.Process(server.proc.pid)
        load_ps = [psutil.Process(p.pid) for p, _ in children]
        t0 = time.monotonic()
        cpu0, load0 = cpu_seconds(server_ps), sum(cpu_seconds(p) for p in load_ps)
        time.sleep(args.seconds)
        t1 = time.monotonic()
        cpu1, load1 = cpu_seconds(server_ps), sum(cpu_seconds(p) for p in load_ps)
        fps: list[float] = []
        delays: list[float] = []
        voice_heard = 0
        for _, conn in children:
            conn.send(("report", t0, t1))
        for _, conn in children:
            _, data = conn.recv()
            fps += data["fps"]
            delays += data["delays"]
            voice_heard += data.get("voice_heard", 0)
        window = t1 - t0
        return {
            "relay": relay,
            "viewers": n,
            "cpu": (cpu1 - cpu0) / window,
            "fps_mean": sum(fps) / len(fps),
            "fps_min": min(fps),
            "p50": percentile(delays, 50) * 1000,
            "p99": percentile(delays, 99) * 1000,
            "load": (load1 - load0) / window,
            "probes": probes,
            "voice_heard": voice_heard if relay.endswith("+stage") else None,
        }
    finally:
        for proc, _ in children:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        server.stop()


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    base = {r["relay"]: r["cpu"] for r in rows if r["viewers"] == 1}
    stage = any(r["voice_heard"] is not None for r in rows)
    lines = [
        "| relay | viewers | server CPU s/s | per viewer | per extra viewer | CPU ms per delivered frame | frames/s per viewer (mean / worst) | glass to glass p50 / p99 | load generator CPU s/s |"
        + (" voice and room heard (probes) |" if stage else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if stage else ""),
    ]
    for r in rows:
        extra = (
            f"{(r['cpu'] - base[r['relay']]) / (r['viewers'] - 1):.4f}"
            if r["viewers"] > 1 and r["relay"] in base
            else "–"
        )
        lines.append(
            f"| {r['relay']} | {r['viewers']} | {r['cpu']:.3f} | {r['cpu'] / r['viewers']:.4f} | {extra} "
            f"| {1000 * r['cpu'] / (r['viewers'] * max(r['fps_mean'], 0.1)):.2f} "
            f"| {r['fps_mean']:.1f} / {r['fps_min']:.1f} | {r['p50']:.0f} / {r['p99']:.0f} ms | {r['load']:.2f} |"
            + (f" {heard(r)} |" if stage else "")
        )
    return "\n".join(lines)


def heard(row: dict[str, Any]) -> str:
    """`2 of 2` (probes that heard both the voice and the room), or – without a voice."""
    return "–" if row["voice_heard"] is None else f"{row['voice_heard']} of {row['probes']}"


def cores_pair(text: str) -> tuple[set[int], set[int]]:
    """`0:1` or `0:1,2` -> ({0}, {1}) / ({0}, {1, 2})."""
    server, _, load = text.partition(":")
    return {int(c) for c in server.split(",")}, {int(c) for c in load.split(",")}


def main() -> None:
    """Parse the options and run every relay at every size."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1,10,25,50", help="numbers of viewers (default 1,10,25,50)"
    )
    parser.add_argument(
        "--relays", default="encode-once,mediarelay", help="which relays, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds between all connected and measuring"
    )
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds from the publisher's start to measuring"
    )
    parser.add_argument(
        "--probes", type=int, default=2, help="viewers that decode and read counters"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for the counting viewers")
    parser.add_argument(
        "--pin",
        type=cores_pair,
        help="SERVER:LOAD cores, e.g. 0:1: the server on one core, all load on the other",
    )
    parser.add_argument(
        "--slate",
        action="store_true",
        help="also run encode-once with the slate on the stream instead of the camera",
    )
    parser.add_argument(
        "--stage",
        action="store_true",
        help="also run encode-once with one remote participant's voice on stage",
    )
    parser.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        run_baseline_server(args.baseline_server)
        return
    if args.pin:  # the load processes inherit this; the server is re-pinned once started
        os.sched_setaffinity(0, args.pin[1])
    sizes = [int(s) for s in args.sizes.split(",")]
    relays = args.relays.split(",")
    if args.slate and "encode-once" in relays:
        relays.insert(relays.index("encode-once") + 1, "encode-once+slate")
    if args.stage and "encode-once" in relays:
        relays.insert(relays.index("encode-once") + 1, "encode-once+stage")
    rows = []
    for n in sizes:
        for relay in relays:
            started = time.monotonic()
            row = run_one(relay, n, args)
            rows.append(row)
            print(
                f"{relay:17} {n:4} viewers: server {row['cpu']:.3f} s/s, {row['fps_mean']:.1f} fps "
                f"(worst {row['fps_min']:.1f}), g2g p50 {row['p50']:.0f} ms p99 {row['p99']:.0f} ms, "
                f"load {row['load']:.2f} s/s, voice and room heard by {heard(row)} probes  "
                f"[{time.monotonic() - started:.0f} s]",
                flush=True,
            )
    order = {relay: i for i, relay in enumerate(relays)}
    rows.sort(key=lambda r: (order[r["relay"]], r["viewers"]))
    print()
    print(table(rows))
    print()
    print(
        f"machine: {os.cpu_count()} cores; command: python bench/stream_fanout.py {shlex.join(sys.argv[1:])}"
    )


if __name__ == "__main__":
    main()
