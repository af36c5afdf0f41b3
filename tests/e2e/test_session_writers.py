"""One writer per session on Redis: the other processes forward their clients' commands
to the process holding the session's writer lease (companion.services.session_writers)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis

from tests.e2e.conftest import BURST_LIMITS, SESSION, started
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess
from tests.wsclient import Client

LEASE = f"companion:writer:{SESSION}"
COMMANDS = f"companion:commands:{SESSION}"
EVENTS = f"companion:events:{SESSION}"


@contextmanager
def cluster(directory: Path, n: int) -> Iterator[tuple[RedisProcess, list[ServerProcess]]]:
    """A redis-server and `n` server processes sharing it, the demo imported once."""
    store = RedisProcess(directory / "redis")
    store.start()
    env = {**BURST_LIMITS, "REDIS_URL": store.url}
    servers = []
    for i in range(n):
        (directory / str(i)).mkdir()
        servers.append(ServerProcess(directory / str(i), extra_env=dict(env)))
    try:
        with ExitStack() as stack:
            stack.enter_context(started(servers[0]))
            for server in servers[1:]:
                server.start()
                stack.callback(server.stop)
            yield store, servers
    finally:
        store.stop()


def writer_pid(store: RedisProcess) -> int | None:
    """The pid of the process holding the session's writer lease ("<pid>-<random>")."""
    holder = redis.Redis.from_url(store.url, decode_responses=True).get(LEASE)
    return int(holder.split("-", 1)[0]) if holder else None


def forwarded(store: RedisProcess) -> int:
    """How many commands were forwarded to the session's writer (the stream's length)."""
    return int(redis.Redis.from_url(store.url).xlen(COMMANDS))


def stored_votes(store: RedisProcess) -> dict[int, int]:
    """Each question's votes as the stored log has them (cast minus withdrawn)."""
    votes: dict[int, int] = {}
    for _, fields in redis.Redis.from_url(store.url, decode_responses=True).xrange(EVENTS):
        if fields["t"] in ("vote.cast", "vote.withdrawn"):
            qid = json.loads(fields["d"])["id"]
            votes[qid] = votes.get(qid, 0) + (1 if fields["t"] == "vote.cast" else -1)
    return votes


async def join(server: ServerProcess, code: str) -> Client:
    client = await Client.open(server.ws)
    assert (await client.join(code=code, where="room"))["type"] == "welcome"
    return client


async def agreed_votes(servers: list[ServerProcess], key: str) -> list[dict[int, int]]:
    """Each process's votes per question, from a fresh moderator snapshot."""
    out = []
    for server in servers:
        check = await Client.open(server.ws)
        await check.join(role="moderator", session=SESSION, moderator_token=key)
        snap = await check.wait_for(lambda m: m["type"] == "snapshot")
        out.append({q["id"]: q["votes"] for q in snap["questions"]})
        await check.close()
    return out


async def test_votes_through_two_and_four_processes_add_up_exactly(tmp_path: Path) -> None:
    """Concurrent votes through 2, then 4 processes: one process writes (the others' votes
    are all forwarded to it), and every process's totals are exact."""
    with cluster(tmp_path, 4) as (store, servers):
        code, key = servers[0].access()[SESSION]
        opened: list[Client] = []
        try:
            asker = await join(servers[0], code)
            opened.append(asker)
            questions = [
                (await asker.request({"type": "ask", "text": f"Fråga {i}"}))["question"]
                for i in range(2)
            ]
            pid = writer_pid(store)
            assert pid == servers[0].proc.pid  # the first process with a command took it
            others = 0
            for question, through in zip(questions, (servers[:2], servers), strict=True):
                voters = [await join(server, code) for server in through for _ in range(25)]
                opened += voters
                replies = await asyncio.gather(
                    *(
                        v.request({"type": "vote", "question": question, "key": f"k{i}"})
                        for i, v in enumerate(voters)
                    )
                )
                assert all(r["type"] == "ack" and r["voted"] for r in replies), [
                    r for r in replies if r["type"] != "ack" or not r["voted"]
                ]
                others += 25 * (len(through) - 1)
                # Every vote through a process other than the writer went through the writer.
                assert forwarded(store) == others
            expected = {questions[0]: 50, questions[1]: 100}
            assert stored_votes(store) == expected
            for votes in await agreed_votes(servers, key):
                assert {q: votes[q] for q in questions} == expected
            assert writer_pid(store) == pid
        finally:
            for client in opened:
                await client.close()


