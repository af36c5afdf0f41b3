"""Fuzzing the realtime protocol on a real server: random and mutated messages never crash it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from companion.realtime.protocol import CLIENT_TYPES
from tests.e2e.conftest import SESSION, fuzz_target
from tests.serverproc import ServerProcess

FIELDS = [
    "type",
    "id",
    "text",
    "name",
    "question",
    "into",
    "item",
    "minutes",
    "status",
    "on",
    "message",
    "code",
    "where",
    "role",
    "token",
    "since",
    "session",
    "moderator_token",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "room", "remote", "postponed", "\u0000", "\ud7ff", "<script>", "1"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(CLIENT_TYPES)) | st.text(max_size=20)},
    optional={field: values for field in FIELDS if field != "type"},
)
frames = st.one_of(
    messages.map(json.dumps),
    values.map(json.dumps),
    st.text(max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.binary(max_size=64),
    st.sampled_from(
        [
            '{"type": "ask", "text": "\\ud800"}',  # a lone surrogate, legal in JSON text
            '{"type": "ask", "name": "\\udfff", "text": "x"}',
            '{"type": "vote", "question": 1e400}',
            '{"type": "timer.extend", "minutes": 9999999999999999999999}',
            '{"type": "merge", "question": [], "into": {}}',
            '{"type": "ask", "text": "a", "text": "b"}',
        ]
    ),
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for all examples; generous per-participant limits so the rules are what gets tested."""
    with fuzz_target(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


def exchange(server: ServerProcess, join: dict, frame: str | bytes) -> dict | None:
    """Join, send one frame, return the reply to it (None if the server closed with a reason)."""
    with connect(server.ws, open_timeout=5, close_timeout=2) as ws:
        ws.send(json.dumps({**join, "id": "join"}))
        while json.loads(ws.recv(timeout=5)).get("re") != "join":
            pass
        ws.send(frame)
        ws.send(json.dumps({"type": "ping", "id": "after"}))
        reply = None
        try:
            while True:
                message = json.loads(ws.recv(timeout=5))
                assert "Traceback" not in json.dumps(message)
                if message["type"] in ("ack", "error", "welcome") and reply is None:
                    reply = message
                if message.get("re") == "after":
                    return reply or message
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code in (1009, 4008), closed
            return None


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame=frames, as_moderator=st.booleans())
def test_any_frame_gets_an_answer_and_the_server_lives(
    fuzz_server: ServerProcess, frame: str | bytes, as_moderator: bool
) -> None:
    """Every random or mutated frame is answered (ack or error with a code) or closed with a reason; the server stays up."""
    code, token = fuzz_server.access()[SESSION]
    join = (
        {"type": "join", "role": "moderator", "session": SESSION, "moderator_token": token}
        if as_moderator
        else {"type": "join", "code": code, "where": "room"}
    )
    reply = exchange(fuzz_server, join, frame)
    if reply is not None:
        assert reply["type"] in ("ack", "error", "pong", "welcome"), reply
        if reply["type"] == "error":
            assert isinstance(reply["code"], str) and reply["code"] and reply["message"]
    health = urllib.request.urlopen(f"{fuzz_server.http}/healthz", timeout=5)
    assert json.loads(health.read())["ok"] is True


def test_fuzz_log_is_kept(tmp_path: Path) -> None:
    """The fuzz server's log file is where the no-traceback check looks (guards the check itself)."""
    server = ServerProcess(tmp_path)
    (tmp_path / "server.log").write_text("Traceback (most recent call last):\n")
    assert "Traceback" in server.log()
