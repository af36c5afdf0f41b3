"""The STUN/TURN servers peers use, with TURN credentials per user.

With `COMPANION_TURN_SECRET` (coturn's `use-auth-secret` + `static-auth-secret`), each
participant gets its own credential that expires (the TURN REST API scheme coturn
implements): username `<expiry unix time>:<user>`, password base64(HMAC-SHA1(secret,
username)). coturn checks it without asking Companion, and a credential that leaks is
useless after `COMPANION_TURN_TTL` seconds. Without a secret, the static
`COMPANION_TURN_USERNAME`/`COMPANION_TURN_CREDENTIAL` pair is handed to everyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from aiortc import RTCIceServer

from companion.settings import Settings


def rest_credential(secret: str, user: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """A TURN REST API username and password for `user`, valid for `ttl` seconds."""
    expiry = int(now if now is not None else time.time()) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class IceServers:
    """The configured servers (COMPANION_ICE_SERVERS); none by default (no outside calls)."""

    def __init__(self, settings: Settings) -> None:
        self.urls = settings.ice_servers.split()
        self.username = settings.turn_username
        self.credential = settings.turn_credential
        self.secret = settings.turn_secret
        self.ttl = settings.turn_ttl

    def for_user(self, user: str) -> list[RTCIceServer]:
        """The servers with TURN credentials for `user` (fresh ones, with a secret)."""
        username, credential = self.username, self.credential
        if self.secret:
            # ':' separates the expiry in coturn's check; keep it out of the user part.
            username, credential = rest_credential(self.secret, user.replace(":", "."), self.ttl)
        return [
            RTCIceServer(url, username, credential)
            if url.startswith(("turn:", "turns:"))
            else RTCIceServer(url)
            for url in self.urls
        ]

    def as_json(self, user: str) -> list[dict[str, Any]]:
        """The servers as a browser's `RTCPeerConnection({iceServers})` takes them."""
        out: list[dict[str, Any]] = []
        for server in self.for_user(user):
            entry: dict[str, Any] = {"urls": server.urls}
            if server.username:
                entry |= {"username": server.username, "credential": server.credential}
            out.append(entry)
        return out