async def test_writer_killed_mid_load(tmp_path: Path) -> None:
    """The writer SIGKILLed while two other processes forward votes to it: another takes
    over within seconds (at once when a forwarded vote finds the writer's connection
    gone), every vote is answered within 2 s, every acked vote is stored, and no unacked
    vote is stored then or later."""
    with cluster(tmp_path, 3) as (store, servers):
        writer, survivors = servers[0], servers[1:]
        code, key = writer.access()[SESSION]
        opened: list[Client] = []
        try:
            asker = await join(writer, code)
            opened.append(asker)
            questions = [
                (await asker.request({"type": "ask", "text": f"Fråga {i}"}))["question"]
                for i in range(8)
            ]
            assert writer_pid(store) == writer.proc.pid
            voters = [await join(server, code) for server in survivors for _ in range(20)]
            opened += voters
            answers: dict[tuple[int, int], str] = {}
            seconds: list[float] = []

            async def vote_all(v: int, voter: Client) -> None:
                for question in questions:
                    message = {"type": "vote", "question": question, "key": f"v{v}q{question}"}
                    sent = time.monotonic()
                    reply = await voter.request(message, timeout=10)
                    seconds.append(time.monotonic() - sent)
                    answers[v, question] = (
                        reply["type"] if reply["type"] == "ack" else reply["code"]
                    )
                    await asyncio.sleep(0.15)

            load = asyncio.gather(*(vote_all(v, voter) for v, voter in enumerate(voters)))
            await asyncio.sleep(0.4)
            writer.kill()
            killed = time.monotonic()
            survivor_pids = {s.proc.pid for s in survivors}
            while writer_pid(store) not in survivor_pids:
                assert time.monotonic() - killed < 5, "nobody took the writer lease over"
                await asyncio.sleep(0.05)
            took_over = time.monotonic() - killed
            await load
            # Votes in flight at the kill are answered store_unavailable (not stored) or,
            # taken over in time by the new writer, acked.
            assert set(answers.values()) <= {"ack", "store_unavailable"}, answers
            assert max(seconds) < 2.0, max(seconds)
            print(f"taken over in {took_over:.2f} s; answers: {Counter(answers.values())}")
            # The new writer takes votes: one more through each survivor.
            late = [await join(server, code) for server in survivors]
            opened += late
            for client in late:
                reply = await client.request({"type": "vote", "question": questions[0]})
                assert reply["type"] == "ack", reply

            acked = {
                q: sum(1 for (_, qq), a in answers.items() if qq == q and a == "ack")
                for q in questions
            }
            acked[questions[0]] += len(late)
            expected = {q: n for q, n in acked.items() if n}
            assert stored_votes(store) == expected
            for votes in await agreed_votes(survivors, key):
                assert {q: votes[q] for q in expected} == expected
            await asyncio.sleep(3)  # nothing unacked lands later
            assert stored_votes(store) == expected
        finally:
            for client in opened:
                await client.close()


