"""What WHIP (RFC 9725) and WHEP share over HTTP: offers in, answers out, the session
resource (DELETE ends it, PATCH trickles ICE), CORS for players on other origins, ICE
servers in `Link` headers, and errors as short JSON without stack traces."""

from __future__ import annotations

import logging

from aiortc import RTCIceServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from companion.domain.errors import DomainError, NotFound
from companion.media.errors import (
    Conflict,
    IceRestart,
    MediaError,
    NotCreator,
    Overloaded,
    PublisherElsewhere,
    UnknownResource,
)
from companion.media.registry import MediaRegistry, Resource
from companion.services.stream_access import MissingCredentials

log = logging.getLogger(__name__)

SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
MAX_OFFER_BYTES = 64 * 1024

# Bearer tokens, not cookies, carry the authority, so any origin may call the endpoints.
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, DELETE, PATCH, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type, If-Match",
    "access-control-expose-headers": "Location, ETag, Link, Accept-Patch, Retry-After",
    "access-control-max-age": "600",
}


class UnsupportedType(MediaError):
    """The body has the wrong content type."""

    code = "unsupported_media_type"


class TooLarge(MediaError):
    """The body is larger than any offer needs to be."""

    code = "too_large"


# Refusals to HTTP statuses, by their nearest class: access refusals from StreamAccess
# (a wrong token, a closed session, the stream turned off) are plain DomainErrors, 403.
STATUS: dict[type[Exception], int] = {
    MissingCredentials: 401,
    NotCreator: 403,
    NotFound: 404,
    UnknownResource: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedType: 415,
    IceRestart: 422,
    Overloaded: 503,
    PublisherElsewhere: 503,
    MediaError: 400,
    DomainError: 403,
}


def status_for(exc: DomainError) -> int:
    """The HTTP status of a refusal: that of its nearest class in STATUS."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def problem(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer: `{"code", "message"}`, CORS headers, nothing else."""
    response = JSONResponse({"code": code, "message": message}, status_code=status)
    response.headers.update(CORS)
    response.headers["cache-control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(exc: DomainError) -> Response:
    """The answer for a refused request."""
    status = status_for(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="companion"'
    if status == 503:
        # Soon for a publisher on another process (the proxy may have moved the session).
        headers["retry-after"] = "2" if isinstance(exc, PublisherElsewhere) else "10"
    return problem(status, exc.code, exc.message, headers)


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower case."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, expected: str) -> str:
    """The body as text, if it has the expected type, a sane size and is UTF-8."""
    if media_type(request) != expected:
        raise UnsupportedType(f"Send the body as {expected}.")
    # Stop reading past the limit: a participant token is easy to get, memory is not.
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_OFFER_BYTES:
            raise TooLarge("The body is too large.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaError("The body is not UTF-8 text.", "bad_offer") from None


async def read_offer(request: Request) -> str:
    """The SDP offer of a POST, checked just enough to reject what is not SDP at all."""
    offer = await read_body(request, SDP)
    lines = offer.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "v=0" or not any(line.startswith("m=") for line in lines):
        raise MediaError("The body is not an SDP offer with media.", "bad_offer")
    return offer


def ice_links(servers: list[RTCIceServer]) -> list[str]:
    """`Link` header values announcing the configured STUN/TURN servers (RFC 9725 4.6)."""
    links = []
    for server in servers:
        url = server.urls if isinstance(server.urls, str) else server.urls[0]
        link = f'<{url}>; rel="ice-server"'
        if server.username:
            link += f'; username="{server.username}"; credential="{server.credential}"; credential-type="password"'
        links.append(link)
    return links


class Endpoint:
    """POST an offer to create a resource; DELETE / PATCH / OPTIONS on the resource."""

    prefix = "/whip"

    def __init__(self, registry: MediaRegistry) -> None:
        self.registry = registry

    async def authorize(self, session_id: str, token: str | None) -> str:
        """Who this token is for the session, or raise Unauthorized/Forbidden."""
        raise NotImplementedError

    async def open(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        """Create the resource from an offer; returns it with the SDP answer."""
        raise NotImplementedError

    def _location(self, request: Request, res: Resource) -> str:
        base = self.registry.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return f"{base}{self.prefix}/{res.session_id}/{res.id}"

    async def collection(self, request: Request) -> Response:
        """`POST /whip|whep/{session}` (and its OPTIONS)."""
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={**CORS, "accept-post": SDP})
        try:
            session_id = self.registry.access.resolve(request.path_params["session"])
            token = bearer(request)
            who = await self.authorize(session_id, token)
            assert token is not None
            offer = await read_offer(request)
            res, answer = await self.open(session_id, offer, token, who)
        except DomainError as exc:
            return error_response(exc)
        except Exception:  # never a stack trace in the answer; the log has it
            log.exception("%s: offer failed", self.prefix)
            return problem(500, "internal", "The offer could not be handled.")
        response = Response(answer, status_code=201, media_type=SDP)
        response.headers.update(CORS)
        response.headers["location"] = self._location(request, res)
        response.headers["etag"] = res.etag
        response.headers["accept-patch"] = TRICKLE
        response.headers["cache-control"] = "no-store"
        for link in ice_links(self.registry.connections.ice.for_user(who)):
            response.headers.append("link", link)
        return response

    async def resource(self, request: Request) -> Response:
        """`DELETE` ends the session, `PATCH` trickles ICE candidates, `OPTIONS` for CORS."""
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={**CORS, "accept-patch": TRICKLE})
        try:
            session_id = self.registry.access.resolve(request.path_params["session"])
            res = self.registry.resource(
                session_id, request.path_params["resource"], bearer(request)
            )
            if request.method == "DELETE":
                await self.registry.end(res.id, "deleted")
                return Response(status_code=200, headers=CORS)
            return await self._patch(request, res)
        except DomainError as exc:
            return error_response(exc)
        except Exception:
            log.exception("%s: resource request failed", self.prefix)
            return problem(500, "internal", "The request could not be handled.")

    async def _patch(self, request: Request, res: Resource) -> Response:
        if_match = request.headers.get("if-match")
        if if_match is None:
            return problem(428, "precondition_required", "Send If-Match with the ETag.")
        if if_match.strip() not in ("*", res.etag):
            return problem(412, "precondition_failed", "The ETag does not match this session.")
        fragment = await read_body(request, TRICKLE)
        await self.registry.trickle(res, fragment)
        return Response(status_code=204, headers=CORS)
