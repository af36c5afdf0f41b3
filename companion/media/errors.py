"""Why a publish or view request is refused: each refusal has a stable code for the
client and a plain message (never Python's words); `signalling` maps them to HTTP."""

from __future__ import annotations


class MediaError(Exception):
    """A refused publish/view request, with the HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadOffer(MediaError):
    """The SDP offer cannot be parsed or offers nothing usable."""

    status = 400
    code = "bad_offer"


class Unauthorized(MediaError):
    """No credentials were given."""

    status = 401
    code = "unauthorized"


class Forbidden(MediaError):
    """The credentials given do not open this session."""

    status = 403
    code = "forbidden"


class UnknownSession(MediaError):
    """No such session."""

    status = 404
    code = "unknown_session"


class UnknownResource(MediaError):
    """No such WHIP/WHEP session (never created, or already ended)."""

    status = 404
    code = "not_found"


class Conflict(MediaError):
    """Another publisher's offer for the session is being answered right now."""

    status = 409
    code = "already_publishing"


class Overloaded(MediaError):
    """Too many viewers; try again later."""

    status = 503
    code = "overloaded"
