"""Real processes on a real Redis whose appends fail, stall or stop: what is answered is true."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from playwright.async_api import expect

from companion.services.commits import FENCE_SECONDS
from companion.web.i18n import catalogue
from tests.e2e.browser import PHONE, chromium, new_page
from tests.e2e.conftest import BURST_LIMITS, SESSION, Room
from tests.redisproc import RedisProcess
from tests.redisproxy import RedisProxy
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SV = catalogue("sv")

pytestmark = pytest.mark.timeout(120)


async def test_a_rotation_whose_append_fails_changes_nothing_anywhere(tmp_path: Path) -> None:
    """Process A reaches Redis through a proxy that drops its appends: the rotation is
    refused with store_unavailable, and the old key still opens the console on A, on B and
    after a restart; once appends pass again, a rotation reaches B and a process started
    later."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    proxy = RedisProxy(redis.port)
    await proxy.start()
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    a = ServerProcess(tmp_path / "a", extra_env={"REDIS_URL": proxy.url})
    b = ServerProcess(tmp_path / "b", extra_env={"REDIS_URL": redis.url})
    c = ServerProcess(tmp_path / "c", extra_env={"REDIS_URL": redis.url})
    opened: list[Client] = []

    async def console(server: ServerProcess, key: str) -> Client:
        client = await Client.open(server.ws)
        opened.append(client)
        await client.join(role="moderator", session=SESSION, moderator_token=key)
        return client

    async def opens(server: ServerProcess, key: str) -> bool:
        client = await Client.open(server.ws)
        opened.append(client)
        reply = await client.join(role="moderator", session=SESSION, moderator_token=key)
        return reply["type"] == "welcome"

    assert b.import_programme().returncode == 0
    await asyncio.to_thread(a.start)  # A's Redis is the proxy on this loop: keep it running
    b.start()
    try:
        _, key = b.access()[SESSION]
        on_a = await console(a, key)
        on_b = await console(b, key)
        proxy.drop_appends = True
        refused = await on_a.request({"type": "session.rotate_key"}, timeout=10)
        assert refused["type"] == "error" and refused["code"] == "store_unavailable"
        assert proxy.dropped >= 1
        proxy.drop_appends = False
        # Nothing half-done: the old key works on both processes and is what Redis holds.
        assert b.access()[SESSION][1] == key
        assert await opens(a, key) and await opens(b, key)
        assert (await on_a.request({"type": "agenda.next"}))["type"] == "ack"
        assert (await on_b.request({"type": "agenda.next"}))["type"] == "ack"
        assert not on_a.closed and not on_b.closed
        b.stop()
        b.start()
        assert await opens(b, key)

        new_key = (await on_a.request({"type": "session.rotate_key"}))["moderator_token"]
        c.start()
        for server in (a, b, c):
            assert await opens(server, new_key), server.data_dir.name
            assert not await opens(server, key), server.data_dir.name
        assert b.access()[SESSION][1] == new_key
    finally:
        for client in opened:
            await client.close()
        for server in (a, b, c):
            server.stop()
        await proxy.stop()
        redis.stop()


PARTICIPANTS = 24  # half on each process
ANSWER_LIMIT = 2.0  # seconds from sending a request to its answer, whatever Redis does


@dataclass
class Reply:
    """One request and what came back."""

    kind: str  # "ask" or "vote"
    key: str | tuple[str, int]  # the question's text, or (participant, question)
    sent: float  # wall clock
    seconds: float
    answer: str  # "ack" or the error code


@dataclass
class Traffic:
    """Every request of every participant, with its answer."""

    replies: list[Reply] = field(default_factory=list)
    # Acknowledged question ids, per process: another process may learn of a question a
    # moment later (its tail), and a vote there meanwhile is `not_found`.
    questions: dict[int, list[int]] = field(default_factory=lambda: {0: [], 1: []})


async def talk(
    client: Client, pid: str, server: int, traffic: Traffic, stop: asyncio.Event
) -> None:
    """Ask and vote (each question at most once, so no vote toggles) until stopped."""
    rng = random.Random(pid)
    tried: set[int] = set()
    n = 0
    while not stop.is_set():
        n += 1
        choices = [q for q in traffic.questions[server] if q not in tried]
        if not choices or rng.random() < 0.3:
            text = f"{pid} fråga {n}"
            message: dict[str, object] = {"type": "ask", "text": text}
            key: str | tuple[str, int] = text
        else:
            question = rng.choice(choices)
            tried.add(question)
            message = {"type": "vote", "question": question}
            key = (pid, question)
        sent, started = time.time(), time.monotonic()
        reply = await client.request(message, timeout=10)
        seconds = time.monotonic() - started
        answer = "ack" if reply["type"] == "ack" else reply["code"]
        traffic.replies.append(Reply(str(message["type"]), key, sent, seconds, answer))
        if message["type"] == "ask" and answer == "ack":
            traffic.questions[server].append(reply["question"])
        await asyncio.sleep(0.05)


