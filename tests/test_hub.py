"""The hub's fan-out with real sockets: a client that stops reading is cut off, others are not slowed."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from websockets.asyncio.client import connect
from websockets.protocol import OPEN

from companion.cli import demo_programme_text
from companion.programme_file import parse_programme
from companion.realtime.hub import Hub
from companion.runtime import start_core
from companion.settings import Settings
from tests.serverproc import free_port
from tests.wsclient import Client

SESSION = "ledarskap-2020-05-05"


async def test_a_stalled_client_is_closed_and_the_others_keep_up(tmp_path: Path) -> None:
    """A client that stops reading is closed with 4008 once its buffer passes the limit; a reading client gets every event."""
    settings = replace(
        Settings(),
        data_dir=tmp_path,
        database=str(tmp_path / "c.db"),
        secret_key="k",
        ws_port=free_port(),
        send_buffer_limit=64 * 1024,
    )
    core = await start_core(settings)
    try:
        await core.service.import_programme(parse_programme(demo_programme_text(), "demo"))
        await core.service.load()
        for session_id, state in core.service.states.items():
            core.hub.ensure_room(session_id, state.seq)
        access = core.service.access[SESSION]
        url = f"ws://127.0.0.1:{settings.ws_port}/ws"

        reader = await Client.open(url)
        await reader.join(code=access.join_code, where="room")
        qid = (await reader.request({"type": "ask", "text": "Start?"}))["question"]

        # The stalled client: a tiny receive window and a tiny client queue, never read.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", settings.ws_port))
        stalled = await connect(url, sock=raw, max_queue=1, compression=None)
        await stalled.send(
            json.dumps({"type": "join", "code": access.join_code, "where": "remote"})
        )
        # Shrink the server-side kernel buffer too, so the backlog shows up in user space soon:
        # once the join has put the connection in the room.
        port = raw.getsockname()[1]
        for _ in range(200):
            room = core.hub.rooms.get(SESSION)
            found = [ws for ws in room.public if ws.remote_address[1] == port] if room else []
            if found:
                break
            await asyncio.sleep(0.01)
        server_side = found[0]
        server_side.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )

        moderator = await Client.open(url)
        await moderator.join(
            role="moderator", session=SESSION, moderator_token=access.moderator_token
        )
        edits = 150
        for i in range(edits):
            text = f"{i:04d} " + "å" * 490
            reply = await moderator.request(
                {"type": "question.edit", "question": qid, "text": text}
            )
            assert reply["type"] == "ack"
            if i % 30 == 29:
                await asyncio.sleep(1.6)  # stay under the per-connection message rate

        last = await reader.wait_for(
            lambda m: (
                m["type"] == "questions"
                and m["questions"][0]["text"].startswith(f"{edits - 1:04d}")
            ),
            timeout=10,
        )
        texts = [m["questions"][0]["text"][:4] for m in reader.events("questions")]
        assert texts[-edits:] == [f"{i:04d}" for i in range(edits)] and last
        room = core.hub.rooms[SESSION]
        assert len(room.public) == 1  # only the reader is still registered
        close_sent = server_side.protocol.close_sent
        assert close_sent is not None and close_sent.code == 4008
        assert "too slow" in close_sent.reason
        await reader.close()
        await moderator.close()
        raw.close()
    finally:
        await core.close()


def test_flushes_keep_their_rate_while_they_fit_and_leave_a_quarter_of_the_loop() -> None:
    """A flush taking 60 % of the 100 ms interval keeps the 100 ms rate; one taking 150 ms
    is followed by a rest of a third of its length (flushing takes at most 3/4 of the
    loop); a loop that fell behind does not flush back to back to catch up."""
    from companion.realtime.hub import next_flush

    assert next_flush(due=1.0, started=1.0, finished=1.06, interval=0.1) == 1.1
    assert abs(next_flush(due=1.0, started=1.0, finished=1.15, interval=0.1) - 1.2) < 1e-9
    # Blocked for a second by something else: the next flush rests a tenth of an interval.
    assert abs(next_flush(due=1.0, started=2.0, finished=2.001, interval=0.1) - 2.011) < 1e-9


class _PingedSocket:
    """Just what the keepalive touches of a joined connection: when it was last heard, its
    state, and a transport that notes when each write came."""

    def __init__(self, heard: float, writes: list[float]) -> None:
        self.heard = heard
        self.protocol = SimpleNamespace(state=OPEN)
        self.transport = SimpleNamespace(write=lambda _frame: writes.append(time.monotonic()))


async def test_a_keepalive_round_spreads_its_pings_over_the_interval() -> None:
    """Every connection is pinged once a round, in slices across the whole interval, so
    10,000 clients' pongs never come back in one burst that holds up a flush."""
    hub = Hub()
    hub.keepalive_seconds = 0.4
    writes: list[float] = []
    room = hub.ensure_room("s", 0)
    room.public.update(_PingedSocket(time.monotonic(), writes) for _ in range(200))  # type: ignore[misc]
    started = time.monotonic()
    await hub.keepalive()
    took = time.monotonic() - started
    assert len(writes) == 200  # each once
    assert 0.35 <= took < 0.8, took  # the round lasts about one interval
    # The last slice goes out in the last twentieth of the round, not with the first.
    assert writes[-1] - writes[0] >= 0.3, (writes[0] - started, writes[-1] - started)
    assert len({round((w - started) / 0.02) for w in writes}) >= 15  # in many slices


def test_flushes_fall_on_the_wall_clocks_multiples_of_their_interval() -> None:
    """Every process flushes on the same grid of the wall clock (the loop's clock plus
    `offset`): a flush due off the grid is followed by one on it; a late start or a reading
    of the clocks a few ms off never skips an interval; after a long flush its rest comes
    first, and the next is back on the grid."""
    from companion.realtime.hub import next_flush

    for offset in (0.0, 1.7e9 + 0.0123, 1.7e9 - 5.4321):
        for interval in (0.1, 0.01):

            def on_grid(moment: float, offset: float = offset, interval: float = interval) -> bool:
                k = (moment + offset) / interval
                return abs(k - round(k)) < 1e-3

            due = 1000.0 + interval * 0.37  # the first flush, off the grid
            nxt = next_flush(due, due, due + 0.0005, interval, offset)
            assert on_grid(nxt) and due + interval / 2 <= nxt <= due + interval * 1.5
            # Started late and the offset read 3 ms off: the next is the following multiple.
            late = next_flush(nxt, nxt + 0.003, nxt + 0.004, interval, offset + 0.003 * interval)
            assert abs(late - nxt - interval) < interval / 100
            # A flush of 2.5 intervals rests a third of it, then the grid again.
            long = next_flush(late, late, late + 2.5 * interval, interval, offset)
            assert abs(long - (late + 2.5 * interval + 2.5 * interval / 3)) < 1e-9
            back = next_flush(long, long, long + 0.0005, interval, offset)
            assert on_grid(back) and long + interval / 2 <= back <= long + interval * 1.5
