"""WHEP: a viewer posts a receive-only offer and gets the session's stream.

`POST /whep/{session}` (session id or join code) with `Authorization: Bearer <participant
token>` (the one the realtime `welcome` gave; a moderator token works too). The viewer may
connect while the stream is offline: media starts when a publisher goes live, and stops
and resumes with it on the same connection.
"""

from __future__ import annotations

from companion.media.registry import Resource
from companion.media.signalling import Endpoint


class WhepEndpoint(Endpoint):
    """The playback endpoint of every session."""

    prefix = "/whep"

    async def authorize(self, session_id: str, token: str | None) -> str:
        """The participant id (or "moderator") the token stands for."""
        return await self.registry.access.check_member_viewer(session_id, token)

    async def open(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        """Add a viewer to the session's broadcast."""
        return await self.registry.view(session_id, offer, token, who)
