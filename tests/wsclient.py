"""A small realtime-protocol client for tests and benchmarks: records every message."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]
_ids = itertools.count(1)


class Client:
    """One WebSocket connection speaking the Companion protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[Message] = []
        self.received: list[float] = []  # the wall clock's time each message was read
        self.seq: int | None = None
        self.welcome: Message | None = None
        self._arrived = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Client:
        """Connect to the realtime endpoint."""
        return cls(await connect(url, open_timeout=5, **kwargs))

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                if "seq" in message:
                    self.seq = message["seq"]
                self.messages.append(message)
                self.received.append(time.time())
                self._arrived.set()
        self._arrived.set()

    @property
    def closed(self) -> bool:
        """Whether the server has closed the connection."""
        return self._reader.done()

    def events(self, kind: str | None = None) -> list[Message]:
        """Messages received so far that carry a seq (optionally of one type)."""
        return [m for m in self.messages if "seq" in m and (kind is None or m["type"] == kind)]

    async def wait_for(
        self, predicate: Callable[[Message], bool], timeout: float = 5.0, start: int = 0
    ) -> Message:
        """The first message (from index `start`) matching predicate; TimeoutError if none."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = start
        while True:
            while index < len(self.messages):
                if predicate(self.messages[index]):
                    return self.messages[index]
                index += 1
            if self.closed:
                raise ConnectionError(f"closed: {self.ws.close_code} {self.ws.close_reason}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no matching message")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def send_raw(self, data: str | bytes) -> None:
        """Send a frame as is."""
        await self.ws.send(data)

    async def request(self, message: Message, timeout: float = 5.0) -> Message:
        """Send a message with a fresh id and return the ack or error that answers it."""
        request_id = next(_ids)
        start = len(self.messages)
        await self.ws.send(json.dumps({**message, "id": request_id}))
        return await self.wait_for(lambda m: m.get("re") == request_id, timeout, start)

    async def join(self, **fields: Any) -> Message:
        """Join; returns the welcome (or the error)."""
        reply = await self.request({"type": "join", **fields})
        if reply["type"] == "welcome":
            self.welcome = reply
        return reply

    async def close(self) -> None:
        """Close the connection and stop reading."""
        await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)
