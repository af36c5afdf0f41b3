"""WHIP (RFC 9725): a publisher (OBS, GStreamer, the camera page) posts its offer.

`POST /whip/{session}` with `Authorization: Bearer <stream key or moderator token>` and an
`application/sdp` offer; `201 Created` with the answer, `Location` and `ETag`; `DELETE` on
the Location ends the publication. 401/403 for a missing/wrong key; a new publish replaces
the session's publisher (409 only while another offer is being answered); 415 for another
content type, 400 for an unusable offer.
"""

from __future__ import annotations

from companion.media.registry import Resource
from companion.media.signalling import Endpoint


class WhipEndpoint(Endpoint):
    """The ingest endpoint of every session."""

    prefix = "/whip"

    async def authorize(self, session_id: str, token: str | None) -> str:
        """ "whip" for the stream key, "browser" for the moderator token."""
        return self.registry.access.check_publisher(session_id, token)

    async def open(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        """Start the session's publication."""
        return await self.registry.publish(session_id, offer, token, who)
