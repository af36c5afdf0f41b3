"""Fan-out benchmark of the realtime server: how fast does a vote reach every participant?

Run from the repository root (it is a benchmark, not a test; pytest never collects it):

    python bench/ws_fanout.py                                    # sizes 100,1000,3000
    python bench/ws_fanout.py --sizes 1000,3000 --vote-rate 1000
    python bench/ws_fanout.py --sizes 10000
    python bench/ws_fanout.py --help                             # every option

For each size N it starts a real `companion serve` process (tests.serverproc.ServerProcess,
its own data directory, the demo programme imported, per-participant vote and question
limits and the per-address admission limits raised, since every connection comes from
127.0.0.1) and drives ONE session of it:

* N listeners join as participants (`where: room`), spread over `--workers` processes
  (each one uvloop event loop holding many connections), connected `--batch` at a time;
  the connect time is measured. By default they use `RawListener`, a minimal WebSocket
  client that parses frames in `data_received` (no compression, no task per message):
  the `websockets` client (`--client websockets`) costs about twice the CPU per received
  message, and on two cores shared with the server that made the clients part of the
  bottleneck. `--client picows` (the bench extra) parses frames in C; at 10,000 it was
  no lighter than the raw client (the load generator's core full with either: most of
  its cost is the kernel's reading).
* A separate voter process holds the voters (their own participants, not counted in N)
  and asks the questions they vote on before the listeners join. During the window
  (`--seconds`) it sends `--vote-rate` votes/s, each voter voting once per question so
  every vote *casts* and counts only grow, plus `--question-rate` new questions/s. Votes
  are spread so that no connection sends more than about 5 messages/s (the server allows
  20/s per connection whatever the settings say). A probe connection sends WebSocket
  pings every 20 ms: its round trip shows how long the server's event loop is blocked.

What it reports, per size:

* vote latency, "all clients": for each vote, from sending it (time.monotonic(), which is
  system-wide on Linux, so comparable across processes) to the moment the LAST listener
  first received a `counts` message whose count for that question reached the value the
  vote's ack reported; p50/p99 over votes. "per pair": the same over every
  (vote, listener) pair. A pair never seen before the recording ends counts as infinite.
* messages/s received by all listeners together (every type) and per listener.
* server CPU (psutil, all threads; % of ONE core, the machine has two), server RSS after
  the listeners joined and (RSS after - RSS before) / N as KiB per connection.
* load-generator CPU: all bench processes together, % of one core, so a reader can see
  whether the clients, which share the same two cores, were the bottleneck.
* diagnostics (second table): vote ack latency, probe ping round trip, spread of one
  broadcast over the listeners (first to last receipt), server CPU per broadcast and per
  socket, CPU of the whole machine (interrupts, steal, other processes), `counts`
  messages per second and the gap between them, messages received while joining.

The machine is shared: before each size the bench waits (`--quiet-wait`) until it is
nearly idle, and a size is measured again (`--attempts`) when other processes used more
than `--max-others` % of a core during the window; the figure is printed either way.
The markdown tables, the exact command line and a digest of the server's source (another
developer may change it between runs) are printed at the end; progress goes to stderr.

`run_size` takes a `make_cluster` (default: the one server above); bench/ws_load.py uses
it to run several servers on one Redis, with listeners spread over them and one voter
process per server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import functools
import hashlib
import json
import math
import multiprocessing as mp
import os
import resource
import shlex
import socket
import struct
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import uvloop  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from bench.anchor import MODES, anchor_process  # noqa: E402
from tests.serverproc import ServerProcess  # noqa: E402

COUNTS_PREFIX = '{"type":"counts"'
PRESENCE_PREFIX = '{"type":"presence"'
WELCOME_PREFIX = '{"type":"welcome"'
ERROR_PREFIX = '{"type":"error"'
ACK_PREFIX = '{"type":"ack"'
SEQ_KEY = '"seq":'
COUNTS_BYTES = COUNTS_PREFIX.encode()
PRESENCE_BYTES = PRESENCE_PREFIX.encode()
WELCOME_BYTES = WELCOME_PREFIX.encode()
ERROR_BYTES = ERROR_PREFIX.encode()
SEQ_BYTES = SEQ_KEY.encode()
HIST_RESOLUTION = 1e-4  # 0.1 ms bins for the per-pair latency histogram
HIST_MAX_SECONDS = 600.0
PER_VOTER_RATE = 5.0  # votes/s per voter connection; the server allows 20 messages/s each
UNLIMITED = "1000000"
MONO = time.monotonic
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the cmsg type is the same
STAMP = struct.Struct("qq")  # struct timespec: the kernel's receive time, CLOCK_REALTIME
STAMP_SPACE = socket.CMSG_SPACE(STAMP.size)
RECV_SIZE = 1 << 16
# The latency figures also computed from the kernel's receive times (--client stamped).
ARRIVAL_KEYS = ("all_p50", "all_p99", "all_max", "pair_p50", "pair_p99", "negative_pairs")
SERVER_SLOTS = 16  # most servers one run can spread its listeners over
DEFAULT_FLUSH_MS = 100  # the server's COMPANION_COALESCE_MS when the bench does not set it


class BenchError(RuntimeError):
    """A step of the benchmark failed or timed out."""


@dataclass
class BenchServer(ServerProcess):
    """ServerProcess pinned to one core with `taskset` (`--pin`), as the notes prescribe."""

    cpu: int | None = None

    def command(self) -> list[str]:
        """`companion serve` as shipped, on the server's core."""
        pin = ["taskset", "-c", str(self.cpu)] if self.cpu is not None else []
        return [*pin, *super().command()]


# -- configuration handed to the worker processes ----------------------------------------
@dataclass(frozen=True)
class ListenerConfig:
    """What one listener process does."""

    url: str
    code: str
    count: int
    batch: int
    join_timeout: float
    client: str
    urls: tuple[str, ...] = ()  # several servers: connection k goes to urls[k % len(urls)]
    cpu: int | None = None  # the load generator's core
    ping_after: float = 0.0  # like the pages: ping after this long without a message (0: never)

    def url_for(self, k: int) -> str:
        """The server the k-th connection of this process joins."""
        return self.urls[k % len(self.urls)] if self.urls else self.url


@dataclass(frozen=True)
class VoterConfig:
    """What the voter process does."""

    url: str
    code: str
    voters: int
    questions: int
    vote_rate: float
    question_rate: float
    join_timeout: float
    cpu: int | None = None  # the load generator's core


# -- small helpers shared by the processes -----------------------------------------------
def _pipe_recv(conn: Connection, timeout: float, what: str) -> Any:
    if not conn.poll(timeout):
        raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
    return conn.recv()


async def _pipe_recv_async(conn: Connection, timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, _pipe_recv, conn, timeout, what)


def _seq_of(raw: str) -> int:
    """The `seq` of a server message: it is the last key, so no full parse is needed."""
    i = raw.rfind(SEQ_KEY)
    try:
        return int(raw[i + len(SEQ_KEY) : -1])
    except ValueError:
        return int(json.loads(raw)["seq"])


async def _open_joined(url: str, code: str, timeout: float) -> ClientConnection:
    """A connection that has joined the session as a participant in the room."""
    async with asyncio.timeout(timeout):
        ws = await connect(
            url,
            compression=None,
            open_timeout=None,  # bounded by the timeout above
            ping_interval=None,  # the server pings; the library answers
            close_timeout=1,
            max_queue=64,
        )
        try:
            await ws.send(json.dumps({"type": "join", "code": code, "where": "room", "id": 0}))
            while True:
                raw = await ws.recv()
                if isinstance(raw, str) and raw.startswith(WELCOME_PREFIX):
                    return ws
                if isinstance(raw, str) and raw.startswith(ERROR_PREFIX):
                    raise BenchError(f"join refused: {json.loads(raw).get('code')}")
        except BaseException:
            if ws.transport is not None:
                ws.transport.abort()
            raise


