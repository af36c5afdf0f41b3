"""A TCP proxy in front of a real redis-server that fails appends on purpose.

An append is an EVALSHA on a session's seq key (`companion:seq:`), so the proxy can make
exactly the append fail while every other command (reads, the access table, the tail,
the other scripts: writer leases, forwarded commands, presence) goes through.
"""

from __future__ import annotations

import asyncio
import contextlib

APPEND_KEY = b"companion:seq:"


class RedisProxy:
    """Forwards to Redis on `target`; `drop_appends` and `lose_replies` break appends.

    - `drop_appends`: while set, a connection that sends an EVALSHA is closed before the
      command reaches Redis (the append never happens; the client sees a dropped line).
    - `lose_replies`: the next EVALSHA reaches Redis, but its reply never comes back (the
      append happened; the client's connection is closed). With `drop_after_loss`, every
      later EVALSHA is dropped, so the client library's retries fail too.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.drop_appends = False
        self.lose_replies = 0
        self.drop_after_loss = False
        self.dropped = 0
        self.lost = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """redis:// URL through the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        marked = asyncio.Event()

        async def upstream() -> None:
            while data := await reader.read(65536):
                if b"EVALSHA" in data.upper() and APPEND_KEY in data:
                    if self.drop_appends:
                        self.dropped += 1
                        writer.close()
                        up_writer.close()
                        return
                    if self.lose_replies:
                        self.lose_replies -= 1
                        self.drop_appends = self.drop_after_loss
                        marked.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if marked.is_set():  # Redis ran the script; its answer never arrives
                    self.lost += 1
                    writer.close()
                    up_writer.close()
                    return
                writer.write(data)
                await writer.drain()
            writer.close()

        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(upstream(), downstream())
