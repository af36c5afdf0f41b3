"""Clients that stop reading, on a real server process: cut off within seconds, their
memory and file descriptors returned, while a reading client gets every change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import LIFTED_LIMITS, SESSION, started
from tests.rawws import released, stalled_member
from tests.serverproc import ServerProcess
from tests.wsclient import Client

STALLED = 500
MODERATORS = 6
MiB = 1 << 20


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with the default send-buffer limit and room for 500 joins from 127.0.0.1."""
    env = {
        **LIFTED_LIMITS,
        "COMPANION_MESSAGES_PER_SECOND": "10000",
        "COMPANION_MESSAGE_BURST": "10000",
    }
    with started(ServerProcess(tmp_path, extra_env=env)) as server:
        yield server


async def test_non_reading_clients_are_cut_and_their_memory_returned(
    busy_server: ServerProcess,
) -> None:
    """500 joined clients that never read (4 KiB receive buffers) while the moderator edits a
    long question over and over: every one is cut within seconds of passing the send-buffer
    limit, the server's open files and resident memory return to where they were, and a
    reading participant gets every edit. Two crowds in a row: the first fills the replay
    ring (5,000 changes, kept by design) and the allocator's pools, so what the second
    leaves behind is what cut clients would hold."""
    server = busy_server
    proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
    code, token = server.access()[SESSION]
    reader = await Client.open(server.ws)
    assert (await reader.join(code=code, where="room"))["type"] == "welcome"
    qid = (await reader.request({"type": "ask", "text": "Start?"}))["question"]
    moderators = []
    for _ in range(MODERATORS):
        moderator = await Client.open(server.ws)
        await moderator.join(role="moderator", session=SESSION, moderator_token=token)
        moderators.append(moderator)
    await asyncio.sleep(1.0)  # the joins' allocations and log lines settle
    await stalled_crowd(server.ws_port, proc, reader, moderators, code, qid)
    # The baseline: the ring is full and the pools are warm.
    fds_before, rss_before = proc.num_fds(), proc.memory_info().rss
    fds_after, rss_after = await stalled_crowd(server.ws_port, proc, reader, moderators, code, qid)
    assert fds_after <= fds_before + 2
    assert rss_after - rss_before < 24 * MiB
    assert not reader.closed
    for client in (reader, *moderators):
        await client.close()


async def stalled_crowd(
    port: int,
    proc: psutil.Process,
    reader: Client,
    moderators: list[Client],
    code: str,
    qid: int,
) -> tuple[int, int]:
    """500 stalled members join and the moderators edit until every one is cut; returns
    the server's open files and resident memory 2 s after the last cut."""
    fds_before = proc.num_fds()
    join = {"type": "join", "code": code, "where": "remote"}
    stalled = await asyncio.to_thread(
        lambda: [stalled_member("127.0.0.1", port, join) for _ in range(STALLED)]
    )
    deadline = time.monotonic() + 10  # the server has accepted every stalled member
    while proc.num_fds() < fds_before + STALLED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert proc.num_fds() >= fds_before + STALLED

    edits = 0
    rss_peak = 0
    cut_at: dict[int, float] = {}
    started = time.monotonic()

    async def edit(moderator: Client) -> None:
        nonlocal edits
        while len(cut_at) < STALLED and time.monotonic() - started < 90:
            edits += 1
            text = f"{edits:05d} " + "å" * 490
            reply = await moderator.request(
                {"type": "question.edit", "question": qid, "text": text}, timeout=20
            )
            assert reply["type"] == "ack", reply

    async def watch() -> None:
        nonlocal rss_peak
        while len(cut_at) < STALLED and time.monotonic() - started < 90:
            rss_peak = max(rss_peak, proc.memory_info().rss)
            now = time.monotonic()
            for i, sock in enumerate(stalled):
                if i not in cut_at and released(sock):
                    cut_at[i] = now
            await asyncio.sleep(0.2)

    await asyncio.gather(watch(), *(edit(m) for m in moderators))
    traffic_seconds = time.monotonic() - started
    print(
        f"\n{len(cut_at)} of {STALLED} cut, {edits} edits in {traffic_seconds:.1f} s; RSS peak "
        f"{rss_peak / MiB:.0f} MiB, now "
        f"{proc.memory_info().rss / MiB:.0f} MiB; fds before {fds_before}, now {proc.num_fds()}"
    )
    assert len(cut_at) == STALLED, f"{STALLED - len(cut_at)} never cut in {traffic_seconds:.0f} s"
    spread = max(cut_at.values()) - min(cut_at.values())
    print(f"first to last cut: {spread:.1f} s")

    last = f"{edits:05d}"
    await reader.wait_for(
        lambda m: m["type"] == "questions" and m["questions"][0]["text"].startswith(last),
        timeout=20,
    )
    await asyncio.sleep(2.0)  # the point: what is left 2 s after the cuts
    fds_after, rss_after = proc.num_fds(), proc.memory_info().rss
    for sock in stalled:
        sock.close()
    print(f"2 s later: RSS {rss_after / MiB:.0f} MiB, fds {fds_after}")
    return fds_after, rss_after
