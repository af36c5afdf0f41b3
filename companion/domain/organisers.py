"""Organisers and what lets them in: accounts, one-time links, sign-in sessions, the audit.

Pure records and rules, no I/O. Secrets (link tokens, sign-in session ids) are kept only
as SHA-256 digests, so a copy of the store opens nothing; passwords only as Argon2id
hashes (made in `companion.services.organisers`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MAX_EMAIL = 254
MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_NAME = 100
SIGNIN_LINK_SECONDS = 24 * 3600
INVITATION_SECONDS = 7 * 24 * 3600

# Deliberately simple: one @, something before, a dotted domain after, no spaces.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

LinkKind = Literal["signin", "invite"]


def normalise_email(raw: object) -> str | None:
    """The canonical (trimmed, lower-case) form of an email address, or None if not one."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        return None
    return email


def password_problem(password: object) -> str | None:
    """Why a new password is not acceptable (a catalogue key), or None."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return "organise.error_password_short"
    if len(password) > MAX_PASSWORD:
        return "organise.error_password_long"
    return None


def new_secret() -> str:
    """A random secret for a link or a sign-in session (256 bits)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Organiser:
    """A person who sets meetings up. `epoch` grows when the password changes, which ends
    every sign-in session made before."""

    id: str
    email: str
    name: str = ""
    password_hash: str = ""
    created: float = 0.0
    epoch: int = 0

    def to_data(self) -> dict[str, Any]:
        """JSON-compatible form for the stores."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Organiser:
        """The inverse of `to_data`."""
        return cls(**d)


@dataclass(frozen=True, slots=True)
class OneTimeLink:
    """A link that works once until it expires: a sign-in link (set a password) or an
    invitation to a network. `token_hash` is the digest of the secret in the URL."""

    token_hash: str
    kind: LinkKind
    expires: float
    organiser_id: str = ""
    email: str = ""
    network_id: str = ""
    invited_by: str = ""

    def to_data(self) -> dict[str, Any]:
        """JSON-compatible form for the stores."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> OneTimeLink:
        """The inverse of `to_data`."""
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Signin:
    """One signed-in browser: its id's digest, whose it is and the form token (CSRF).
    `via_link`: signed in by a one-time link, so a new password needs no current one."""

    id_hash: str
    organiser_id: str
    csrf: str
    expires: float
    epoch: int = 0
    via_link: bool = False

    def to_data(self) -> dict[str, Any]:
        """JSON-compatible form for the stores."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Signin:
        """The inverse of `to_data`."""
        return cls(**d)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who changed what in a network, and when. `what` is a stable code such as
    `session.moderator_link`; `detail` is free text (shown escaped)."""

    network_id: str
    at: float
    who: str
    what: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """JSON-compatible form for the stores."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> AuditEntry:
        """The inverse of `to_data`."""
        return cls(**d)
