"""Whether this process sits behind a reverse proxy it was not told to trust.

Behind a proxy every client's address is the proxy's, so the per-address limits (new
participants, connections per address) would refuse everyone once a few hundred people
join. `COMPANION_TRUST_PROXY=1` makes the server take the client's address from the
proxy's `X-Forwarded-For`; an operator who forgets it gets a warning in the log: at
start when the configuration says a proxy is in front (a public https URL served on a
loopback address), and at the first request that came through one (`X-Forwarded-For`
from a loopback or private peer)."""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from companion.settings import Settings

log = logging.getLogger(__name__)

ADVICE = (
    "set COMPANION_TRUST_PROXY=1 behind a reverse proxy, or every client shares the "
    "proxy's address and the per-address limits refuse them"
)


def _is_proxy_address(peer: str | None) -> bool:
    """A loopback or private peer: where a reverse proxy connects from."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def proxy_expected(settings: Settings) -> bool:
    """The configuration describes a proxy in front: a public https URL (the server itself
    speaks plain HTTP, so something else terminates TLS)."""
    return urlsplit(settings.public_url).scheme == "https"


class ProxyTrustCheck:
    """Warns once per process when requests come through an untrusted proxy."""

    def __init__(self) -> None:
        self.warned = False

    def at_start(self, settings: Settings) -> None:
        """Warn at start when the configuration itself says a proxy is in front."""
        if not settings.trust_proxy and proxy_expected(settings) and not self.warned:
            self.warned = True
            log.warning(
                "COMPANION_PUBLIC_URL is %s (TLS ends in a proxy in front): %s",
                settings.public_url,
                ADVICE,
            )

    def request(self, trust_proxy: bool, peer: str | None, forwarded: str | None) -> None:
        """A request from `peer` with this X-Forwarded-For (None without one)."""
        if self.warned or trust_proxy or not forwarded or not _is_proxy_address(peer):
            return
        self.warned = True
        log.warning(
            "requests arrive through a proxy (X-Forwarded-For from %s) that is not trusted: %s",
            peer,
            ADVICE,
        )


# One per process: the warning is about the process's configuration, said once.
PROXY_TRUST = ProxyTrustCheck()


class ProxyTrustMiddleware:
    """ASGI middleware: looks at each HTTP request's peer and X-Forwarded-For (until the
    warning has been given: afterwards it costs one attribute test)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.trust_proxy = settings.trust_proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not PROXY_TRUST.warned and not self.trust_proxy:
            client = scope.get("client")
            PROXY_TRUST.request(
                False, client[0] if client else None, Headers(scope=scope).get("x-forwarded-for")
            )
        await self.app(scope, receive, send)
