"""Typed domain errors: a stable machine code plus a readable message.

Transports turn these into protocol error messages or HTTP statuses; the code is part
of the public protocol (see docs/protocol.md), so never rename one.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused a command; nothing was changed."""

    code = "invalid_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The question, item or session named by the command does not exist."""

    code = "not_found"


class InvalidState(DomainError):
    """The command is not allowed in the target's current state."""

    code = "invalid_state"


class InvalidText(DomainError):
    """A question text or a name is empty or too long."""

    code = "invalid_text"
