"""Connections whose credential was revoked: refused at once, closed a moment later.

A moderator's when the moderator key is rotated; a member's when their personal link is
revoked (companion.services.members).

The grace lets the console that rotated the key get its ack (with the new key) before its
old connection closes: with a shared store this process may apply the rotation event
before the append that made it has returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from websockets.asyncio.server import ServerConnection

REVOKE_GRACE = 0.5  # seconds a revoked console keeps its socket, refused, for its last ack
REVOKED_CODE = 4003


class Revocations:
    """The revoked connections that are still open."""

    def __init__(self, grace: float = REVOKE_GRACE) -> None:
        self.grace = grace
        self._sockets: set[ServerConnection] = set()

    def __contains__(self, ws: object) -> bool:
        return ws in self._sockets

    def revoke(
        self, sockets: Iterable[ServerConnection], reason: str = "moderator key changed"
    ) -> None:
        """Refuse these connections from now on and close them after the grace."""
        loop = asyncio.get_running_loop()
        for ws in sockets:
            self._sockets.add(ws)
            loop.call_later(self.grace, self._close, ws, reason)

    def _close(self, ws: ServerConnection, reason: str) -> None:
        self._sockets.discard(ws)
        asyncio.get_running_loop().create_task(ws.close(REVOKED_CODE, reason))
