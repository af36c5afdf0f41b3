"""Tests of parsing client WebSocket messages and encoding server messages."""

from __future__ import annotations

import json

import pytest

from companion.realtime.protocol import CLIENT_TYPES, ProtocolError, encode, error, parse

LIMIT = 8192


def parse_error(raw: str | bytes, max_bytes: int = LIMIT) -> ProtocolError:
    with pytest.raises(ProtocolError) as exc_info:
        parse(raw, max_bytes)
    return exc_info.value


def test_valid_message_is_returned_as_a_dict() -> None:
    """A well-formed message comes back with all its fields."""
    message = parse('{"type": "ask", "id": "r1", "text": "Hej?", "name": "Åsa"}', LIMIT)
    assert message == {"type": "ask", "id": "r1", "text": "Hej?", "name": "Åsa"}


@pytest.mark.parametrize("kind", sorted(CLIENT_TYPES))
def test_every_client_type_is_accepted(kind: str) -> None:
    """Every documented client message type parses."""
    assert parse(json.dumps({"type": kind}), LIMIT)["type"] == kind


def test_binary_frames_are_refused() -> None:
    """Binary frames are bad_message even if they contain JSON."""
    assert parse_error(b'{"type": "ping"}').code == "bad_message"


def test_oversize_message_is_refused_before_parsing() -> None:
    """A message longer than the limit is message_too_large; one at the limit is parsed."""
    at_limit = '{"type":"ping","pad":"' + "x" * (100 - 24) + '"}'
    assert len(at_limit) == 100
    assert parse(at_limit, 100)["type"] == "ping"
    assert parse_error(at_limit + " ", 100).code == "message_too_large"


@pytest.mark.parametrize("raw", ["", "{", "{'type': 'ping'}", '{"type": "ping",}', "nul"])
def test_invalid_json_is_bad_json(raw: str) -> None:
    """Text that is not JSON is refused with bad_json."""
    assert parse_error(raw).code == "bad_json"


@pytest.mark.parametrize("raw", ["[" * 100_000, '{"a":' * 100_000, "[" * 50_000 + "]" * 50_000])
def test_deeply_nested_json_is_bad_json_without_crashing(raw: str) -> None:
    """Absurd nesting within a large size limit is refused as bad_json, not a crash."""
    assert parse_error(raw, max_bytes=1_000_000).code == "bad_json"


@pytest.mark.parametrize("raw", ["[]", '["type", "ping"]', "1", '"ping"', "null", "true"])
def test_non_object_messages_are_bad_message(raw: str) -> None:
    """A message must be a JSON object."""
    assert parse_error(raw).code == "bad_message"


@pytest.mark.parametrize("raw", ["{}", '{"kind": "ping"}', '{"type": 1}', '{"type": null}'])
def test_missing_or_non_string_type_is_bad_message(raw: str) -> None:
    """A message needs a `type` string."""
    assert parse_error(raw).code == "bad_message"


def test_unknown_type_is_unknown_type_with_a_short_echo() -> None:
    """Unknown types are refused, and the message quotes at most 40 of their characters."""
    err = parse_error(json.dumps({"type": "drop.tables" + "x" * 500}))
    assert err.code == "unknown_type"
    assert "drop.tables" in err.message
    assert "x" * 41 not in err.message


@pytest.mark.parametrize("request_id", ["r-1", 7, 0, -3, "x" * 64, None])
def test_good_request_ids_are_accepted(request_id: object) -> None:
    """Ids may be short strings or integers (or absent)."""
    assert parse(json.dumps({"type": "ping", "id": request_id}), LIMIT).get("id") == request_id


@pytest.mark.parametrize("request_id", [True, False, 1.5, [1], {"a": 1}, "x" * 65, 10**70])
def test_bad_request_ids_are_bad_message(request_id: object) -> None:
    """Booleans, floats, containers and over-long ids are refused."""
    assert parse_error(json.dumps({"type": "ping", "id": request_id})).code == "bad_message"


def test_encode_is_compact_utf8_json_with_extra_fields() -> None:
    """encode writes compact JSON, keeps non-ASCII text and merges extra fields."""
    text = encode({"type": "pong", "text": "Välkommen"}, seq=3)
    assert text == '{"type":"pong","text":"Välkommen","seq":3}'


def test_error_message_shape() -> None:
    """An error reply carries its code, message and the request id it answers."""
    assert json.loads(error("bad_json", "Nope.", "r9")) == {
        "type": "error",
        "code": "bad_json",
        "message": "Nope.",
        "re": "r9",
    }