async def test_through_a_hung_and_a_dead_redis_every_answer_is_fast_and_true(
    tmp_path: Path,
) -> None:
    """Two processes share a Redis that hangs (SIGSTOP, 4 s) and later is down (4 s) while
    participants on both keep asking and voting. Every request is answered within 2 s; what
    was acknowledged is in the log; what was answered `store_unavailable` is not."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(
            ServerProcess(tmp_path / name, extra_env={**BURST_LIMITS, "REDIS_URL": redis.url})
        )
    assert servers[0].import_programme().returncode == 0
    for server in servers:
        server.start()
    traffic = Traffic()
    clients: list[Client] = []
    try:
        code, _ = servers[0].access()[SESSION]
        pids = []
        for i in range(PARTICIPANTS):
            client = await Client.open(servers[i % 2].ws)
            welcome = await client.join(code=code, where="room")
            clients.append(client)
            pids.append(welcome["participant"]["id"])
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(talk(client, pid, i % 2, traffic, stop))
            for i, (client, pid) in enumerate(zip(clients, pids, strict=True))
        ]
        await asyncio.sleep(2)
        hung_at = time.time()
        redis.pause()
        await asyncio.sleep(4)
        redis.resume()
        await asyncio.sleep(3)
        down_at = time.time()
        redis.stop()
        await asyncio.sleep(4)
        redis.start()
        await asyncio.sleep(3)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)

        slow = [r for r in traffic.replies if r.seconds > ANSWER_LIMIT]
        assert not slow, slow[:5]
        answers = Counter(r.answer for r in traffic.replies)
        assert set(answers) <= {"ack", "store_unavailable"}, answers
        assert answers["store_unavailable"] >= 20 and answers["ack"] >= 200, answers
        # Sent while Redis hung, and given up on before it ran again: refused.
        during_hang = [r for r in traffic.replies if hung_at + 0.1 < r.sent < hung_at + 2.2]
        assert during_hang and all(r.answer == "store_unavailable" for r in during_hang), [
            r for r in during_hang if r.answer != "store_unavailable"
        ][:3]
        assert any(r.sent > down_at + 4.5 and r.answer == "ack" for r in traffic.replies)

        await asyncio.sleep(1)  # let both processes' tails catch up
        client = aioredis.from_url(redis.url, decode_responses=True)
        try:
            entries = await client.xrange(f"companion:events:{SESSION}")
        finally:
            await client.aclose()
        # Redis wrote every change within its deadline: at most FENCE_SECONDS after the
        # process decided it ('a'), by Redis's own clock ('r'; one machine, one clock).
        late = [(i, float(f["r"]) - float(f["a"])) for i, f in entries]
        late = [(i, round(d, 3)) for i, d in late if d > FENCE_SECONDS + 0.02]
        assert not late, late[:5]
        # What each change is, and the append that wrote it: one append is one script
        # run, and every entry it writes carries the same Redis time ('r').
        stored: dict[str | tuple[str, int], str] = {}
        for _, fields in entries:
            data = json.loads(fields["d"])
            if fields["t"] == "question.asked":
                stored[data["text"]] = fields["r"]
            elif fields["t"] == "vote.cast":
                stored[(data["participant"], data["id"])] = fields["r"]
        acked = {r.key for r in traffic.replies if r.answer == "ack"}
        assert acked <= stored.keys(), sorted(map(str, acked - stored.keys()))[:5]
        # The one exception docs/protocol.md (5.1) allows: Redis wrote the change within
        # its deadline (checked above for every change) but its answer did not reach the
        # process in time. Redis's faults here make that possible; it must stay rare. It
        # befalls an append, with every change batched into it (CI once saw four votes
        # sent within a millisecond, all in one append), so appends are what is counted.
        surprises = [r for r in traffic.replies if r.answer != "ack" and r.key in stored]
        appends = {stored[r.key] for r in surprises}
        assert len(appends) <= 3, surprises
        for server in servers:  # both processes agree with the log
            snap = await snapshot_of(server)
            assert snap["seq"] == int(entries[-1][0].split("-")[0])
    finally:
        redis.resume()
        for client in clients:
            await client.close()
        for server in servers:
            server.stop()
        redis.stop()


async def snapshot_of(server: ServerProcess) -> dict[str, object]:
    """A moderator's snapshot from that process."""
    _, key = server.access()[SESSION]
    moderator = await Client.open(server.ws)
    try:
        await moderator.join(role="moderator", session=SESSION, moderator_token=key)
        return await moderator.wait_for(lambda m: m["type"] == "snapshot")
    finally:
        await moderator.close()


