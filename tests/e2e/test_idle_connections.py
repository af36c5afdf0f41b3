"""Idle and trickling sockets on a server with few file descriptors: the pages and joins
keep working, the sockets are closed after the request timeout, the log stays small."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import SESSION, started
from tests.rawws import released
from tests.serverproc import ServerProcess
from tests.wsclient import Client

OPEN_FILES = 256
IDLE = 400  # per port: more than the process may open at all
TRICKLING = 20
OTHER = "127.0.0.2"  # another client address on loopback


class LowFileLimitServer(ServerProcess):
    """A server whose soft and hard open-file limits are both 256."""

    def command(self) -> list[str]:
        return ["prlimit", f"--nofile={OPEN_FILES}:{OPEN_FILES}", "--", *super().command()]


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[LowFileLimitServer]:
    with started(LowFileLimitServer(tmp_path)) as server:
        yield server


def get(server: ServerProcess, source: str) -> tuple[int, bytes]:
    """GET /healthz from a given loopback address: status and body."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=3, source_address=(source, 0)
    )
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def healthz(server: ServerProcess, source: str) -> int:
    """The status of GET /healthz from a given loopback address."""
    return get(server, source)[0]


def idle_sockets(port: int, count: int) -> list[socket.socket]:
    """Connections that never send a byte."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


async def join_from(server: ServerProcess, source: str) -> str:
    """The type of the answer to a participant join from a given loopback address."""
    code, _ = server.access()[SESSION]
    client = await Client.open(server.ws, local_addr=(source, 0))
    try:
        return (await client.join(code=code, where="room"))["type"]
    finally:
        await client.close()


async def test_idle_sockets_cannot_starve_the_server(small_server: LowFileLimitServer) -> None:
    """With 256 open files, 400 idle sockets on each port and 20 that trickle a request
    head a byte a second (all from 127.0.0.1): `/healthz` and a join from another address
    work at once; every such socket is closed within the request timeout (5 s); then the
    same address gets in too (before, it is answered 429); the log grows by a few lines,
    no traceback."""
    server = small_server
    log_size = (server.data_dir / "server.log").stat().st_size
    idle = idle_sockets(server.port, IDLE) + idle_sockets(server.ws_port, IDLE)
    trickling = []
    for _ in range(TRICKLING):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=2)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        trickling.append(sock)
    started = time.monotonic()
    await asyncio.sleep(0.5)

    assert await asyncio.to_thread(healthz, server, OTHER) == 200
    assert await join_from(server, OTHER) == "welcome"
    # The address that holds its share is told so, in a well-formed response.
    refused = await asyncio.to_thread(get, server, "127.0.0.1")
    assert refused == (429, b"Too many connections from this address.\n")

    while time.monotonic() - started < 8:
        for sock in trickling:
            if not released(sock):
                sock.send(b"X")  # a header a byte at a time, never finished
        await asyncio.sleep(1)
    waiting = [sock for sock in idle + trickling if not released(sock)]
    assert not waiting, f"{len(waiting)} idle or trickling sockets still open after 8 s"

    assert await asyncio.to_thread(healthz, server, "127.0.0.1") == 200
    assert await join_from(server, "127.0.0.1") == "welcome"
    for sock in idle + trickling:
        sock.close()
    assert server.proc is not None and server.proc.poll() is None
    log = server.log()
    grown = (server.data_dir / "server.log").stat().st_size - log_size
    assert grown < 4096, log[-2000:]
    assert "Traceback" not in log, log


class LowSoftLimitServer(ServerProcess):
    """A server started with a soft open-file limit of 256 under a hard one of 4096."""

    def command(self) -> list[str]:
        return ["prlimit", "--nofile=256:4096", "--", *super().command()]


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    """`companion serve` raises its soft limit on open files to the hard limit at start."""
    with started(LowSoftLimitServer(tmp_path)) as server:
        assert server.proc is not None
        limits = psutil.Process(server.proc.pid).rlimit(psutil.RLIMIT_NOFILE)
        assert limits == (4096, 4096)
