"""What the public sees of a network: its calendar feed (and its programme page).

Transport only: the feed's format is `companion.calendar_feed`. Both read the programme
with each session's agenda as it stands now (agenda edits are session events).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.calendar_feed import network_calendar
from companion.domain import programme_edits as edits
from companion.domain.programme import Network
from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.i18n import LANGUAGES, translator


class NetworkPages:
    """Request handlers of the public network pages."""

    def __init__(self, settings: Settings, service: SessionService) -> None:
        self.settings = settings
        self.service = service

    def network(self, network_id: str) -> Network | None:
        """The network with every session's current agenda, or None."""
        live = {sid: state.agenda.items for sid, state in self.service.states.items()}
        programme = edits.with_items(self.service.programme, live)
        return next((n for n in programme.networks if n.id == network_id), None)

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

    def routes(self) -> list[BaseRoute]:
        """The public routes of networks."""
        return [Route("/networks/{network}/calendar.ics", self.calendar)]
