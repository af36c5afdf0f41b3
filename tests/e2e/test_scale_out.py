"""Two Companion processes on one Redis serve the same session as one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SESSION, redis_pair
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.wsclient import Client


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[RedisProcess, ServerProcess, ServerProcess]]:
    """A redis-server and two server processes sharing it, with the demo programme."""
    env = {"COMPANION_VOTE_BURST": "1000", "COMPANION_VOTES_PER_SECOND": "1000"}
    with redis_pair(tmp_path, env) as (redis, a, b):
        yield redis, a, b


async def join(server: ServerProcess, code: str, where: str = "room") -> Client:
    """A participant joined on one process."""
    client = await Client.open(server.ws)
    welcome = await client.join(code=code, where=where)
    assert welcome["type"] == "welcome", welcome
    return client


async def test_two_processes_share_questions_votes_and_moderation(cluster) -> None:
    """Asked on A, seen and voted on B, moderated from either; concurrent votes through both add up exactly."""
    _, a, b = cluster
    code, key = a.access()[SESSION]
    opened: list[Client] = []
    try:
        on_a = await join(a, code)
        on_b = await join(b, code, "remote")
        opened += [on_a, on_b]
        qid = (await on_a.request({"type": "ask", "text": "Syns jag på B?"}))["question"]
        seen = await on_b.wait_for(
            lambda m: m["type"] == "questions" and m["questions"][0]["text"] == "Syns jag på B?"
        )
        assert seen["questions"][0]["id"] == qid
        vote = await on_b.request({"type": "vote", "question": qid})
        assert vote["voted"] is True and vote["votes"] == 1
        await on_a.wait_for(lambda m: m["type"] == "counts" and m["counts"].get(str(qid)) == 1)

        moderator_b = await Client.open(b.ws)
        opened.append(moderator_b)
        await moderator_b.join(role="moderator", session=SESSION, moderator_token=key)
        assert (await moderator_b.request({"type": "question.highlight", "question": qid}))[
            "type"
        ] == "ack"
        await on_a.wait_for(
            lambda m: m["type"] == "questions" and m["questions"][0]["status"] == "highlighted"
        )

        # 40 participants on each process vote at the same moment.
        voters = [await join(server, code) for server in (a, b) for _ in range(40)]
        opened += voters
        replies = await asyncio.gather(
            *(v.request({"type": "vote", "question": qid}) for v in voters)
        )
        assert all(r["type"] == "ack" and r["voted"] for r in replies), replies
        total = 1 + len(voters)
        for client in (on_a, on_b):
            await client.wait_for(
                lambda m: m["type"] == "counts" and m["counts"].get(str(qid)) == total, timeout=10
            )
        # Both processes agree in full, and so does a fresh snapshot from each.
        for server in (a, b):
            check = await Client.open(server.ws)
            opened.append(check)
            await check.join(role="moderator", session=SESSION, moderator_token=key)
            snap = await check.wait_for(lambda m: m["type"] == "snapshot")
            question = next(q for q in snap["questions"] if q["id"] == qid)
            assert question["votes"] == total and question["status"] == "highlighted"
    finally:
        for client in opened:
            await client.close()


async def test_redis_restart_while_clients_are_connected(cluster) -> None:
    """Clients are told the store is unavailable, actions fail fast with a clear code, and all resumes when Redis is back."""
    redis, a, b = cluster
    code, key = a.access()[SESSION]
    opened: list[Client] = []
    try:
        on_a = await join(a, code)
        on_b = await join(b, code)
        opened += [on_a, on_b]
        before = (await on_a.request({"type": "ask", "text": "Före Redis-omstarten?"}))["question"]
        assert (await on_b.request({"type": "vote", "question": before}))["voted"] is True

        redis.stop()
        for client in (on_a, on_b):
            await client.wait_for(
                lambda m: m == {"type": "status", "store": "unavailable"}, timeout=15
            )
        started = asyncio.get_running_loop().time()
        failed = await on_a.request({"type": "ask", "text": "Under avbrottet?"}, timeout=15)
        assert failed["type"] == "error" and failed["code"] == "store_unavailable"
        assert asyncio.get_running_loop().time() - started < 10

        redis.start()
        for client in (on_a, on_b):
            await client.wait_for(lambda m: m == {"type": "status", "store": "ok"}, timeout=15)
        after = await on_b.request({"type": "ask", "text": "Efter Redis-omstarten?"})
        assert after["type"] == "ack" and after["question"] == before + 1
        await on_a.wait_for(
            lambda m: (
                m["type"] == "questions" and m["questions"][0]["text"] == "Efter Redis-omstarten?"
            )
        )
        moderator = await Client.open(a.ws)
        opened.append(moderator)
        await moderator.join(role="moderator", session=SESSION, moderator_token=key)
        snap = await moderator.wait_for(lambda m: m["type"] == "snapshot")
        votes = {q["text"]: q["votes"] for q in snap["questions"]}
        assert votes == {"Före Redis-omstarten?": 1, "Efter Redis-omstarten?": 0}
    finally:
        for client in opened:
            await client.close()
