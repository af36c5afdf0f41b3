"""Which browser pages may talk to Companion, and the headers that hold them to it.

`OriginPolicy` decides the realtime WebSocket's Origin check; `SecurityHeaders` adds the
Content-Security-Policy (no inline script; connections only to this service's own
realtime endpoint, named exactly) and the other security headers to every HTTP response.
See docs/security.md, "Origin, CSRF, headers and cookies".
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from companion.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# A host name as it may appear in a header we echo into the CSP: nothing else gets in.
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\]")


def origin_of(url: str) -> str | None:
    """The origin of a URL as a browser serialises it (`scheme://host[:port]`, lower case,
    the scheme's default port left out), or None when it has no http(s)/ws(s) origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return (
        f"{scheme}://{host}"
        if port in (None, DEFAULT_PORTS[scheme])
        else f"{scheme}://{host}:{port}"
    )


def _host_and_port(host_header: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        return (parts.hostname or "", parts.port)
    except ValueError:
        return None


def _cannot_be_rebound(host: str) -> bool:
    # An address literal names itself; browsers resolve `localhost` to loopback without
    # asking DNS. Any other name may be pointed at this machine by whoever owns it.
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class OriginPolicy:
    """Which pages' origins may open the realtime WebSocket or post a form to our pages.

    With `COMPANION_PUBLIC_URL` or `COMPANION_ALLOWED_ORIGINS` set: exactly those origins,
    for both. Without (a local demo, a LAN by address): for the WebSocket, only a page of
    this service's own pages port on the very host the WebSocket was opened to, and only
    when that host is an address or `localhost`, so a page whose DNS name is rebound to
    this machine cannot connect; for a form, the origin of the page it was posted to.
    Clients that send no Origin are not browsers and hold no ambient credentials: allowed.
    """

    def __init__(self, settings: Settings) -> None:
        configured = [*settings.allowed_origins.split(","), settings.public_url]
        self.configured = {o for o in map(origin_of, configured) if o}
        self.pages_port = settings.port

    def allows(self, origins: list[str], hosts: list[str]) -> bool:
        """Whether an upgrade with these Origin and Host header values may proceed."""
        if not origins:
            return True
        if len(origins) > 1:
            return False
        origin = origin_of(origins[0])  # "null" (sandboxes, file:) has no origin
        if origin is None or origin.split(":", 1)[0] not in ("http", "https"):
            return False
        if self.configured:
            return origin in self.configured
        target = _host_and_port(hosts[0]) if len(hosts) == 1 else None
        if target is None or not _cannot_be_rebound(target[0]):
            return False
        host = f"[{target[0]}]" if ":" in target[0] else target[0]
        return origin in {
            origin_of(f"{scheme}://{host}:{self.pages_port}") for scheme in ("http", "https")
        }

    def allows_form(self, origin: str | None, page_url: str) -> bool:
        """Whether a state-changing request with this Origin header came from our pages.

        `page_url` is the URL the request was sent to. Without configured origins any host
        name our pages are served under works: a rebound DNS name gains nothing on HTTP,
        since the browser sends our cookies only to the host that set them.
        """
        if origin is None:
            return True
        found = origin_of(origin)  # "null" (sandboxes, redirects) has no origin
        if found is None:
            return False
        if self.configured:
            return found in self.configured
        return found == origin_of(page_url)


def connect_sources(settings: Settings, host_header: str | None) -> str:
    """The realtime origins a page may connect to, for the CSP's `connect-src`.

    `COMPANION_PUBLIC_WS_URL` names it; without it the pages connect to their own host
    name on the realtime port (static/js/live.js), so the policy names that host exactly.
    """
    if settings.public_ws_url:
        return origin_of(settings.public_ws_url) or ""
    target = _host_and_port(host_header or "")
    host = target[0] if target else ""
    if ":" in host:
        host = f"[{host}]"
    if not HOST_NAME.fullmatch(host):
        return ""  # no usable Host header: the page can reach only 'self'
    port = settings.ws_port
    return f"ws://{host}:{port} wss://{host}:{port}"


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        # The organiser pages' forms need the browser's Origin header, which Chromium sends
        # as "null" under no-referrer; same-origin keeps it (and the Referer) within the site.
        self.organise_headers = [
            (name, b"same-origin" if name == b"referrer-policy" else value)
            for name, value in self.headers
        ]

    def policy(self, host_header: str | None) -> str:
        """The Content-Security-Policy for a page requested with this Host header."""
        connect = " ".join(filter(None, ["'self'", connect_sources(self.settings, host_header)]))
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"media-src 'self' blob:; connect-src {connect}; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = (
            b"content-security-policy",
            self.policy(Headers(scope=scope).get("host")).encode(),
        )
        organise = scope["path"] == "/organise" or scope["path"].startswith("/organise/")
        headers = self.organise_headers if organise else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], policy, *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
