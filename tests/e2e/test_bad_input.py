"""Bad input over a real WebSocket gets a clear error code, and the connection keeps working."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Room
from tests.wsclient import Client


async def still_works(client: Client) -> None:
    """The connection answers a ping after the error."""
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def last_error(client: Client, start: int) -> dict:
    """The next error message after index `start`."""
    return await client.wait_for(lambda m: m["type"] == "error", start=start)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2, 3]", "bad_message"),
        ('{"text": "no type"}', "bad_message"),
        ('{"type": "launch.rockets"}', "unknown_type"),
        ('{"type": 42}', "bad_message"),
        ("[" * 4000 + "]" * 4000, "bad_json"),
        (b"\x00\x01binary", "bad_message"),
        ('{"type": "ping", "id": {"nested": true}}', "bad_message"),
    ],
    ids=["broken", "array", "no-type", "unknown-type", "type-not-text", "deep", "binary", "bad-id"],
)
async def test_malformed_messages_get_error_codes(
    room: Room, frame: str | bytes, code: str
) -> None:
    """Malformed frames are answered with a stable error code, before and after joining."""
    client = await room.connect()
    mark = len(client.messages)
    await client.send_raw(frame)
    assert (await last_error(client, mark))["code"] == code
    await still_works(client)
    await client.join(code=room.code, where="room")
    mark = len(client.messages)
    await client.send_raw(frame)
    assert (await last_error(client, mark))["code"] == code
    await still_works(client)


async def test_oversize_messages(room: Room) -> None:
    """A message over the limit gets message_too_large; a huge frame closes with 1009."""
    client = await room.participant("room")
    mark = len(client.messages)
    await client.send_raw(json.dumps({"type": "ask", "text": "x" * 9000}))
    assert (await last_error(client, mark))["code"] == "message_too_large"
    await still_works(client)
    await client.send_raw(json.dumps({"type": "ask", "text": "x" * 200_000}))
    with pytest.raises(ConnectionError, match="1009"):
        await client.wait_for(lambda m: False, timeout=5)


async def test_text_limits(room: Room) -> None:
    """Question text must be 1-500 characters after trimming; names at most 60."""
    client = await room.participant("room")
    assert (await client.request({"type": "ask", "text": "   "}))["code"] == "text_empty"
    assert (await client.request({"type": "ask", "text": "å" * 501}))["code"] == "text_too_long"
    assert (await client.request({"type": "ask", "text": 5}))["code"] == "invalid_text"
    long_name = await client.request({"type": "ask", "text": "Hej?", "name": "n" * 61})
    assert long_name["code"] == "name_too_long"
    ok = await client.request({"type": "ask", "text": "  " + "å" * 500 + "  "})
    assert ok["type"] == "ack"
    other = await room.connect()
    bad = await other.join(code=room.code, where="room", name="x" * 61)
    assert bad["code"] == "name_too_long"


async def test_join_errors(room: Room) -> None:
    """Wrong codes, forged tokens, wrong moderator tokens and bad fields are refused clearly."""
    client = await room.connect()
    assert (await client.request({"type": "ask", "text": "Hej?"}))["code"] == "not_joined"
    assert (await client.join(code="ZZZZZZ", where="room"))["code"] == "unknown_code"
    assert (await client.join(code="0OIL", where="room"))["code"] == "unknown_code"
    assert (await client.join(code=room.code, where="kitchen"))["code"] == "bad_message"
    assert (await client.join(code=room.code, role="admin"))["code"] == "bad_message"
    real = await room.participant("room")
    token = real.welcome["participant"]["token"]
    session, pid, issued, mac = token.split(".")
    forged = f"{session}.{'0' * len(pid)}.{issued}.{mac}"
    assert (await client.join(code=room.code, where="room", token=forged))[
        "code"
    ] == "invalid_token"
    other_code = room.server.access()["tema-1-session-2"][0]
    moved = await client.join(code=other_code, where="room", token=token)
    assert moved["code"] == "invalid_token"
    wrong = await client.join(
        role="moderator", session=room.session, moderator_token=room.moderator_token[:-2] + "xx"
    )
    assert wrong["code"] == "forbidden"
    other_token = room.server.access()["tema-1-session-2"][1]
    cross = await client.join(role="moderator", session=room.session, moderator_token=other_token)
    assert cross["code"] == "forbidden"
    unknown = await client.join(role="moderator", session="nope", moderator_token="x")
    assert unknown["code"] == "unknown_session"
    assert (await client.join(code=room.code, where="room"))["type"] == "welcome"
    assert (await client.join(code=room.code, where="room"))["code"] == "already_joined"
    await still_works(client)


async def test_rate_limits_answer_with_an_error_not_a_disconnect(room: Room) -> None:
    """Too many questions or votes get rate_limited; the connection stays open."""
    client = await room.participant("room")
    replies = [await client.request({"type": "ask", "text": f"Fråga {i}?"}) for i in range(5)]
    assert [r["type"] for r in replies[:3]] == ["ack"] * 3
    assert replies[3]["code"] == "rate_limited" and "try again" in replies[3]["message"]
    qid = replies[0]["question"]
    votes = [await client.request({"type": "vote", "question": qid}) for _ in range(30)]
    limited = [v for v in votes if v["type"] == "error"]
    assert limited and all(v["code"] == "rate_limited" for v in limited)
    await still_works(client)
    # The same participant on a second connection shares the limit.
    tab = await room.connect()
    await tab.join(code=room.code, where="room", token=client.welcome["participant"]["token"])
    assert (await tab.request({"type": "ask", "text": "Från flik två?"}))["code"] == "rate_limited"


async def test_unknown_paths_and_unknown_codes_over_http(room: Room) -> None:
    """The realtime port refuses other paths with 404; an unknown join code page is a 404."""
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{room.server.ws_port}/other", timeout=5)
    assert err.value.code in (404, 426)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{room.server.http}/j/QQQQQQ", timeout=5)
    assert err.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{room.server.http}/api/sessions/QQQQQQ", timeout=5)
    assert err.value.code == 404 and json.loads(err.value.read())["code"] == "unknown_code"
