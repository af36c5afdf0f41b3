"""A Redis append whose reply is lost (a dropped connection, a timeout under load) is retried
by the client library; the retry must not turn our own stored event into a conflict, which
made the service decide again: a question stored twice, a vote cast and then withdrawn."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from companion.backends.memory import MemoryBus
from companion.backends.redis import RedisStore
from companion.cli import demo_programme_text
from companion.programme_file import parse_programme
from companion.services.sessions import SessionService
from tests.redisproc import RedisProcess

SID = "ledarskap-2020-05-05"


class LosingProxy:
    """A TCP proxy to Redis that, when armed, forwards the next EVALSHA and drops its reply."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.armed = False
        self.dropped = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers |= {writer, up_writer}
        marked = asyncio.Event()

        async def upstream() -> None:
            while data := await reader.read(65536):
                if self.armed and b"EVALSHA" in data.upper():
                    self.armed = False
                    marked.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if marked.is_set():  # Redis ran the script; its answer never arrives
                    self.dropped += 1
                    writer.close()
                    up_writer.close()
                    return
                writer.write(data)
                await writer.drain()
            writer.close()

        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.gather(upstream(), downstream())


async def test_a_lost_reply_is_not_decided_twice(tmp_path: Path) -> None:
    """An ask and a vote whose append reply is lost are stored once and acknowledged as what
    they were: no second question, no vote withdrawn again."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    proxy = LosingProxy(redis.port)
    await proxy.start()
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}/0")
    try:
        await store.open()
        service = SessionService(store, MemoryBus())
        await service.import_programme(
            parse_programme(demo_programme_text(), "demo/programme.yaml")
        )
        await service.load()
        first = await service.ask(SID, "p1", "room", "Första frågan?", None)
        proxy.armed = True
        second = await asyncio.wait_for(service.ask(SID, "p2", "room", "Andra frågan?", None), 15)
        assert proxy.dropped == 1
        assert (first.event.data["id"], second.event.data["id"]) == (1, 2)
        proxy.armed = True
        vote = await asyncio.wait_for(service.vote(SID, "p1", 2), 15)
        assert proxy.dropped == 2 and vote.event.type == "vote.cast"
        stored = await store.load_events(SID)
        assert [e.type for e in stored] == ["question.asked", "question.asked", "vote.cast"]
        state = service.state(SID)
        assert state.seq == 3 and len(state.board.questions) == 2
        assert state.board.questions[2].votes == 1
    finally:
        await store.close()
        await proxy.stop()
        redis.stop()
