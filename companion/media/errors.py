"""Why a publish, view or resource request is refused: a stable code for the client and
a plain message (never Python's words). Who may publish or watch is decided by
`companion.services.stream_access`; `signalling` maps both kinds to HTTP statuses."""

from __future__ import annotations

from companion.domain.errors import DomainError


class MediaError(DomainError):
    """A refused request, with a stable code and a message (as every DomainError)."""

    code = "bad_request"


class BadOffer(MediaError):
    """The SDP offer (or a trickled candidate) cannot be parsed or offers nothing usable."""

    code = "bad_offer"


class IceRestart(MediaError):
    """A trickle PATCH asked for an ICE restart, which is not supported."""

    code = "ice_restart"


class UnknownResource(MediaError):
    """No such WHIP/WHEP session (never created, or already ended)."""

    code = "not_found"


class NotCreator(MediaError):
    """The token given did not create this resource."""

    code = "forbidden"


class Conflict(MediaError):
    """Another publisher's offer for the session is being answered right now."""

    code = "already_publishing"


class Overloaded(MediaError):
    """Too many viewers; try again later."""

    code = "overloaded"


class PublisherElsewhere(MediaError):
    """The stream is live, but its publisher is connected to another server process: a
    viewer here would get an answer and no picture. The player tries again (the proxy
    sends the session's media to the publisher's process)."""

    code = "publisher_elsewhere"
