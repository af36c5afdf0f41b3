"""Lone surrogates ("\\ud800" is legal JSON text but not Unicode text) in every string field of
every message: each gets an error code and the connection stays open. Before the fix, one in
a request id or a moderator token crashed the connection (1011/1006, a traceback in the log),
and one in a break message reached the store."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from companion.realtime.protocol import CLIENT_TYPES
from tests.e2e.conftest import SESSION, fuzz_target
from tests.serverproc import ServerProcess

SURROGATE = "\ud800"


@pytest.fixture(scope="module")
def unicode_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for every example, with limits that let the rules speak."""
    with fuzz_target(tmp_path_factory.mktemp("unicode")) as server:
        yield server


def reply_to(ws: ClientConnection, message: dict) -> dict:
    """Send one message (JSON escapes the surrogates) and return the reply to it, then check
    that the connection still answers a ping."""
    ws.send(json.dumps({**message, "id": message.get("id", "r")}))
    ws.send(json.dumps({"type": "ping", "id": "after"}))
    reply = None
    while True:
        got = json.loads(ws.recv(timeout=5))
        if got.get("re") == "after" and got["type"] == "pong":
            assert reply is not None
            return reply
        if got["type"] in ("ack", "error", "welcome", "pong") and reply is None:
            reply = got


@contextlib.contextmanager
def joined(server: ServerProcess, moderator: bool) -> Iterator[ClientConnection]:
    """A connection joined as the moderator or as a participant."""
    code, token = server.access()[SESSION]
    join = (
        {"type": "join", "role": "moderator", "session": SESSION, "moderator_token": token}
        if moderator
        else {"type": "join", "code": code, "where": "room", "name": "Eva"}
    )
    with connect(server.ws, open_timeout=5, close_timeout=2) as ws:
        assert reply_to(ws, join)["type"] == "welcome"
        yield ws


@pytest.mark.parametrize(
    ("moderator", "message", "code"),
    [
        (False, {"type": "ping", "id": SURROGATE}, "bad_message"),
        (False, {"type": "ping", "id": "ok" + SURROGATE}, "bad_message"),
        (False, {"type": SURROGATE}, "unknown_type"),
        (False, {"type": "ask", "text": SURROGATE}, "invalid_text"),
        (False, {"type": "ask", "text": "Fråga?", "name": SURROGATE}, "invalid_text"),
        (False, {"type": "poll.answer", "poll": SURROGATE, "answer": 1}, "not_found"),
        (False, {"type": "vote", "question": SURROGATE}, "not_found"),
        (
            True,
            {"type": "break.start", "minutes": 5, "message": "Fika" + SURROGATE},
            "invalid_value",
        ),
        (True, {"type": "question.edit", "question": 1, "text": SURROGATE}, None),
        (True, {"type": "agenda.goto", "item": SURROGATE}, "not_found"),
        (True, {"type": "item.status", "item": SURROGATE, "status": "postponed"}, "not_found"),
        (True, {"type": "poll.create", "kind": "words", "text": SURROGATE}, "invalid_poll"),
        (True, {"type": "poll.create", "kind": SURROGATE, "text": "x"}, "invalid_poll"),
        (
            True,
            {"type": "poll.create", "kind": "single", "text": "x", "options": ["a", SURROGATE]},
            "invalid_poll",
        ),
        (
            True,
            {"type": "poll.create", "kind": "words", "text": "x", "item": SURROGATE},
            "not_found",
        ),
    ],
)
def test_surrogates_in_fields_get_an_error(
    unicode_server: ServerProcess, moderator: bool, message: dict, code: str | None
) -> None:
    """A lone surrogate in any field is answered with the field's error code; the connection lives."""
    with joined(unicode_server, moderator) as ws:
        reply = reply_to(ws, message)
        assert reply["type"] == "error", reply
        if code is not None:
            assert reply["code"] == code, reply


@pytest.mark.parametrize(
    "join",
    [
        {"role": "moderator", "session": SESSION, "moderator_token": SURROGATE},
        {"role": "moderator", "session": SURROGATE, "moderator_token": "x"},
        {"code": SURROGATE},
        {"code": "{code}", "token": SURROGATE + ".a.1.b"},
        {"code": "{code}", "name": SURROGATE},
        {"code": "{code}", "where": SURROGATE},
        {"role": SURROGATE, "code": "{code}"},
    ],
)
def test_surrogates_in_a_join_get_an_error(unicode_server: ServerProcess, join: dict) -> None:
    """A join with a lone surrogate anywhere is refused with an error; the connection may try again."""
    code, _ = unicode_server.access()[SESSION]
    fields = {k: v.replace("{code}", code) for k, v in join.items()}
    with connect(unicode_server.ws, open_timeout=5, close_timeout=2) as ws:
        reply = reply_to(ws, {"type": "join", **fields})
        assert reply["type"] == "error" and reply["code"], reply
        assert reply_to(ws, {"type": "join", "code": code})["type"] == "welcome"


unicode_text = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(),
    max_size=12,
)
values = st.one_of(
    unicode_text, st.lists(unicode_text, max_size=3), st.integers(-3, 3), st.none(), st.booleans()
)
FIELDS = ["id", "text", "name", "question", "into", "item", "minutes", "status", "on", "message"]
FIELDS += ["poll", "answer", "kind", "options", "max_choices", "scale", "hide", "hide_results"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(sorted(CLIENT_TYPES - {"join", "session.rotate_key"})),
    fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
    moderator=st.booleans(),
)
def test_any_message_with_surrogates_is_answered(
    unicode_server: ServerProcess, kind: str, fields: dict, moderator: bool
) -> None:
    """Any message type with surrogate-laden fields gets an ack or an error, never a crash."""
    with joined(unicode_server, moderator) as ws:
        reply = reply_to(ws, {**fields, "type": kind})
        assert reply["type"] in ("ack", "error", "pong"), reply
