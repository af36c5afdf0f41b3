"""What the public sees of a network: its programme page and its calendar feed.

Transport only: the feed's format is `companion.calendar_feed`. Both read the programme
with each session's agenda as it stands now (agenda edits are session events). The page
shows the way in (the join link) to the sessions of meetings that have a day and are not
postponed: join codes are public by design (on the big screen, on slides); moderator
links never appear here. A members-only session's join link shows only to a member whose
personal link this browser opened (`/m/<secret>`), and its code is the room's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from companion.backends.base import StoreUnavailable
from companion.calendar_feed import network_calendar
from companion.domain.members import NetworkMember
from companion.domain.programme import Network, Speaker, Status, guests
from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.i18n import LANGUAGES, translator
from companion.web.pages import Pages

OPEN = (Status.SCHEDULED, Status.LIVE)  # meetings whose sessions one may join


class NetworkPages:
    """Request handlers of the public network pages."""

    def __init__(self, settings: Settings, service: SessionService, pages: Pages) -> None:
        self.settings = settings
        self.service = service
        self.pages = pages

    def network(self, network_id: str) -> Network | None:
        """The network with every session's current agenda, or None."""
        # `programme` holds each session's agenda as it stands (after live edits).
        return next((n for n in self.service.programme.networks if n.id == network_id), None)

    async def page(self, request: Request) -> Response:
        """`/networks/{id}`: what the network is, for whom, its moderator, each season's
        meetings with their guests and status, the calendar and the way in."""
        network = self.network(request.path_params["network"])
        if network is None:
            return self.pages.render(
                request, "unknown_network.html", 404, network_id=request.path_params["network"]
            )
        try:
            member = await self.pages.member_cookie.member(request, network.id)
        except StoreUnavailable:
            member = None  # the public page still shows; members' links wait for the store
        response = self.pages.render(request, "network.html", **self.context(network, member))
        # Shareable and public, but it changes with every edit: revalidate each time.
        response.headers["cache-control"] = "no-cache"
        return response

    def context(self, network: Network, member: NetworkMember | None = None) -> dict[str, Any]:
        """Guests per session, track titles per meeting and the join link per session."""
        people: dict[str, list[Speaker]] = {}
        tracks: dict[str, dict[str, str]] = {}
        ways_in: dict[str, str] = {}
        for season in network.seasons:
            for event in season.events:
                tracks[event.id] = {track.id: track.title for track in event.tracks}
                for session in event.sessions:
                    moderator = session.moderator or network.moderator
                    people[session.id] = guests(session, moderator)
                    access = self.service.access.get(session.id)
                    if access is None or event.date is None or event.status not in OPEN:
                        continue
                    if not session.members_only:
                        ways_in[session.id] = f"/j/{access.join_code}"
                    elif member is not None:
                        ways_in[session.id] = f"/remote/{access.join_code}"
        return {
            "network": network,
            "member": member,
            "guests": people,
            "tracks": tracks,
            "ways_in": ways_in,
            "calendar_url": f"/networks/{network.id}/calendar.ics",
        }

    async def calendar(self, request: Request) -> Response:
        """`/networks/{id}/calendar.ics`: Swedish unless `?lang=en` (calendar apps send no
        language of their own)."""
        network = self.network(request.path_params["network"])
        if network is None:
            return Response("No such network.\n", 404, media_type="text/plain")
        lang = request.query_params.get("lang", "sv")
        t = translator(lang if lang in LANGUAGES else "sv")
        words = {
            "calendar_name": t("calendar.name"),
            "postponed": t("common.status_postponed"),
            "tentative": t("calendar.tentative"),
            "moderator": t("calendar.moderator"),
            "guest": t("calendar.guest"),
            "programme": t("calendar.programme"),
        }
        body = network_calendar(
            network, self.service.programme_version, self.settings.base_url, words
        )
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                "cache-control": "no-cache",
                "content-disposition": f'inline; filename="{network.id}.ics"',
            },
        )

    async def member_link(self, request: Request) -> Response:
        """`/m/<secret>`: a member's personal link. Kept in this browser (a cookie), then on
        to the network's page, where the member's sessions open; a link that does not
        stand gets a page that says so."""
        try:
            member = await self.pages.members.by_secret(request.path_params["secret"])
        except StoreUnavailable:
            return self.pages.render(request, "member_link.html", 503, unavailable=True)
        if member is None:
            return self.pages.render(request, "member_link.html", 404)
        response = RedirectResponse(f"/networks/{member.network_id}", status_code=303)
        response.headers["cache-control"] = "no-store"
        return self.pages.member_cookie.set(
            response, member.network_id, request.path_params["secret"]
        )

    def routes(self) -> list[BaseRoute]:
        """The public routes of networks."""
        return [
            Route("/m/{secret}", self.member_link),
            Route("/networks/{network}", self.page),
            Route("/networks/{network}/calendar.ics", self.calendar),
        ]
