"""The moderator controls access: rotate the key, renew the join code, lock and close the session."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SESSION, Room, redis_pair
from tests.wsclient import Client


async def test_rotating_the_moderator_key_stops_old_links_at_once(room: Room) -> None:
    """After rotation every console is closed (4003), the old key is refused and the new one works."""
    moderator = await room.moderator()
    other_console = await room.moderator()
    phone = await room.participant("room")
    ack = await moderator.request({"type": "session.rotate_key"})
    new_key = ack["moderator_token"]
    assert ack["type"] == "ack" and len(new_key) >= 40 and new_key != room.moderator_token
    # Until its socket is closed, a console with the old key can no longer act.
    late = await other_console.request({"type": "agenda.next"})
    assert late["type"] == "error" and late["code"] == "forbidden"
    for console in (moderator, other_console):
        with pytest.raises(ConnectionError, match="4003"):
            await console.wait_for(lambda m: False, timeout=5)
    assert not phone.closed
    stale = await room.connect()
    refused = await stale.join(
        role="moderator", session=SESSION, moderator_token=room.moderator_token
    )
    assert refused["code"] == "forbidden"
    fresh = await room.connect()
    welcome = await fresh.join(role="moderator", session=SESSION, moderator_token=new_key)
    assert welcome["type"] == "welcome"
    assert room.server.access()[SESSION][1] == new_key  # stored, so it survives a restart


async def test_a_new_join_code_replaces_the_old_one(room: Room) -> None:
    """The old code stops opening the session; joined participants stay; screens learn the new code."""
    moderator = await room.moderator()
    screen = await room.screen()
    phone = await room.participant("room")
    ack = await moderator.request({"type": "session.new_code"})
    code = ack["join_code"]
    assert code != room.code and len(code) == 6
    update = await screen.wait_for(
        lambda m: m["type"] == "session" and m["session"]["join_code"] == code
    )
    assert update["session"]["join_code"] == code
    late = await room.connect()
    assert (await late.join(code=room.code, where="room"))["code"] == "unknown_code"
    assert (await late.join(code=code.lower(), where="room"))["type"] == "welcome"
    assert (await phone.request({"type": "ask", "text": "Fortfarande med?"}))["type"] == "ack"


async def test_lock_and_close(room: Room) -> None:
    """A locked session takes votes but no questions; a closed one takes neither; both can be undone."""
    moderator = await room.moderator()
    phone = await room.participant("room")
    qid = (await phone.request({"type": "ask", "text": "Innan låset?"}))["question"]
    await moderator.request({"type": "session.lock", "on": True})
    await phone.wait_for(lambda m: m["type"] == "session" and m["session"]["locked"])
    assert (await phone.request({"type": "ask", "text": "Efter låset?"}))[
        "code"
    ] == "session_locked"
    assert (await phone.request({"type": "vote", "question": qid}))["voted"] is True
    await moderator.request({"type": "session.close", "on": True})
    assert (await phone.request({"type": "vote", "question": qid}))["code"] == "session_closed"
    assert (await phone.request({"type": "ask", "text": "Stängt?"}))["code"] == "session_closed"
    await moderator.request({"type": "session.close", "on": False})
    await moderator.request({"type": "session.lock", "on": False})
    assert (await phone.request({"type": "ask", "text": "Öppet igen?"}))["type"] == "ack"


async def test_rotation_reaches_every_process(tmp_path) -> None:
    """With two processes on Redis, a key rotated through one is refused by the other too."""
    opened: list[Client] = []
    with redis_pair(tmp_path) as (_, a, b):
        try:
            _, key = a.access()[SESSION]
            on_a = await Client.open(a.ws)
            opened.append(on_a)
            await on_a.join(role="moderator", session=SESSION, moderator_token=key)
            on_b = await Client.open(b.ws)
            opened.append(on_b)
            await on_b.join(role="moderator", session=SESSION, moderator_token=key)
            new_key = (await on_a.request({"type": "session.rotate_key"}))["moderator_token"]
            with pytest.raises(ConnectionError, match="4003"):
                await on_b.wait_for(lambda m: False, timeout=15)  # B learns it from the Redis tail
            check = await Client.open(b.ws)
            opened.append(check)
            assert (await check.join(role="moderator", session=SESSION, moderator_token=key))[
                "code"
            ] == "forbidden"
            assert (await check.join(role="moderator", session=SESSION, moderator_token=new_key))[
                "type"
            ] == "welcome"
        finally:
            for client in opened:
                await client.close()
