"""The bare-library anchors the fan-out benchmark prints beside Companion's figures.

Each anchor is a minimal WebSocket server that does nothing but what any fan-out must:
it answers a `join` with a `welcome`, then, during the measured window, sends one small
`counts`-shaped JSON message (~150 bytes) to every connection `--anchor-hz` times a
second. The same lean listeners as Companion's run receive it, so the figures differ only
by the server:

* ``broadcast-asyncio`` / ``broadcast-uvloop``: `websockets.broadcast()` on that loop;
* ``preframed-uvloop``: one pre-built frame written with `transport.write` to every
  connection on uvloop, the floor for Python on this machine (shared/notes/realtime.md).

The server runs in its own process, pinned to the server's core by the caller; it reports
when each broadcast began, so a broadcast's latency is from its start to the last
listener's receipt, as in the notes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from multiprocessing.connection import Connection

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.frames import Frame, Opcode
from websockets.protocol import State

MODES = ("broadcast-asyncio", "broadcast-uvloop", "preframed-uvloop")
WELCOME = json.dumps({"type": "welcome", "anchor": True}, separators=(",", ":"))


def _payload(seq: int) -> str:
    counts = {str(q): seq + q for q in range(1, 12)}
    # `seq` last, as Companion's messages end, so the listeners' parser reads it.
    return json.dumps({"type": "counts", "counts": counts, "seq": seq}, separators=(",", ":"))


async def _serve(conn: Connection, mode: str) -> None:
    joined: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:  # the first message is the join; later ones are ignored
            if ws not in joined:
                await ws.send(WELCOME)
                joined.add(ws)
        joined.discard(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=32) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        conn.send(("listening", port, os.getpid()))
        loop = asyncio.get_running_loop()
        order = await loop.run_in_executor(None, conn.recv)
        _, t0, window_end, hz = order
        sends: list[tuple[int, float, float]] = []
        seq = 0
        due = t0
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if time.monotonic() >= window_end:
                break
            seq += 1
            payload = _payload(seq)
            started = time.monotonic()
            if mode.startswith("broadcast"):
                broadcast(joined, payload)
            else:
                frame = Frame(Opcode.TEXT, payload.encode()).serialize(mask=False, extensions=[])
                for ws in joined:
                    if ws.protocol.state is State.OPEN:
                        ws.transport.write(frame)
            sends.append((seq, started, time.monotonic()))
            due += 1 / hz
        conn.send(("result", {"sends": sends, "connections": len(joined)}))
        with contextlib.suppress(EOFError):
            await loop.run_in_executor(None, conn.recv)  # "exit"


def anchor_process(conn: Connection, mode: str, core: int | None) -> None:
    """Entry point of one anchor server process."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        if mode.endswith("uvloop"):
            uvloop.run(_serve(conn, mode))
        else:
            asyncio.run(_serve(conn, mode))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
