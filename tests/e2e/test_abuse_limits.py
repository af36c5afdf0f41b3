"""Size and rate limits that the other tests do not reach: HTTP bodies are never buffered past
their limit (before the fix, an unauthenticated 200 MiB POST to the report grew the server
by 200 MiB), one connection's messages are rate limited, and poll answers have a bucket of
their own."""

from __future__ import annotations

import asyncio
import socket

import psutil

from tests.e2e.conftest import SESSION, Room

MIB = 1 << 20


def post_huge(port: int, path: str, headers: dict[str, str], mib: int) -> bytes:
    """POST `mib` MiB to a path, as fast as the server takes it; returns the answer's first bytes."""
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {mib * MIB}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    chunk = b"k" * MIB
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for _ in range(mib):
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed: fine, it did not read it all
        try:
            return sock.recv(200)
        except OSError:
            return b""


async def test_huge_bodies_are_not_buffered(room: Room) -> None:
    """100 MiB posted to the report (no token) and to WHEP (a participant token anyone can get)
    are refused without the server's memory growing by the body's size."""
    participant = await room.participant("remote")
    token = participant.welcome["participant"]["token"]
    assert room.server.proc is not None
    process = psutil.Process(room.server.proc.pid)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    sdp = {"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"}
    for path, headers, status in (
        (f"/moderate/{SESSION}/report.json", form, b"401"),
        (f"/whep/{SESSION}", sdp, b"413"),
    ):
        before = process.memory_info().rss
        answer = await asyncio.to_thread(post_huge, room.server.port, path, headers, 100)
        assert answer.startswith(b"HTTP/1.1 " + status), (path, answer)
        assert process.memory_info().rss - before < 20 * MIB, path


async def test_one_connection_is_rate_limited(room: Room) -> None:
    """Past a burst of 40 messages a connection gets `rate_limited` with retry_after, stays
    open, and is served again once tokens come back (20 a second)."""
    client = await room.participant("room")
    await client.wait_for(lambda m: m["type"] == "presence")
    replies = await asyncio.gather(*(client.request({"type": "ping"}) for _ in range(60)))
    limited = [r for r in replies if r["type"] == "error"]
    # 40 less the join go through at once, a few more as tokens come back meanwhile.
    assert 1 <= len(limited) <= 21, len(limited)
    assert {r["code"] for r in limited} == {"rate_limited"}
    assert all(0 <= r["retry_after"] <= 0.05 for r in limited)  # one token: 1/20 s
    await asyncio.sleep(0.5)  # the point: tokens come back with time (20 a second)
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    assert not client.closed


async def test_poll_answers_have_their_own_rate_limit(room: Room) -> None:
    """A participant's poll answers are limited like votes (burst 20) in a bucket of their own:
    once answers are refused, votes still go through."""
    moderator = await room.moderator()
    poll = {"type": "poll.create", "kind": "single", "text": "Kaffe?", "options": ["Ja", "Nej"]}
    assert (await moderator.request(poll))["type"] == "ack"
    assert (await moderator.request({"type": "poll.open", "poll": 1}))["type"] == "ack"
    phone = await room.participant("room")
    question = (await phone.request({"type": "ask", "text": "Hur länge är pausen?"}))["question"]
    answers = [
        await phone.request({"type": "poll.answer", "poll": 1, "answer": 1 + i % 2})
        for i in range(24)
    ]
    assert [a["type"] for a in answers[:20]] == ["ack"] * 20
    assert "rate_limited" in {a.get("code") for a in answers[20:]}
    assert (await phone.request({"type": "vote", "question": question}))["voted"] is True
