"""Who may publish a session's stream: its stream key (for OBS and other WHIP encoders)
or its moderator token (the camera page)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def stream_key(secret: str, session_id: str) -> str:
    """The session's stream key, derived from the server secret so nothing is stored.

    Changing COMPANION_SECRET_KEY changes every stream key (and every participant token).
    """
    digest = hmac.new(secret.encode(), f"stream-key\0{session_id}".encode(), hashlib.sha256)
    return "sk_" + base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


def session_stream_key(secret: str, session_id: str, key_version: int) -> str:
    """The stream key of a session now: a new moderator key (a new version) gives a new one."""
    return stream_key(secret, session_id if not key_version else f"{session_id}\0{key_version}")


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())