async def test_a_retry_with_the_same_key_is_answered_once_and_counted_once(room: Room) -> None:
    """Over a real WebSocket: an ask, a vote and a moderator action each sent twice with one
    `key` make one change each and get the same ack twice; a malformed key is
    `bad_message` with `re`; reconnecting does not forget the keys."""
    phone = await room.participant("room")
    moderator = await room.moderator()
    ask = {"type": "ask", "text": "Hur når vi dem på distans?", "key": "q-7f3a"}
    first, second = await phone.request(dict(ask)), await phone.request(dict(ask))
    assert first["type"] == "ack" and {**second, "re": first["re"]} == first
    qid = first["question"]
    vote = {"type": "vote", "question": qid, "key": "v-19c2"}
    acks = [await phone.request(dict(vote)) for _ in range(2)]
    assert [(a["voted"], a["votes"]) for a in acks] == [(True, 1), (True, 1)]
    move = {"type": "agenda.next", "key": "m-1"}
    assert [(await moderator.request(dict(move)))["type"] for _ in range(2)] == ["ack", "ack"]
    bad = await phone.request({"type": "vote", "question": qid, "key": "två ord"})
    assert (bad["type"], bad["code"]) == ("error", "bad_message") and "re" in bad
    assert phone.welcome is not None
    token = phone.welcome["participant"]["token"]  # a reconnect is the same participant
    again = await room.participant("room", token=token)
    assert (await again.request(dict(vote)))["voted"] is True
    snap = await (await room.moderator()).wait_for(lambda m: m["type"] == "snapshot")
    assert [(q["text"], q["votes"]) for q in snap["questions"]] == [(ask["text"], 1)]
    first_item = snap["agenda"]["items"][0]["id"]
    assert snap["agenda"]["current"] == first_item  # moved once, not twice


async def test_a_vote_tried_again_after_store_unavailable_is_not_withdrawn(tmp_path: Path) -> None:
    """Redis stores a phone's vote but its answer is lost, so the phone is told
    store_unavailable (docs/protocol.md 5.1); the person taps again, the page sends the
    vote with the same key, and the vote stays one vote instead of being withdrawn."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    proxy = RedisProxy(redis.port)
    await proxy.start()
    server = ServerProcess(tmp_path, extra_env={"REDIS_URL": proxy.url})
    assert (await asyncio.to_thread(server.import_programme)).returncode == 0
    await asyncio.to_thread(server.start)  # its Redis is the proxy on this loop
    opened: list[Client] = []
    try:
        room = await asyncio.to_thread(Room, server, opened)  # reads Redis through the proxy
        asker = await room.participant("remote")
        first = (await asker.request({"type": "ask", "text": "Hur mäter ni det?"}))["question"]
        async with chromium() as browser:
            _, phone = await new_page(browser, PHONE)
            await phone.goto(f"{server.http}/room/{room.code}")
            button = phone.locator(f"li.question[data-id='{first}'] .vote-button")
            await expect(button).to_be_visible(timeout=10_000)

            proxy.lose_replies, proxy.drop_after_loss = 1, True
            await button.click()
            await expect(phone.locator("#toast")).to_have_text(
                SV["error.store_unavailable"], timeout=10_000
            )
            assert proxy.lost == 1
            proxy.drop_appends = False
            # Stored although answered store_unavailable: everyone else sees one vote.
            await asker.wait_for(
                lambda m: m["type"] == "counts" and m["counts"].get(str(first)) == 1, timeout=10
            )
            await expect(phone.locator("body")).to_have_attribute(
                "data-connection", "live", timeout=10_000
            )
            await expect(button).to_have_attribute("aria-busy", "false")
            await button.click()  # the person tries again
            await expect(button).to_have_attribute("aria-pressed", "true", timeout=10_000)
            await expect(button).to_have_attribute("aria-busy", "false")
            await asyncio.sleep(0.5)  # a withdrawal would be counted within this
            observer = await room.participant("room")
            snapshot = await observer.wait_for(lambda m: m["type"] == "snapshot")
            assert {q["id"]: q["votes"] for q in snapshot["questions"]}[first] == 1
            assert [m["counts"].get(str(first)) for m in asker.messages if m["type"] == "counts"][
                -1
            ] == 1
    finally:
        for client in opened:
            await client.close()
        await asyncio.to_thread(server.stop)
        await proxy.stop()
        redis.stop()
