"""How people get into a session: join codes and moderator secrets.

Join codes are short and typed on phones, so they avoid characters that look alike
(0/O, 1/I/L) and are compared case-insensitively.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


@dataclass(frozen=True, slots=True)
class SessionAccess:
    """The secrets of one session."""

    session_id: str
    join_code: str
    moderator_token: str


def new_join_code() -> str:
    """A random join code such as `K7PM2Q`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_moderator_token() -> str:
    """A long random secret for the moderator link (256 bits)."""
    return secrets.token_urlsafe(32)


def normalise_code(code: object) -> str | None:
    """The canonical form of a typed code, or None when it cannot be a join code."""
    if not isinstance(code, str):
        return None
    cleaned = "".join(code.split()).upper().replace("-", "")
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned
