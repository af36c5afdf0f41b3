"""The browser side of a member's personal link: a cookie per network.

Opening `/m/<secret>` puts the secret in an HttpOnly, SameSite=Lax cookie named for the
network (a member of two networks has two links and two cookies) and sends the browser to
the network's page without the secret in the address. Each page that admits members asks
the store, through `MemberService.by_secret`, whether the link still stands: a revoked
link stops at the next page, whatever the cookie says.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from companion.domain.members import NetworkMember
from companion.services.members import MemberService
from companion.settings import Settings

COOKIE_DAYS = 365  # the link stands until revoked; the cookie keeps it a year


class MemberCookie:
    """Reads and writes the personal-link cookies of one app."""

    def __init__(self, settings: Settings, members: MemberService) -> None:
        self.members = members
        self.secure = settings.base_url.startswith("https://")

    def name(self, network_id: str) -> str:
        """The cookie of one network (its id hashed: ids may hold characters cookies may not)."""
        tag = hashlib.sha256(network_id.encode()).hexdigest()[:16]
        return f"__Host-member-{tag}" if self.secure else f"member-{tag}"

    def set(self, response: Response, network_id: str, secret: str) -> Response:
        """Keep a personal link's secret in this browser."""
        response.set_cookie(
            self.name(network_id),
            secret,
            max_age=COOKIE_DAYS * 86400,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def member(self, request: Request, network_id: str) -> NetworkMember | None:
        """The member this browser's link is for, while it stands (asked of the store)."""
        secret = request.cookies.get(self.name(network_id))
        if not secret:
            return None
        member = await self.members.by_secret(secret)
        return member if member is not None and member.network_id == network_id else None
