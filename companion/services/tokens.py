"""Signed participant tokens: the same participant across reconnects, reloads and tabs.

A token is `<session>.<participant>.<issued>.<mac>`, with an HMAC-SHA256 over the rest
under the server's secret key, so it cannot be forged or moved to another session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass


class TokenError(Exception):
    """A token that is malformed, forged, for another session or expired."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class TokenSigner:
    """Issues and checks participant tokens with one secret key."""

    secret: str
    max_age_seconds: float = 30 * 86400

    def _mac(self, body: str) -> str:
        digest = hmac.new(self.secret.encode(), body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def issue(self, session_id: str, participant_id: str | None = None) -> tuple[str, str]:
        """A new (participant id, token) for this session."""
        participant_id = participant_id or secrets.token_hex(8)
        body = f"{session_id}.{participant_id}.{int(time.time())}"
        return participant_id, f"{body}.{self._mac(body)}"

    def verify(self, token: object, session_id: str, now: float | None = None) -> str:
        """The participant id inside a valid token for this session, or TokenError."""
        if not isinstance(token, str) or len(token) > 300 or token.count(".") != 3:
            raise TokenError("invalid_token", "The participant token is malformed.")
        body, mac = token.rsplit(".", 1)
        if not token.isascii() or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise TokenError("invalid_token", "The participant token is not valid.")
        token_session, participant_id, issued = body.split(".")
        if token_session != session_id:
            raise TokenError("invalid_token", "The participant token is for another session.")
        if (now or time.time()) - int(issued) > self.max_age_seconds:
            raise TokenError("token_expired", "The participant token has expired; join again.")
        return participant_id