async def test_forwarded_command_past_its_fence_is_not_run(tmp_path: Path) -> None:
    """A vote forwarded to a writer that is stopped past the vote's fence (0.8 s) is
    answered store_unavailable and never stored, though the writer reads it later."""
    with cluster(tmp_path, 2) as (store, (writer, forwarder)):
        code, key = writer.access()[SESSION]
        opened: list[Client] = []
        try:
            asker = await join(writer, code)
            voter = await join(forwarder, code)
            opened += [asker, voter]
            question = (await asker.request({"type": "ask", "text": "Hinner den?"}))["question"]
            warm = (await asker.request({"type": "ask", "text": "Uppvärmning"}))["question"]
            assert (await voter.request({"type": "vote", "question": warm}))["type"] == "ack"
            assert forwarded(store) == 1
            os.kill(writer.proc.pid, signal.SIGSTOP)
            try:
                vote = asyncio.ensure_future(
                    voter.request({"type": "vote", "question": question}, timeout=10)
                )
                await asyncio.sleep(1.0)  # past the fence, within the writer's lease
            finally:
                os.kill(writer.proc.pid, signal.SIGCONT)
            reply = await vote
            assert reply["type"] == "error" and reply["code"] == "store_unavailable"
            assert forwarded(store) == 2  # it was forwarded, and is there to be read
            await asyncio.sleep(2)  # the writer reads it, past its fence
            assert stored_votes(store) == {warm: 1}
            again = await voter.request({"type": "vote", "question": question})
            assert again["type"] == "ack" and again["votes"] == 1
            assert stored_votes(store) == {warm: 1, question: 1}
            for votes in await agreed_votes([writer, forwarder], key):
                assert votes[question] == 1
        finally:
            for client in opened:
                await client.close()


async def test_a_hung_writer_loses_its_lease_and_comes_back_as_a_forwarder(
    tmp_path: Path,
) -> None:
    """The writer hangs (SIGSTOP, 3 s) with its connections open, so nobody finds it gone:
    its lease lapses and another process takes it; when the old writer runs again, what it
    read before the hang is past its fence and not stored, every acked vote is stored and
    no other, and every process agrees with the log."""
    with cluster(tmp_path, 3) as (store, servers):
        writer, others = servers[0], servers[1:]
        code, key = writer.access()[SESSION]
        opened: list[Client] = []
        try:
            asker = await join(writer, code)
            opened.append(asker)
            questions = [
                (await asker.request({"type": "ask", "text": f"Fråga {i}"}))["question"]
                for i in range(6)
            ]
            voters = [await join(server, code) for server in servers for _ in range(6)]
            opened += voters
            answers: dict[tuple[int, int], str] = {}

            async def vote_all(v: int, voter: Client) -> None:
                for question in questions:
                    message = {"type": "vote", "question": question, "key": f"h{v}q{question}"}
                    reply = await voter.request(message, timeout=15)
                    answers[v, question] = (
                        reply["type"] if reply["type"] == "ack" else reply["code"]
                    )
                    await asyncio.sleep(0.5)

            load = asyncio.gather(*(vote_all(v, voter) for v, voter in enumerate(voters)))
            await asyncio.sleep(0.6)
            os.kill(writer.proc.pid, signal.SIGSTOP)
            try:
                stopped = time.monotonic()
                other_pids = {s.proc.pid for s in others}
                while writer_pid(store) not in other_pids:
                    assert time.monotonic() - stopped < 3, "the lapsed lease was not taken"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(max(0.0, 3 - (time.monotonic() - stopped)))
            finally:
                os.kill(writer.proc.pid, signal.SIGCONT)
            await load
            assert set(answers.values()) <= {"ack", "store_unavailable"}, answers
            assert Counter(answers.values())["ack"] > len(answers) // 2, answers
            await asyncio.sleep(1)  # every tail catches up
            acked = {
                q: sum(1 for (_, qq), a in answers.items() if qq == q and a == "ack")
                for q in questions
            }
            expected = {q: n for q, n in acked.items() if n}
            assert stored_votes(store) == expected
            for votes in await agreed_votes(servers, key):
                assert {q: votes[q] for q in expected} == expected
        finally:
            for client in opened:
                await client.close()
