"""A TCP proxy on loopback that can make the network go silent without closing anything.

A phone walking out of Wi-Fi range, or a NAT that forgets a mapping, drops packets: no FIN,
no RST, the socket stays open and simply hears nothing. `silent = True` reproduces that:
bytes in both directions are read and thrown away, connections stay open, and new ones are
accepted but never reach the server. Connections made during the silence stay dead after it
(as after a NAT rebinding); connections made afterwards work again. `deaf = True` drops only
what the server sends: the server hears the client, the client never hears the answer.
`lag = seconds` holds back what the server sends by that long (in order, nothing lost):
a client whose news from the server comes late.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.serverproc import free_port


class SilentProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:target until told to go silent."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.silent = False
        self.deaf = False  # drop only the server's bytes (the answer to a request is lost)
        self.lag = 0.0  # seconds the server's bytes are held back
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._held: dict[asyncio.StreamWriter, asyncio.Queue[tuple[float, bytes]]] = {}
        self._writers_later: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Close the listener and every connection."""
        if self._server:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        if self.silent:
            await self._swallow(reader)  # the server never hears of it
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers.append(up_writer)
        dead = asyncio.Event()  # once silent, this connection stays silent
        for source, sink, down in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pump(source, sink, dead, down))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        dead: asyncio.Event,
        down: bool,
    ) -> None:
        deaf = asyncio.Event()  # this direction of a connection that went deaf stays so
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await source.read(65536):
                if self.silent:
                    dead.set()
                if down and self.deaf:
                    deaf.set()
                if deaf.is_set():
                    continue
                if dead.is_set():
                    continue  # dropped on the floor, nothing closed
                held = self._held.get(sink)
                if down and (self.lag > 0 or (held is not None and not held.empty())):
                    self._later(sink, data, self.lag)  # never ahead of what is held back
                    continue
                sink.write(data)
                await sink.drain()
            if not dead.is_set() and not self.silent:
                sink.close()

    def _later(self, sink: asyncio.StreamWriter, data: bytes, lag: float) -> None:
        """Write `data` to `sink` `lag` seconds from now, after what was held back before."""
        due = asyncio.get_running_loop().time() + lag
        held = self._held.setdefault(sink, asyncio.Queue())
        held.put_nowait((due, data))
        if sink not in self._writers_later:
            task = asyncio.create_task(self._release(sink, held))
            self._writers_later[sink] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _release(
        self, sink: asyncio.StreamWriter, held: asyncio.Queue[tuple[float, bytes]]
    ) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                due, data = await held.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                sink.write(data)
                await sink.drain()

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while await reader.read(65536):
                pass