def _failure_name(exc: BaseException) -> str:
    text = str(exc).split("\n", 1)[0][:60]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _connect_many(
    url: str, code: str, count: int, batch: int, timeout: float
) -> tuple[list[ClientConnection], Counter[str]]:
    """Open and join `count` connections, `batch` at a time."""
    conns: list[ClientConnection] = []
    failures: Counter[str] = Counter()
    for start in range(0, count, batch):
        size = min(batch, count - start)
        results = await asyncio.gather(
            *(_open_joined(url, code, timeout) for _ in range(size)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                failures[_failure_name(result)] += 1
            else:
                conns.append(result)
    return conns, failures


def _abort_all(conns: Iterable[ClientConnection]) -> None:
    for ws in conns:
        if ws.transport is not None:
            ws.transport.abort()


# -- listener processes --------------------------------------------------------------------
@dataclass
class _Recorder:
    """What the listeners of one process received; per-message work is kept tiny."""

    t0: float = math.inf
    window_end: float = math.inf
    record_end: float = math.inf
    times: list[array[float]] = field(default_factory=list)
    arrivals: list[array[float]] = field(default_factory=list)  # --client stamped only
    seqs: list[array[int]] = field(default_factory=list)
    msgs: list[int] = field(default_factory=list)
    raws: dict[int, str] = field(default_factory=dict)
    pre_messages: int = 0
    pre_presence: int = 0
    closed: Counter[str] = field(default_factory=Counter)
    finishing: bool = False
    alive: list[bool] = field(default_factory=list)
    pings: int = 0  # application pings sent during the window

    def add_client(self) -> int:
        self.times.append(array("d"))
        self.arrivals.append(array("d"))
        self.seqs.append(array("q"))
        self.msgs.append(0)
        self.alive.append(True)
        return len(self.msgs) - 1

    def drop_client(self, idx: int) -> None:
        """A client that never joined: left out of the results."""
        self.alive[idx] = False


async def _listen(ws: ClientConnection, idx: int, rec: _Recorder) -> None:
    times = rec.times[idx]
    seqs = rec.seqs[idx]
    msgs = rec.msgs
    raws = rec.raws
    try:
        async for raw in ws:
            t = MONO()
            if t < rec.t0:
                rec.pre_messages += 1
                if isinstance(raw, str) and raw.startswith(PRESENCE_PREFIX):
                    rec.pre_presence += 1
                continue
            if t < rec.window_end:
                msgs[idx] += 1
            if t < rec.record_end and isinstance(raw, str) and raw.startswith(COUNTS_PREFIX):
                seq = _seq_of(raw)
                times.append(t)
                seqs.append(seq)
                if seq not in raws:
                    raws[seq] = raw
    except ConnectionClosed:
        pass
    finally:
        if not rec.finishing:
            rec.closed[f"{ws.close_code} {ws.close_reason or ''}".strip()] += 1


def _recorded_matrix(
    rec: _Recorder, times: list[array[float]] | None = None
) -> tuple[list[int], np.ndarray]:
    """Receipt time of each counts message (columns, by seq) per listener (rows); NaN if none.

    `times` are the read times (default) or the kernel's arrival times of the same messages.
    """
    times = rec.times if times is None else times
    all_seqs = sorted(rec.raws)
    col = {s: i for i, s in enumerate(all_seqs)}
    rows = [i for i, alive in enumerate(rec.alive) if alive]
    matrix = np.full((len(rows), len(all_seqs)), np.nan)
    for row, i in enumerate(rows):
        for t, s in zip(times[i], rec.seqs[i], strict=True):
            c = col[s]
            if math.isnan(matrix[row, c]):
                matrix[row, c] = t
    return all_seqs, matrix


# -- the lean listener client ------------------------------------------------------------------
def _client_frame(opcode: int, payload: bytes) -> bytes:
    """One client frame; masked (as RFC 6455 requires) with a zero key, so no XOR is needed."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\x00\x00\x00\x00" + payload


class _Recording:
    """A listener's part that does not depend on the WebSocket client: joining, the pings
    the pages send, and recording `counts` messages with as few operations as possible."""

    def __init__(self, cfg: ListenerConfig, rec: _Recorder, idx: int, url: str = "") -> None:
        self.cfg = cfg
        self.url = url or cfg.url
        # Several servers coalesce counts at different moments, so their `counts` messages
        # with one seq may differ: record (seq, server) as seq * SERVER_SLOTS + server.
        self.slot = cfg.urls.index(self.url) if cfg.urls else None
        self.rec = rec
        self.idx = idx
        self.times = rec.times[idx]
        self.seqs = rec.seqs[idx]
        self.stamped = cfg.client == "stamped"
        self.arrivals = rec.arrivals[idx]
        self.arrival = math.nan  # the kernel's receive time of the read being parsed
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.heard = MONO()
        self.probing = False

    def send_text(self, payload: bytes) -> None:
        """Send a text message (each client its own way)."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the connection without a closing handshake."""
        raise NotImplementedError

    def join_message(self) -> bytes:
        """The join this listener sends once connected."""
        return json.dumps(
            {"type": "join", "code": self.cfg.code, "where": "room", "id": 0}
        ).encode()

    def probe(self, now: float, quiet: float) -> None:
        """What static/js/live.js does twice a second: ping a connection quiet for long."""
        if not self.probing and now - self.heard > quiet:
            self.probing = True
            self.send_text(b'{"type":"ping","id":1}')
            if self.rec.t0 <= now < self.rec.window_end:
                self.rec.pings += 1

    def _message(self, raw: bytes) -> None:
        t = MONO()
        self.heard, self.probing = t, False
        rec = self.rec
        if t < rec.t0:
            if not self.joined.done():
                if raw.startswith(WELCOME_BYTES):
                    self.joined.set_result(None)
                elif raw.startswith(ERROR_BYTES):
                    self.joined.set_exception(BenchError(f"join refused: {raw[:120]!r}"))
                return
            rec.pre_messages += 1
            if raw.startswith(PRESENCE_BYTES):
                rec.pre_presence += 1
            return
        if t < rec.window_end:
            rec.msgs[self.idx] += 1
        if t < rec.record_end and raw.startswith(COUNTS_BYTES):
            i = raw.rfind(SEQ_BYTES)
            seq = int(raw[i + len(SEQ_BYTES) : -1])
            if self.slot is not None:
                seq = seq * SERVER_SLOTS + self.slot
            self.times.append(t)
            self.seqs.append(seq)
            if self.stamped:
                self.arrivals.append(self.arrival)
            if seq not in rec.raws:
                rec.raws[seq] = raw.decode()


class RawListener(_Recording, asyncio.Protocol):
    """A minimal WebSocket client for listening: frames parsed in data_received, no task.

    `websockets` costs the client about 30 µs per received message (parser, queue and a
    task switch per message); with two cores shared with the server, that made the load
    generator the bottleneck. This one does the handshake, joins, answers pings and close
    frames, and records `counts` messages with the same few operations as `_listen`.
    """

    def __init__(self, cfg: ListenerConfig, rec: _Recorder, idx: int, url: str = "") -> None:
        super().__init__(cfg, rec, idx, url)
        self.transport: asyncio.Transport | None = None
        self.upgraded = False
        self.buf = b""
        self.fragments: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        parts = urlsplit(self.url)
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def abort(self) -> None:
        """Drop the connection without a closing handshake."""
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self.joined.set_exception(BenchError(f"closed before welcome ({self.close_code})"))
        if not self.rec.finishing:
            self.rec.closed[f"{self.close_code}"] += 1

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                self.joined.set_exception(BenchError(data.split(b"\r\n", 1)[0].decode()))
                self.abort()
                return
            self.upgraded = True
            self.send_text(self.join_message())
            data = data[end + 4 :]
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, length = data[pos], data[pos + 1] & 0x7F
            head = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(data[head : head + 2], "big")
                head += 2
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(data[head : head + 8], "big")
                head += 8
            if n - head < length:
                break
            pos = head + length
            self._frame(b0, data[head:pos])
        if pos < n:
            self.buf = data[pos:]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if not b0 & 0x80 or (opcode == 0 and self.fragments):  # fragmented message
            self.fragments.append(payload)
            if not b0 & 0x80:
                return
            payload, opcode = b"".join(self.fragments), 1
            self.fragments = []
        if opcode == 1:
            self._message(payload)
        elif opcode == 9:
            self._send(10, payload)
        elif opcode == 8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._send(8, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_client_frame(opcode, payload))

    def send_text(self, payload: bytes) -> None:
        """Send a text frame."""
        self._send(1, payload)


class _SocketTransport:
    """The few transport methods RawListener uses, over a socket StampedListener reads itself."""

    def __init__(self, sock: socket.socket, owner: StampedListener) -> None:
        self.sock = sock
        self.owner = owner
        self.loop = asyncio.get_running_loop()
        self.pending = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        """Send now; what the socket does not take waits for it to be writable (rare: the
        listener only sends its join, pongs and pings)."""
        if self.closed:
            return
        if self.pending:
            self.pending += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.abort()
            return
        if sent < len(data):
            self.pending = data[sent:]
            self.loop.add_writer(self.sock.fileno(), self._drain)

    def _drain(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except BlockingIOError:
            return
        except OSError:
            self.abort()
            return
        self.pending = self.pending[sent:]
        if not self.pending:
            self.loop.remove_writer(self.sock.fileno())

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        fd = self.sock.fileno()
        self.loop.remove_reader(fd)
        self.loop.remove_writer(fd)
        self.sock.close()
        self.owner.connection_lost(None)


class StampedListener(RawListener):
    """The raw client reading its socket itself, with `recvmsg` and SO_TIMESTAMPNS, so each
    `counts` message is recorded with the kernel's receive time beside the read time
    (`--client stamped`).

    At 10,000 listeners the load generator's core is full and every message waits in its
    queue before it is read: the read time measures the load generator as much as the
    server. On loopback the receiving side's TCP runs in the sender's system call, so the
    kernel's time is when the server's write reached the participant's socket, which is
    what a participant's own device would see. A read that takes several messages carries
    the time of the last one, so an earlier one is recorded late, never early.
    """

    def attach(self, sock: socket.socket) -> None:
        """Start on a connected non-blocking socket: read it when readable, then upgrade."""
        self.sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        self.connection_made(_SocketTransport(sock, self))  # type: ignore[arg-type]

    def _readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(RECV_SIZE, STAMP_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            if self.transport is not None:
                self.transport.abort()
            return
        arrival = math.nan
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = STAMP.unpack_from(raw)
                arrival = sec + nsec * 1e-9 - _wall_offset()  # on the monotonic clock
        self.arrival = MONO() if math.isnan(arrival) else arrival
        self.data_received(data)


_offset = (0.0, -math.inf)  # the wall clock minus the monotonic one, and when it was read


def _wall_offset() -> float:
    """time.time() - MONO(), read again each second where the two readings were closest: a
    listener preempted between them (its core is full) would otherwise be off by as long,
    and a message could seem to arrive before the vote it shows was sent."""
    global _offset
    now = MONO()
    if now - _offset[1] > 1.0:
        best = (math.inf, 0.0)
        for _ in range(5):
            before = MONO()
            wall = time.time()
            after = MONO()
            best = min(best, (after - before, wall - (before + after) / 2))
        _offset = (best[1], now)
    return _offset[0]


async def _stamped_connect(cfg: ListenerConfig, rec: _Recorder, idx: int, url: str) -> _Recording:
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
    except BaseException:
        sock.close()
        raise
    listener = StampedListener(cfg, rec, idx, url)
    listener.attach(sock)
    return listener


@functools.cache
def _picows_listener() -> type[_Recording]:
    """The listener on picows (`--client picows`, the bench extra: `pip install -e .[bench]`):
    frames parsed and pings answered in Cython, the recording shared with the raw client.
    Tried because at 10,000 listeners the load generator's core is full and adds its own
    queueing to every latency; it was no lighter than the raw client there (README)."""
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    class PicowsListener(_Recording, WSListener):  # type: ignore[misc]
        def __init__(self, cfg: ListenerConfig, rec: _Recorder, idx: int, url: str) -> None:
            _Recording.__init__(self, cfg, rec, idx, url)
            self.transport: WSTransport | None = None

        def on_ws_connected(self, transport: WSTransport) -> None:
            self.transport = transport
            transport.send(WSMsgType.TEXT, self.join_message())

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            kind = frame.msg_type
            if kind == WSMsgType.TEXT:
                self._message(frame.get_payload_as_bytes())
            elif kind == WSMsgType.CLOSE:
                self.close_code = int(frame.get_close_code())
                transport.send_close(frame.get_close_code())
                transport.disconnect()

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            if not self.joined.done():
                self.joined.set_exception(BenchError(f"closed before welcome ({self.close_code})"))
            if not self.rec.finishing:
                self.rec.closed[f"{self.close_code}"] += 1

        def send_text(self, payload: bytes) -> None:
            if self.transport is not None:
                self.transport.send(WSMsgType.TEXT, payload)

        def abort(self) -> None:
            if self.transport is not None:
                self.transport.disconnect(graceful=False)

    return PicowsListener


async def _connect(cfg: ListenerConfig, rec: _Recorder, idx: int, url: str) -> _Recording:
    """Open one listener's connection with the chosen client (it joins once upgraded)."""
    if cfg.client == "picows":
        from picows import ws_connect

        listener_type = _picows_listener()
        _, listener = await ws_connect(
            lambda: listener_type(cfg, rec, idx, url),
            url,
            websocket_handshake_timeout=cfg.join_timeout,
        )
        return listener  # type: ignore[no-any-return]
    if cfg.client == "stamped":
        return await _stamped_connect(cfg, rec, idx, url)
    parts = urlsplit(url)
    _, protocol = await asyncio.get_running_loop().create_connection(
        lambda: RawListener(cfg, rec, idx, url), parts.hostname, parts.port
    )
    return protocol


async def _open_listener(cfg: ListenerConfig, rec: _Recorder, url: str) -> _Recording:
    idx = rec.add_client()
    listener: _Recording | None = None
    try:
        async with asyncio.timeout(cfg.join_timeout):
            listener = await _connect(cfg, rec, idx, url)
            await listener.joined
        return listener
    except BaseException:
        rec.drop_client(idx)
        if listener is not None:
            listener.abort()
        raise


async def _raw_connect_many(
    cfg: ListenerConfig, count: int, rec: _Recorder, first: int = 0
) -> tuple[list[_Recording], Counter[str]]:
    results = await asyncio.gather(
        *(_open_listener(cfg, rec, cfg.url_for(first + k)) for k in range(count)),
        return_exceptions=True,
    )
    opened = [r for r in results if isinstance(r, _Recording)]
    failures = Counter(_failure_name(r) for r in results if isinstance(r, BaseException))
    return opened, failures


async def _listener_main(conn: Connection, cfg: ListenerConfig) -> None:
    rec = _Recorder()
    aborts: list[Callable[[], None]] = []
    tasks: list[asyncio.Task[None]] = []
    loop = asyncio.get_running_loop()
    conn.send(("hello", os.getpid()))
    await _pipe_recv_async(conn, 300, "connect order")
    started = MONO()
    listeners: list[_Recording] = []
    failures: Counter[str] = Counter()
    for start in range(0, cfg.count, cfg.batch):
        size = min(cfg.batch, cfg.count - start)
        if cfg.client in ("raw", "stamped", "picows"):
            raw_opened, failed = await _raw_connect_many(cfg, size, rec, start)
            aborts.extend(p.abort for p in raw_opened)
            listeners.extend(raw_opened)
        else:
            url = cfg.url_for(start // cfg.batch)  # websockets client: one server per batch
            opened, failed = await _connect_many(url, cfg.code, size, size, cfg.join_timeout)
            for ws in opened:
                idx = rec.add_client()
                aborts.append(ws.transport.abort)
                tasks.append(loop.create_task(_listen(ws, idx, rec)))
        failures.update(failed)
    conn.send(("connected", sum(rec.alive), dict(failures), MONO() - started))

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.5)
            now = MONO()
            for listener in listeners:
                listener.probe(now, cfg.ping_after)

    if cfg.ping_after > 0:
        tasks.append(loop.create_task(watch()))
    try:
        _, t0, window_end, record_end = await _pipe_recv_async(conn, 900, "go")
        rec.t0, rec.window_end, rec.record_end = t0, window_end, record_end
        await asyncio.sleep(max(0.0, record_end - MONO()))
        rec.finishing = True
        seqs, matrix = _recorded_matrix(rec)
        arrivals = _recorded_matrix(rec, rec.arrivals)[1] if cfg.client == "stamped" else None
        conn.send(
            (
                "result",
                {
                    "seqs": seqs,
                    "matrix": matrix,
                    "arrivals": arrivals,
                    "raws": {s: rec.raws[s] for s in seqs},
                    "msgs": [m for m, alive in zip(rec.msgs, rec.alive, strict=True) if alive],
                    "pre_messages": rec.pre_messages,
                    "pre_presence": rec.pre_presence,
                    "closed": dict(rec.closed),
                    "pings": rec.pings,
                },
            )
        )
        with contextlib.suppress(BenchError):
            await _pipe_recv_async(conn, 120, "exit")
    finally:
        rec.finishing = True
        for abort in aborts:
            with contextlib.suppress(Exception):
                abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def listener_process(conn: Connection, cfg: ListenerConfig) -> None:
    """Entry point of one listener process."""
    if cfg.cpu is not None:
        os.sched_setaffinity(0, {cfg.cpu})
    try:
        uvloop.run(_listener_main(conn, cfg))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", _failure_name(exc)))
        raise


# -- the voter process -----------------------------------------------------------------------
@dataclass
class _Requests:
    """Acks and errors by request id, answered by the readers of the voter connections."""

    acks: dict[int, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    waiters: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    finishing: bool = False
    closed: Counter[str] = field(default_factory=Counter)


async def _read_replies(ws: ClientConnection, req: _Requests) -> None:
    try:
        async for raw in ws:
            if isinstance(raw, str) and (
                raw.startswith(ACK_PREFIX) or raw.startswith(ERROR_PREFIX)
            ):
                t = MONO()
                message = json.loads(raw)
                rid = message.get("re")
                if isinstance(rid, int):
                    req.acks[rid] = (t, message)
                    waiter = req.waiters.pop(rid, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
    except ConnectionClosed:
        pass
    finally:
        if not req.finishing:
            req.closed[f"{ws.close_code} {ws.close_reason or ''}".strip()] += 1


async def _every(
    rate: float, t0: float, end: float, action: Callable[[int], Awaitable[None]]
) -> None:
    """Call action(k) at t0 + k / rate until end; late calls catch up at once."""
    if rate <= 0:
        return
    total = round(rate * (end - t0))
    k = 0
    while k < total:
        now = MONO()
        while k < total and t0 + k / rate <= now:
            await action(k)
            k += 1
        if k < total:
            await asyncio.sleep(max(0.0, t0 + k / rate - MONO()))


async def _voter_main(conn: Connection, cfg: VoterConfig) -> None:
    req = _Requests()
    loop = asyncio.get_running_loop()
    voters, failed = await _connect_many(cfg.url, cfg.code, cfg.voters, 50, cfg.join_timeout)
    if failed or not voters:
        raise BenchError(f"voters could not join: {dict(failed)}")
    readers = [loop.create_task(_read_replies(ws, req)) for ws in voters]
    probe = await _open_joined(cfg.url, cfg.code, cfg.join_timeout)
    readers.append(loop.create_task(_read_replies(probe, req)))  # keeps it reading
    ids = iter(range(1, 1 << 62))
    try:
        qids: list[int] = []
        for m in range(cfg.questions):
            rid = next(ids)
            waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
            req.waiters[rid] = waiter
            # Plain words: the server's word filter holds e.g. "fan" (Swedish) for moderation.
            text = f"Benchmark question {m + 1}: how quickly do the counts reach everyone?"
            await voters[m % len(voters)].send(json.dumps({"type": "ask", "text": text, "id": rid}))
            reply = await asyncio.wait_for(waiter, 30)
            if reply.get("type") != "ack":
                raise BenchError(f"ask: {reply.get('code')} {reply.get('message')}"[:60])
            if reply.get("status", "live") != "live":
                raise BenchError(f"question {reply.get('question')} is {reply.get('status')}")
            qids.append(int(reply["question"]))
        conn.send(("ready", qids, os.getpid()))
        _, t0, window_end, record_end = await _pipe_recv_async(conn, 900, "go")

        votes: list[tuple[int, int, int, float]] = []  # (request id, voter, question, sent)
        asked: list[tuple[int, float]] = []
        rtts: list[float] = []
        n_voters, n_questions = len(voters), len(qids)

        async def vote(k: int) -> None:
            voter, round_ = k % n_voters, k // n_voters
            qid = qids[(voter + round_) % n_questions]  # once per question per voter
            rid = next(ids)
            message = json.dumps({"type": "vote", "question": qid, "id": rid})
            sent = MONO()
            votes.append((rid, voter, qid, sent))
            await voters[voter].send(message)

        async def ask(m: int) -> None:
            rid = next(ids)
            text = f"New question {m + 1} asked during the window"
            asked.append((rid, MONO()))
            await voters[(m * 7 + 3) % n_voters].send(
                json.dumps({"type": "ask", "text": text, "id": rid})
            )

        async def probe_loop() -> None:
            await asyncio.sleep(max(0.0, t0 - MONO()))
            while MONO() < window_end:
                sent = MONO()
                try:
                    pong = await probe.ping()
                    await asyncio.wait_for(pong, max(0.1, record_end - MONO()))
                except (TimeoutError, ConnectionClosed):
                    rtts.append(math.inf)
                    break
                rtts.append(MONO() - sent)
                await asyncio.sleep(0.02)

        async with asyncio.timeout(record_end - MONO() + 5):
            await asyncio.gather(
                _every(cfg.vote_rate, t0, window_end, vote),
                _every(cfg.question_rate, t0, window_end, ask),
                probe_loop(),
            )
        last_send = votes[-1][3] if votes else t0
        wanted = [rid for rid, *_ in votes] + [rid for rid, _ in asked]
        while MONO() < record_end and any(rid not in req.acks for rid in wanted):
            await asyncio.sleep(0.05)
        vote_rows = []
        for rid, _voter, qid, sent in votes:
            ack = req.acks.get(rid)
            if ack is None:
                vote_rows.append((sent, qid, math.nan, False, 0, "no reply"))
                continue
            t, message = ack
            if message.get("type") == "ack":
                vote_rows.append(
                    (sent, qid, t, bool(message.get("voted")), int(message.get("votes", 0)), "")
                )
            else:
                vote_rows.append((sent, qid, t, False, 0, str(message.get("code"))))
        ask_rows = [
            (sent, req.acks[rid][0] if rid in req.acks else math.nan,
             req.acks[rid][1].get("type") if rid in req.acks else "no reply")
            for rid, sent in asked
        ]  # fmt: skip
        req.finishing = True
        conn.send(
            (
                "result",
                {
                    "votes": vote_rows,
                    "asks": ask_rows,
                    "rtts": rtts,
                    "last_send": last_send,
                    "closed": dict(req.closed),
                },
            )
        )
        with contextlib.suppress(BenchError):
            await _pipe_recv_async(conn, 120, "exit")
    finally:
        req.finishing = True
        _abort_all([*voters, probe])
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def voter_process(conn: Connection, cfg: VoterConfig) -> None:
    """Entry point of the voter process."""
    if cfg.cpu is not None:
        os.sched_setaffinity(0, {cfg.cpu})
    try:
        uvloop.run(_voter_main(conn, cfg))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", _failure_name(exc)))
        raise


# -- analysis ---------------------------------------------------------------------------------
def _pct(values: np.ndarray | list[float], q: float) -> float:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan
    return float(np.percentile(arr, q, method="higher"))


def _hist_pct(hist: np.ndarray, missing: int, q: float) -> float:
    """Percentile q of a latency histogram; missing pairs count as infinitely late."""
    total = int(hist.sum()) + missing
    if total == 0:
        return math.nan
    rank = math.ceil(q / 100 * total)
    cum = np.cumsum(hist)
    i = int(np.searchsorted(cum, rank))
    return math.inf if i >= hist.size else (i + 1) * HIST_RESOLUTION


def analyse(
    votes: list[tuple[float, int, float, bool, int, str]],
    seqs: list[int],
    matrix: np.ndarray,
    raws: dict[int, str],
    window: tuple[float, float],
) -> dict[str, Any]:
    """Vote-to-listener latencies from the votes and the receipt matrix (listeners x seqs)."""
    col_of = {s: i for i, s in enumerate(seqs)}
    by_question: dict[int, tuple[list[int], list[int]]] = {}  # q -> (columns, counts)
    for s in seqs:
        for q, n in json.loads(raws[s])["counts"].items():
            cols, vals = by_question.setdefault(int(q), ([], []))
            cols.append(col_of[s])
            vals.append(int(n))
    groups: dict[tuple[int, int], list[float]] = {}
    unmatched = 0
    for sent, qid, _, voted, count, _ in votes:
        if not voted:
            continue
        cols, vals = by_question.get(qid, ([], []))
        pos = bisect.bisect_left(vals, count)
        if pos >= len(vals):
            unmatched += 1
            continue
        groups.setdefault((qid, pos), []).append(sent)
    n_listeners = matrix.shape[0]
    hist = np.zeros(int(HIST_MAX_SECONDS / HIST_RESOLUTION) + 1, dtype=np.int64)
    missing_pairs = unmatched * n_listeners
    negative = 0
    worst: list[float] = [math.inf] * unmatched
    for (qid, pos), sends in groups.items():
        cols = by_question[qid][0]
        seen = matrix[:, cols[pos]].copy()
        later = pos + 1
        while later < len(cols) and np.isnan(seen).any():  # a listener missed one message
            gaps = np.isnan(seen)
            seen[gaps] = matrix[gaps, cols[later]]
            later += 1
        have = seen[~np.isnan(seen)]
        absent = n_listeners - have.size
        s = np.asarray(sends)
        lat = have[:, None] - s[None, :]
        negative += int((lat < 0).sum())
        bins = np.clip((lat / HIST_RESOLUTION).astype(np.int64), 0, hist.size - 1).ravel()
        counted = np.bincount(bins)
        hist[: counted.size] += counted
        missing_pairs += absent * s.size
        top = float(have.max()) if have.size else math.inf
        worst.extend([math.inf] * s.size if absent else (top - s).tolist())
    spreads = []
    for c in range(matrix.shape[1]):
        got = matrix[:, c][~np.isnan(matrix[:, c])]
        if got.size == n_listeners and n_listeners:
            spreads.append(float(got.max() - got.min()))
    firsts = np.sort(np.fmin.reduce(matrix, axis=0)) if matrix.size else np.array([])
    firsts = firsts[(firsts >= window[0]) & (firsts < window[1])]  # first receipt of each
    gaps = np.diff(firsts)
    return {
        "counts_per_s": firsts.size / (window[1] - window[0]),
        "gap_p50": _pct(gaps, 50),
        "gap_max": float(gaps.max()) if gaps.size else math.nan,
        "votes_measured": len(worst),
        "all_p50": _pct(worst, 50),
        "all_p99": _pct(worst, 99),
        "all_max": max(worst) if worst else math.nan,
        "pair_p50": _hist_pct(hist, missing_pairs, 50),
        "pair_p99": _hist_pct(hist, missing_pairs, 99),
        "missing_pairs": missing_pairs,
        "negative_pairs": negative,
        "spread_p50": _pct(spreads, 50),
        "spread_p99": _pct(spreads, 99),
        "spread_max": max(spreads) if spreads else math.nan,
        "broadcasts": matrix.shape[1],
    }


# -- the orchestrator -------------------------------------------------------------------------
def _cpu(procs: Iterable[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _machine_busy() -> tuple[float, float, float, float]:
    """Busy, total, interrupt (irq + softirq) and steal CPU seconds of the whole machine."""
    t = psutil.cpu_times()
    total = t.user + t.nice + t.system + t.idle
    extra = ("iowait", "irq", "softirq", "steal")  # guest time is already in user
    total += sum(getattr(t, name, 0.0) for name in extra)
    idle = t.idle + getattr(t, "iowait", 0.0)
    irq = getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return total - idle, total, irq, getattr(t, "steal", 0.0)


def _wait_quiet(threshold: float, patience: float) -> float:
    """Wait (up to `patience` s) until other processes leave the machine nearly idle.

    Returns the busy % (of all cores) over the last second; the machine is shared.
    """
    deadline = time.monotonic() + patience
    while True:
        a = _machine_busy()
        time.sleep(1.0)
        b = _machine_busy()
        busy = (b[0] - a[0]) / max(1e-9, b[1] - a[1]) * 100
        if busy <= threshold or time.monotonic() >= deadline:
            if busy > threshold:
                _log(f"warning: machine still {busy:.0f}% busy before the run")
            return busy
        _log(f"machine {busy:.0f}% busy (other processes); waiting")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _voters_for(args: argparse.Namespace) -> int:
    return args.voters or max(10, math.ceil(args.vote_rate / PER_VOTER_RATE))


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """Environment of every server: per-participant and per-address limits lifted."""
    env = {
        "COMPANION_VOTES_PER_SECOND": UNLIMITED,
        "COMPANION_VOTE_BURST": UNLIMITED,
        "COMPANION_QUESTION_BURST": UNLIMITED,
        "COMPANION_QUESTIONS_PER_MINUTE": UNLIMITED,
        # Every bench connection comes from 127.0.0.1: lift the per-address admission limits.
        "COMPANION_MAX_CONNECTIONS_PER_ADDRESS": UNLIMITED,
        "COMPANION_CONNECT_BURST": UNLIMITED,
        "COMPANION_CONNECTS_PER_SECOND": UNLIMITED,
        "COMPANION_NEW_PARTICIPANT_BURST": UNLIMITED,
        "COMPANION_NEW_PARTICIPANTS_PER_MINUTE": UNLIMITED,
        "COMPANION_SESSION_NEW_PARTICIPANT_BURST": UNLIMITED,
        "COMPANION_SESSION_NEW_PARTICIPANTS_PER_MINUTE": UNLIMITED,
        "COMPANION_ADDRESS_SHARE": "100",  # one address may use every connection
    }
    if args.coalesce_ms is not None:
        env["COMPANION_COALESCE_MS"] = str(args.coalesce_ms)
    return env


@dataclass
class Cluster:
    """The server processes one run drives (one here; bench/ws_load.py puts several on Redis).

    Listeners are spread over the servers round robin, and there is one voter process
    (with its probe) per server, so votes enter through every server.
    """

    servers: list[BenchServer]

    def start(self) -> None:
        """Import the demo programme (once, through the first server) and start serving."""
        imported = self.servers[0].import_programme()
        if imported.returncode != 0:
            raise BenchError(f"import failed: {imported.stderr[-500:]}")
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            server.stop()

    def known_procs(self) -> list[psutil.Process]:
        """Other processes of the system under test (e.g. Redis), not counted as 'others'."""
        return []

    def window_begin(self) -> None:
        """Called when the measured window starts."""

    def window_end(self, seconds: float) -> dict[str, Any]:
        """Called when it ends; extra figures for the row."""
        return {}

    def dead(self) -> str:
        """Exit codes and logs of servers that exited, for the error message."""
        out = []
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is not None:
                out.append(f" (server exited {server.proc.returncode})")
                _log(server.log())
        return "".join(out)


def single_server(args: argparse.Namespace, directory: Path, env: dict[str, str]) -> Cluster:
    """One `companion serve` on its own SQLite database: what this script measures."""
    return Cluster([BenchServer(directory, extra_env=env, cpu=args.server_cpu)])


def _shut_down(pipes: list[Connection], procs: list[mp.process.BaseProcess]) -> None:
    """Tell every worker process to exit, then make sure it has."""
    for parent in pipes:
        with contextlib.suppress(OSError):
            parent.send(("exit",))
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.terminate()
            p.join(5)


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_size(
    args: argparse.Namespace,
    size: int,
    make_cluster: Callable[[argparse.Namespace, Path, dict[str, str]], Cluster] = single_server,
) -> dict[str, Any]:
    """Run the benchmark at one size; returns the measured figures (or what broke)."""
    row: dict[str, Any] = {"size": size}
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    pipes: list[Connection] = []
    tmp = tempfile.TemporaryDirectory(prefix="companion-bench-")
    cluster = make_cluster(args, Path(tmp.name), server_env(args))
    servers = cluster.servers
    try:
        row["busy_before"] = _wait_quiet(args.quiet, args.quiet_wait)
        cluster.start()
        sprocs = []
        for server in servers:
            assert server.proc is not None
            sprocs.append(psutil.Process(server.proc.pid))
        code = sorted(servers[0].access().values())[0][0]

        n_voters = _voters_for(args)
        per_voter = math.ceil(args.vote_rate * args.seconds / n_voters)
        n_questions = max(args.questions, per_voter + 1)
        row.update(voters=n_voters, questions=n_questions, servers=len(servers))
        vpipes: list[Connection] = []
        for server, share in zip(servers, _shares(n_voters, len(servers)), strict=True):
            vparent, vchild = ctx.Pipe()
            vcfg = VoterConfig(
                server.ws,
                code,
                share,
                n_questions,
                args.vote_rate * share / n_voters,
                args.question_rate / len(servers),
                args.join_timeout,
                args.load_cpu,
            )
            vproc = ctx.Process(target=voter_process, args=(vchild, vcfg), daemon=True)
            vproc.start()
            procs.append(vproc)
            pipes.append(vparent)
            vpipes.append(vparent)
        for vparent in vpipes:
            ready = _pipe_recv(vparent, 300, "voters and questions")
            if ready[0] != "ready":
                raise BenchError(f"voter process: {ready[1]}")
        time.sleep(0.5)
        rss_before = [p.memory_info().rss for p in sprocs]

        workers = max(1, min(args.workers, size))
        shares = _shares(size, workers)
        batch = max(1, args.batch // workers)
        urls = tuple(s.ws for s in servers) if len(servers) > 1 else ()
        lpipes: list[Connection] = []
        for share in shares:
            parent, child = ctx.Pipe()
            lcfg = ListenerConfig(
                servers[0].ws,
                code,
                share,
                batch,
                args.join_timeout,
                args.client,
                urls,
                args.load_cpu,
                args.client_ping,
            )
            p = ctx.Process(target=listener_process, args=(child, lcfg), daemon=True)
            p.start()
            procs.append(p)
            lpipes.append(parent)
        pipes.extend(lpipes)
        for parent in lpipes:
            hello = _pipe_recv(parent, 120, "listener process start")
            if hello[0] != "hello":
                raise BenchError(f"listener process: {hello[1]}")
        _log(
            f"[{size}] connecting {size} listeners in {workers} processes to "
            f"{len(servers)} server(s), batch {args.batch}"
        )
        started = time.monotonic()
        for parent in lpipes:
            parent.send(("connect",))
        connected, failures = 0, Counter[str]()
        for parent in lpipes:
            reply = _pipe_recv(parent, args.connect_timeout, "listeners to connect")
            if reply[0] != "connected":
                raise BenchError(f"listener process: {reply[1]}")
            connected += reply[1]
            failures.update(reply[2])
        row["connect_s"] = time.monotonic() - started
        row["connected"] = connected
        row["connect_failures"] = dict(failures)
        _log(
            f"[{size}] {connected} connected in {row['connect_s']:.1f} s; failures {dict(failures)}"
        )
        if connected == 0:
            raise BenchError("no listener could connect")
        time.sleep(args.settle)
        rss_after = [p.memory_info().rss for p in sprocs]
        row["rss_mib"] = sum(rss_after) / 2**20
        row["rss_mib_each"] = [r / 2**20 for r in rss_after]
        row["kib_per_conn"] = (sum(rss_after) - sum(rss_before)) / 1024 / connected
        with contextlib.suppress(psutil.Error):
            row["server_fds"] = sum(p.num_fds() for p in sprocs)

        loadgen = [psutil.Process(os.getpid())] + [psutil.Process(p.pid) for p in procs if p.pid]
        known = cluster.known_procs()
        t0 = time.monotonic() + 0.3
        window_end = t0 + args.seconds
        record_end = window_end + args.grace
        for parent in pipes:
            parent.send(("go", t0, window_end, record_end))
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu_server0, cpu_load0, busy0 = _cpu(sprocs), _cpu(loadgen), _machine_busy()
        cpu_each0, cpu_known0 = [_cpu([p]) for p in sprocs], _cpu(known)
        cluster.window_begin()
        sys0 = sum(p.cpu_times().system for p in sprocs)
        per_second: list[float] = []
        last = cpu_server0
        while time.monotonic() < window_end - 0.01:
            time.sleep(min(1.0, max(0.0, window_end - time.monotonic())))
            now = _cpu(sprocs)
            per_second.append(now - last)
            last = now
        cpu_server1, cpu_load1, busy1 = _cpu(sprocs), _cpu(loadgen), _machine_busy()
        cpu_each1, cpu_known1 = [_cpu([p]) for p in sprocs], _cpu(known)
        row.update(cluster.window_end(args.seconds))
        row["server_cpu"] = (cpu_server1 - cpu_server0) / args.seconds * 100
        row["server_cpu_each"] = [
            (b - a) / args.seconds * 100 for a, b in zip(cpu_each0, cpu_each1, strict=True)
        ]
        row["server_sys"] = (sum(p.cpu_times().system for p in sprocs) - sys0) / args.seconds * 100
        row["server_cpu_peak"] = max(per_second) * 100 if per_second else math.nan
        row["loadgen_cpu"] = (cpu_load1 - cpu_load0) / args.seconds * 100
        row["known_cpu"] = (cpu_known1 - cpu_known0) / args.seconds * 100
        row["machine_busy"] = (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * 100
        cores = os.cpu_count() or 1
        row["irq_cpu"] = (busy1[2] - busy0[2]) / args.seconds * 100
        row["steal_cpu"] = (busy1[3] - busy0[3]) / args.seconds * 100
        row["other_cpu"] = (
            row["machine_busy"] * cores
            - row["server_cpu"]
            - row["loadgen_cpu"]
            - row["known_cpu"]
            - row["irq_cpu"]
            - row["steal_cpu"]
        )
        row["server_threads"] = sum(p.num_threads() for p in sprocs)

        wait = args.grace + 120
        vresults = []
        for vparent in vpipes:
            vres = _pipe_recv(vparent, wait, "voter results")
            if vres[0] != "result":
                raise BenchError(f"voter process: {vres[1]}")
            vresults.append(vres[1])
        results = []
        for parent in lpipes:
            lres = _pipe_recv(parent, wait, "listener results")
            if lres[0] != "result":
                raise BenchError(f"listener process: {lres[1]}")
            results.append(lres[1])
        for parent in pipes:
            with contextlib.suppress(OSError):
                parent.send(("exit",))

        votes = sorted(v for vr in vresults for v in vr["votes"])
        seqs = sorted({s for r in results for s in r["seqs"]})
        raws: dict[int, str] = {}
        for r in results:
            raws.update(r["raws"])
        col = {s: i for i, s in enumerate(seqs)}

        def stacked(key: str) -> np.ndarray:
            blocks = []
            for r in results:
                block = np.full((r[key].shape[0], len(seqs)), np.nan)
                block[:, [col[s] for s in r["seqs"]]] = r[key]
                blocks.append(block)
            return np.vstack(blocks)

        matrix = stacked("matrix")
        _log(f"[{size}] analysing {len(votes)} votes x {matrix.shape[0]} listeners")
        row.update(analyse(votes, seqs, matrix, raws, (t0, window_end)))
        if all(r.get("arrivals") is not None for r in results):
            arrived = analyse(votes, seqs, stacked("arrivals"), raws, (t0, window_end))
            row.update({f"arr_{k}": arrived[k] for k in ARRIVAL_KEYS})
        msgs = sum(sum(r["msgs"]) for r in results)
        row["msgs_per_s"] = msgs / args.seconds
        row["msgs_per_client_s"] = msgs / args.seconds / connected
        row["pre_messages"] = sum(r["pre_messages"] for r in results)
        row["pre_presence"] = sum(r["pre_presence"] for r in results)
        closed: Counter[str] = Counter()
        for r in results:
            closed.update(r["closed"])
        for vr in vresults:
            closed.update(vr["closed"])
        row["closed"] = dict(closed)
        row["client_pings_per_s"] = sum(r["pings"] for r in results) / args.seconds
        ok = [v for v in votes if v[3]]
        row["votes_sent"] = len(votes)
        row["votes_cast"] = len(ok)
        row["vote_errors"] = dict(Counter(v[5] for v in votes if v[5]))
        if not ok and args.vote_rate > 0:
            row["error"] = f"no vote was cast: {row['vote_errors']}"
        last_send = max(vr["last_send"] for vr in vresults)
        row["vote_rate_real"] = len(votes) / max(1e-9, last_send - t0)
        acks = [v[2] - v[0] for v in votes if not math.isnan(v[2])]
        row["ack_p50"], row["ack_p99"] = _pct(acks, 50), _pct(acks, 99)
        # A growing backlog shows as ack latency rising from the first to the last second.
        first = [v[2] - v[0] for v in votes if v[0] < t0 + 1 and not math.isnan(v[2])]
        last = [v[2] - v[0] for v in votes if v[0] >= window_end - 1 and not math.isnan(v[2])]
        row["ack_trend_ms"] = f"{_ms(_pct(first, 50))} -> {_ms(_pct(last, 50))}"
        rtts = [t for vr in vresults for t in vr["rtts"]]
        row["ping_p50"], row["ping_p99"] = _pct(rtts, 50), _pct(rtts, 99)
        row["ping_max"] = max(rtts) if rtts else math.nan
        row["asks"] = dict(Counter(a[2] for vr in vresults for a in vr["asks"]))
        # Every broadcast goes to the listeners, the voters and the probes; the servers' CPU
        # divided by the broadcasts a listener received is the cost of one message to all
        # (vote handling included, which is small next to it at these sizes).
        per_client = msgs / connected
        cpu = cpu_server1 - cpu_server0
        row["server_ms_per_broadcast"] = cpu / per_client * 1e3 if per_client else math.nan
        row["server_us_per_socket"] = (
            row["server_ms_per_broadcast"] * 1e3 / (connected + n_voters + len(servers))
        )
    except (BenchError, OSError, psutil.Error, RuntimeError) as exc:
        row["error"] = _failure_name(exc)
        _log(f"[{size}] FAILED: {row['error']}")
        row["error"] += cluster.dead()
    finally:
        _shut_down(pipes, procs)
        cluster.stop()
        tmp.cleanup()
    return row


def run_anchor(args: argparse.Namespace, size: int, mode: str) -> dict[str, Any]:
    """A bare-library anchor (bench/anchor.py) at one size, with the same listeners."""
    row: dict[str, Any] = {"size": size, "mode": mode}
    ctx = mp.get_context("spawn")
    procs: list[mp.process.BaseProcess] = []
    pipes: list[Connection] = []
    try:
        row["busy_before"] = _wait_quiet(args.quiet, args.quiet_wait)
        aparent, achild = ctx.Pipe()
        anchor = ctx.Process(target=anchor_process, args=(achild, mode, args.server_cpu))
        anchor.start()
        procs.append(anchor)
        pipes.append(aparent)
        listening = _pipe_recv(aparent, 60, "anchor server")
        if listening[0] != "listening":
            raise BenchError(f"anchor: {listening[1]}")
        url, aproc = f"ws://127.0.0.1:{listening[1]}/ws", psutil.Process(listening[2])
        workers = max(1, min(args.workers, size))
        lpipes = []
        for share in _shares(size, workers):
            parent, child = ctx.Pipe()
            lcfg = ListenerConfig(
                url,
                "anchor",
                share,
                max(1, args.batch // workers),
                args.join_timeout,
                args.client if args.client in ("picows", "stamped") else "raw",  # the run's
                (),
                args.load_cpu,
            )
            p = ctx.Process(target=listener_process, args=(child, lcfg), daemon=True)
            p.start()
            procs.append(p)
            lpipes.append(parent)
        for parent in lpipes:
            if _pipe_recv(parent, 120, "listener process start")[0] != "hello":
                raise BenchError("listener process did not start")
            parent.send(("connect",))
        connected = 0
        for parent in lpipes:
            reply = _pipe_recv(parent, args.connect_timeout, "listeners to connect")
            if reply[0] != "connected":
                raise BenchError(f"listener process: {reply[1]}")
            connected += reply[1]
        row["connected"] = connected
        time.sleep(args.settle)
        t0 = time.monotonic() + 0.3
        window_end, record_end = t0 + args.seconds, t0 + args.seconds + args.grace
        for parent in lpipes:
            parent.send(("go", t0, window_end, record_end))
        aparent.send(("go", t0, window_end, args.anchor_hz))
        time.sleep(max(0.0, t0 - time.monotonic()))
        cpu0 = _cpu([aproc])
        time.sleep(max(0.0, window_end - time.monotonic()))
        cpu = _cpu([aproc]) - cpu0
        result = _pipe_recv(aparent, args.grace + 60, "anchor result")
        if result[0] != "result":
            raise BenchError(f"anchor: {result[1]}")
        started = {seq: t for seq, t, _ in result[1]["sends"]}
        row["block_ms_max"] = max((e - b for _, b, e in result[1]["sends"]), default=0) * 1e3
        latencies: list[float] = []
        per_pair_missing = 0
        received = 0
        results = [_pipe_recv(parent, args.grace + 120, "listener results") for parent in lpipes]
        for parent in pipes:
            with contextlib.suppress(OSError):
                parent.send(("exit",))
        last: dict[int, float] = {}
        last_arrived: dict[int, float] = {}
        for kind, res in results:
            if kind != "result":
                raise BenchError(f"listener process: {res}")
            matrix, arrivals = res["matrix"], res.get("arrivals")
            for c, seq in enumerate(res["seqs"]):
                column = matrix[:, c]
                seen = column[~np.isnan(column)]
                received += seen.size
                per_pair_missing += column.size - seen.size
                if seen.size:
                    last[seq] = max(last.get(seq, -math.inf), float(seen.max()))
                if arrivals is not None and seen.size:
                    got = arrivals[:, c][~np.isnan(arrivals[:, c])]
                    last_arrived[seq] = max(last_arrived.get(seq, -math.inf), float(got.max()))
        for seq, t in started.items():
            latencies.append(last[seq] - t if seq in last else math.inf)
        row["broadcasts"] = len(started)
        row["missing"] = per_pair_missing + (len(started) - len(last)) * connected
        row["p50"], row["p99"] = _pct(latencies, 50), _pct(latencies, 99)
        if last_arrived:
            arrived = [last_arrived.get(seq, math.inf) - t for seq, t in started.items()]
            row["arr_p50"], row["arr_p99"] = _pct(arrived, 50), _pct(arrived, 99)
            row["arr_floor_p50"], row["arr_floor_p99"] = _with_flush_wait(
                arrived, (args.coalesce_ms or DEFAULT_FLUSH_MS) / 1000
            )
        row["floor_p50"], row["floor_p99"] = _with_flush_wait(
            latencies, (args.coalesce_ms or DEFAULT_FLUSH_MS) / 1000
        )
        row["server_cpu"] = cpu / args.seconds * 100
        row["us_per_socket"] = cpu / max(1, received) * 1e6
    except (BenchError, OSError, psutil.Error, RuntimeError) as exc:
        row["error"] = _failure_name(exc)
        _log(f"[{size} {mode}] FAILED: {row['error']}")
    finally:
        _shut_down(pipes, procs)
    return row


def _with_flush_wait(latencies: list[float], interval: float) -> tuple[float, float]:
    """p50/p99 of an anchor's broadcast latency plus the wait for the next flush.

    A vote arrives at a uniformly random moment and waits 0 to `interval` for the flush
    that carries it; with the anchor's own delivery after that, this is what a server with
    no cost of its own would show for vote → last listener: the floor Companion is held to.
    """
    if not latencies or interval <= 0:
        return math.nan, math.nan
    waits = (np.arange(100) + 0.5) / 100 * interval  # the uniform wait, finely sampled
    total = (np.asarray(latencies)[:, None] + waits[None, :]).ravel()
    return _pct(total, 50), _pct(total, 99)


def _ratio(us: float, floor: float | None) -> str:
    return f"{us / floor:.2f}×" if floor else "-"


def _arrived(row: dict[str, Any], p50: str, p99: str) -> str:
    """ " (arrived p50 / p99)" when the run recorded the kernel's receive times."""
    if p50 not in row:
        return ""
    return f" (arrived {_ms(row[p50])} / {_ms(row[p99])})"


def anchor_table(rows: list[dict[str, Any]], anchors: list[dict[str, Any]]) -> str:
    """Companion beside the anchors measured in the same run, at the same size."""
    out = [
        "| size | server | server CPU µs per delivered message | ratio to pre-framed "
        "| latency p50 / p99 ms (arrived: kernel's receive time) | server CPU % |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        same = [a for a in anchors if a["size"] == row["size"] and "error" not in a]
        floor = next((a["us_per_socket"] for a in same if a["mode"] == "preframed-uvloop"), None)
        us = row.get("server_us_per_socket", math.nan)
        out.append(
            f"| {row['size']:,} | Companion (vote → last listener) | {us:.1f} | {_ratio(us, floor)} "
            f"| {_ms(row.get('all_p50', math.nan))} / {_ms(row.get('all_p99', math.nan))}"
            f"{_arrived(row, 'arr_all_p50', 'arr_all_p99')} "
            f"| {row.get('server_cpu', math.nan):.0f} |"
        )
        for a in same:
            out.append(
                f"| {a['size']:,} | {a['mode']} (broadcast → last listener) "
                f"| {a['us_per_socket']:.1f} | {_ratio(a['us_per_socket'], floor)} "
                f"| {_ms(a['p50'])} / {_ms(a['p99'])}{_arrived(a, 'arr_p50', 'arr_p99')} "
                f"| {a['server_cpu']:.0f} |"
            )
            if a["mode"] == "preframed-uvloop" and not math.isnan(a.get("floor_p50", math.nan)):
                out.append(
                    f"| {a['size']:,} | {a['mode']} + the wait for the next flush (floor) "
                    f"| | | {_ms(a['floor_p50'])} / {_ms(a['floor_p99'])}"
                    f"{_arrived(a, 'arr_floor_p50', 'arr_floor_p99')} | |"
                )
    return "\n".join(out)


# -- output -------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "never" if math.isinf(value) else f"{value * 1000:.0f}"


def _num(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt % value


def table(rows: list[dict[str, Any]]) -> str:
    """The main markdown table."""
    lines = [
        "| size | connect s | vote p50/p99 all clients ms (arrived) | per-pair p50/p99 ms (arrived) "
        "| msgs/s total (per client) | server CPU % | server RSS MiB | KiB/conn | loadgen CPU % |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        msgs = (
            f"{r['msgs_per_s']:,.0f} ({r['msgs_per_client_s']:.1f})" if "msgs_per_s" in r else "-"
        )
        size = f"{r['size']:,}"
        if r.get("connected", r["size"]) < r["size"]:
            size += f" (only {r['connected']:,} joined)"
        lines.append(
            f"| {size} | {_num(r, 'connect_s', '%.1f')} "
            f"| {_ms(r.get('all_p50', math.nan))} / {_ms(r.get('all_p99', math.nan))}"
            f"{_arrived(r, 'arr_all_p50', 'arr_all_p99')} "
            f"| {_ms(r.get('pair_p50', math.nan))} / {_ms(r.get('pair_p99', math.nan))}"
            f"{_arrived(r, 'arr_pair_p50', 'arr_pair_p99')} "
            f"| {msgs} | {_num(r, 'server_cpu', '%.0f')} | {_num(r, 'rss_mib', '%.0f')} "
            f"| {_num(r, 'kib_per_conn', '%.1f')} | {_num(r, 'loadgen_cpu', '%.0f')} |"
        )
    return "\n".join(lines)


def diagnostics(rows: list[dict[str, Any]]) -> str:
    """The second table: what explains the first."""
    lines = [
        "| size | votes sent/cast (rate/s) | vote ack p50/p99 ms | probe ping p50/p99/max ms "
        "| broadcast spread p50/p99/max ms | server CPU peak 1 s % (sys %) "
        "| server CPU ms per broadcast (µs per socket) | machine busy % of 2 cores (irq, steal, others: % of 1) "
        "| counts msgs/s, gap p50/max ms "
        "| msgs before window (presence) | unseen pairs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "votes_sent" not in r:
            continue
        lines.append(
            f"| {r['size']:,} | {r['votes_sent']:,}/{r['votes_cast']:,} "
            f"({r['vote_rate_real']:.0f}) | {_ms(r['ack_p50'])} / {_ms(r['ack_p99'])} "
            f"| {_ms(r['ping_p50'])} / {_ms(r['ping_p99'])} / {_ms(r['ping_max'])} "
            f"| {_ms(r['spread_p50'])} / {_ms(r['spread_p99'])} / {_ms(r['spread_max'])} "
            f"| {r['server_cpu_peak']:.0f} ({r['server_sys']:.0f}) "
            f"| {r['server_ms_per_broadcast']:.0f} ({r['server_us_per_socket']:.1f}) "
            f"| {r['machine_busy']:.0f} "
            f"({r['irq_cpu']:.0f}, {r['steal_cpu']:.0f}, {r['other_cpu']:.0f}) "
            f"| {r['counts_per_s']:.1f}, {_ms(r['gap_p50'])}/{_ms(r['gap_max'])} "
            f"| {r['pre_messages']:,} ({r['pre_presence']:,}) "
            f"| {r['missing_pairs']:,} |"
        )
    return "\n".join(lines)


def notes(rows: list[dict[str, Any]]) -> str:
    """Failures, errors and closed connections, one line per size where there were any."""
    out = []
    for r in rows:
        extra = {
            k: r[k]
            for k in (
                "error",
                "connect_failures",
                "vote_errors",
                "closed",
                "negative_pairs",
                "arr_negative_pairs",
            )
            if r.get(k)
        }
        extra.update(voters=r.get("voters"), questions=r.get("questions"), asks=r.get("asks"))
        extra["broadcasts recorded"] = r.get("broadcasts")
        extra["attempt"] = r.get("attempt")
        extra["vote ack p50 first s -> last s (ms)"] = r.get("ack_trend_ms")
        extra["client pings/s"] = f"{r.get('client_pings_per_s', 0.0):.0f}"
        extra["server CPU %"] = f"{r.get('server_cpu', math.nan):.1f}"
        out.append(f"- {r['size']:,}: " + ", ".join(f"{k}: {v}" for k, v in extra.items()))
    return "\n".join(out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this script (bench/ws_load.py adds its own on top)."""
    parser.add_argument("--sizes", default="100,1000,3000", help="listener counts, e.g. 100,1000")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--vote-rate", type=float, default=100.0, help="votes per second")
    parser.add_argument("--question-rate", type=float, default=2.0, help="questions per second")
    parser.add_argument("--workers", type=int, default=2, help="listener processes")
    parser.add_argument(
        "--client",
        choices=("raw", "stamped", "picows", "websockets"),
        default="raw",
        help="listener client: lean protocol (raw); the same reading its sockets with "
        "recvmsg to record the kernel's receive time too (stamped); picows; or "
        "websockets.asyncio.client",
    )
    parser.add_argument("--voters", type=int, default=0, help="voter connections (0: auto)")
    parser.add_argument("--questions", type=int, default=0, help="questions to vote on (min)")
    parser.add_argument("--batch", type=int, default=100, help="connections opened at once")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds to wait for deliveries")
    parser.add_argument("--settle", type=float, default=1.5, help="pause after connecting")
    parser.add_argument("--join-timeout", type=float, default=30.0, help="per connection")
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="all connections")
    parser.add_argument(
        "--pin",
        default="0:1" if (os.cpu_count() or 1) >= 2 else "",
        help="SERVER:LOAD cores: server(s) and anchors on one, every client on the other "
        "('' to not pin)",
    )
    parser.add_argument(
        "--anchors",
        default="broadcast-uvloop,preframed-uvloop",
        help=f"bare-library anchors measured at each size, from {','.join(MODES)} ('' for none)",
    )
    parser.add_argument("--anchor-hz", type=float, default=10.0, help="anchor broadcasts/s")
    parser.add_argument(
        "--client-ping",
        type=float,
        default=0.0,
        help="listeners ping after this many quiet seconds, as the pages do (3); 0: never",
    )
    parser.add_argument("--quiet", type=float, default=15.0, help="busy %% to wait below")
    parser.add_argument("--quiet-wait", type=float, default=120.0, help="seconds to wait")
    parser.add_argument(
        "--max-others", type=float, default=25.0, help="CPU %% of other processes to accept"
    )
    parser.add_argument("--attempts", type=int, default=3, help="runs per size if disturbed")
    parser.add_argument("--coalesce-ms", type=int, default=None, help="COMPANION_COALESCE_MS")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    settle_arguments(parser, args)
    return args


def settle_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The cores (`--pin`) and anchors, checked (bench/ws_load.py calls it too)."""
    args.server_cpu = args.load_cpu = None
    if args.pin:
        try:
            server_cpu, load_cpu = args.pin.split(":")
            args.server_cpu, args.load_cpu = int(server_cpu), int(load_cpu)
        except ValueError:
            parser.error(f"--pin takes SERVER:LOAD cores, e.g. 0:1, not {args.pin!r}")
    args.anchor_list = [a for a in args.anchors.split(",") if a]
    unknown = set(args.anchor_list) - set(MODES)
    if unknown:
        parser.error(f"unknown anchors: {', '.join(sorted(unknown))}")


def source_digest() -> str:
    """A short digest of the server's source, to tell runs of different versions apart."""
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted((ROOT / "companion").rglob("*.py")):
        digest.update(path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(newest))
    return f"{digest.hexdigest()[:12]} (newest file {stamp})"


def raise_nofile(needed: int) -> int:
    """Raise RLIMIT_NOFILE to the hard limit (inherited by the server and the workers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        _log(f"warning: RLIMIT_NOFILE {target} < {needed} needed by the server")
    return target


def main(argv: list[str] | None = None) -> int:
    """Run every size and print the tables."""
    args = parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    voters = _voters_for(args)
    limit = raise_nofile(max(args.size_list) + voters + 200)
    digest_before = source_digest()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    if args.load_cpu is not None:
        os.sched_setaffinity(0, {args.load_cpu})  # the orchestrator is load too
    rows: list[dict[str, Any]] = []
    anchors: list[dict[str, Any]] = []
    for size in args.size_list:
        for attempt in range(1, args.attempts + 1):
            row = run_size(args, size)
            row["attempt"] = attempt
            others = row.get("other_cpu", 0.0)
            if others <= args.max_others or attempt == args.attempts:
                break
            _log(f"[{size}] other processes used {others:.0f}% of a core: measuring again")
        rows.append(row)
        _log(table(rows[-1:]))
        for mode in args.anchor_list:
            anchors.append(run_anchor(args, size, mode))
            _log(f"[{size}] anchor {mode}: {anchors[-1]}")
    digest_after = source_digest()
    print(f"\nCommand: `{command}` (started {started})\n")
    print(f"Server source companion/*.py: {digest_before}")
    if digest_after != digest_before:
        print(f"WARNING: the server source changed during the run: now {digest_after}")
    print()
    print(
        f"Window {args.seconds:g} s, {args.vote_rate:g} votes/s by {voters} voter connections, "
        f"{args.question_rate:g} questions/s, listeners in {args.workers} processes, "
        f"coalesce {args.coalesce_ms or f'default ({DEFAULT_FLUSH_MS})'} ms, "
        f"server pinned to core {args.server_cpu}, load to core {args.load_cpu}, "
        f"listener client {args.client}, "
        f"RLIMIT_NOFILE {limit}, {os.cpu_count()} CPUs, the clients share them with the server. "
        "CPU % is of one core.\n"
    )
    print(table(rows))
    print()
    print(diagnostics(rows))
    print()
    print(notes(rows))
    if anchors:
        print()
        print(anchor_table(rows, anchors))
    return 0 if all("error" not in r for r in [*rows, *anchors]) else 1


if __name__ == "__main__":
    sys.exit(main())
