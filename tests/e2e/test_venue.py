"""A venue behind one NAT address, on a real server with the default limits: a full room
joins within a minute, and the fresh-identity limit still bites past its documented figure."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from companion.settings import Settings
from tests.e2e.conftest import SESSION
from tests.serverproc import ServerProcess
from tests.wsclient import Client

VENUE = 2000
AT_ONCE = 50  # phones connecting at the same moment


async def fresh_join(url: str, code: str) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect and join as a new participant: the connection and the answer to the join."""
    ws = await connect(url, open_timeout=30, compression=None)
    await ws.send(json.dumps({"type": "join", "id": 1, "code": code, "where": "room"}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if reply.get("re") == 1:
            return ws, reply


async def test_a_full_venue_behind_one_address_joins_within_a_minute(
    server: ServerProcess,
) -> None:
    """2,000 new participants from 127.0.0.1, 50 connecting at a time, all get a welcome
    within a minute and stay connected; the moderator's presence counts them and shows
    they came from one address; fresh identities past the documented allowance (2,000 at
    once, then the per-minute rate) are refused with `rate_limited` and `retry_after`,
    while a known participant still gets in. The server has every limit at its default."""
    defaults = Settings()
    code, token = server.access()[SESSION]
    moderator = await Client.open(server.ws)
    await moderator.join(role="moderator", session=SESSION, moderator_token=token)

    joined: list[ClientConnection] = []
    refused: list[dict[str, Any]] = []
    tokens: list[str] = []
    queue = asyncio.Queue[int]()
    for i in range(VENUE):
        queue.put_nowait(i)

    async def phone() -> None:
        while not queue.empty():
            queue.get_nowait()
            ws, reply = await fresh_join(server.ws, code)
            if reply["type"] == "welcome":
                joined.append(ws)
                tokens.append(reply["participant"]["token"])
            else:
                refused.append(reply)
                await ws.close()

    started = time.monotonic()
    await asyncio.gather(*(phone() for _ in range(AT_ONCE)))
    took = time.monotonic() - started
    print(f"\n{len(joined)} joined from one address in {took:.1f} s")
    assert not refused, refused[:3]
    assert len(joined) == VENUE and took < 60

    presence = await moderator.wait_for(
        lambda m: m["type"] == "presence" and m["room"] == VENUE, timeout=10
    )
    assert presence["identities"] == {"new": VENUE, "most_from_one_address": VENUE}

    # Past the allowance: the burst is spent; what has refilled since the room began to
    # join is the most that may still get in before the refusal.
    rate = defaults.new_participants_per_minute / 60
    extra = 0
    while True:
        ws, reply = await fresh_join(server.ws, code)
        await ws.close()
        if reply["type"] != "error":
            extra += 1
            refill = rate * (time.monotonic() - started)
            assert extra <= refill + 1, "the fresh-identity limit never bit"
            continue
        assert reply["code"] == "rate_limited" and reply["retry_after"] > 0, reply
        break
    refill = rate * (time.monotonic() - started)
    print(f"{extra} more fresh identities before the refusal (refill allowed {refill:.0f})")

    # A participant who already has a token is never held back by it.
    again = await Client.open(server.ws)
    assert (await again.join(code=code, where="room", token=tokens[0]))["type"] == "welcome"
    await again.close()
    await asyncio.gather(*(ws.close() for ws in joined))
    await moderator.close()
