"""Parsing client messages and encoding server messages of the WebSocket protocol.

The protocol is documented in docs/protocol.md; the error codes here are part of it.
"""

from __future__ import annotations

import json
from typing import Any

from companion.services.commands import CLIENT_TYPES

__all__ = ["CLIENT_TYPES", "ProtocolError", "encode", "error", "parse"]


class ProtocolError(Exception):
    """A message the server cannot act on; answered with an error, connection kept.

    `request_id` is the message's `id` when it could be read, so the reply can name it;
    `retry_after` (seconds) tells a rate-limited client when to try again.
    """

    def __init__(
        self,
        code: str,
        message: str,
        request_id: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after


def _valid_id(value: Any) -> bool:
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 64:
        return False
    if isinstance(value, str):
        # It is echoed as `re`: a lone surrogate ("\ud800" in JSON) could not be sent back.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def parse(raw: str | bytes, max_bytes: int) -> dict[str, Any]:
    """A client message as a dict with a known `type`, or ProtocolError."""
    if isinstance(raw, bytes):
        raise ProtocolError("bad_message", "Send JSON text frames, not binary frames.")
    # A character is 1-4 bytes in UTF-8: only encode when the length alone cannot decide.
    if len(raw) > max_bytes or (len(raw) * 4 > max_bytes and len(raw.encode()) > max_bytes):
        raise ProtocolError("message_too_large", f"Messages are limited to {max_bytes} bytes.")
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "The message is not valid JSON.") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "A message must be a JSON object.")
    # The id is read first, so every later refusal can name the request it answers.
    request_id = message.get("id")
    if request_id is not None and not _valid_id(request_id):
        raise ProtocolError("bad_message", "`id` must be a short string or number.")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "A message needs a `type` string.", request_id)
    if kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", f"Unknown message type {kind[:40]!r}.", request_id)
    return message


def encode(body: dict[str, Any], **extra: Any) -> str:
    """One server message as compact JSON text."""
    if extra:
        body = {**body, **extra}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def error(code: str, message: str, request_id: Any = None, **extra: Any) -> str:
    """An error reply."""
    body = {"type": "error", "code": code, "message": message, "re": request_id}
    return encode(body, **{k: v for k, v in extra.items() if v is not None})
