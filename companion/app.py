"""The HTTP application: routes only. Realtime runs beside it (companion.realtime)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from companion.proxy_trust import ProxyTrustMiddleware
from companion.services.members import MemberService
from companion.services.organisers import OrganiserService
from companion.services.programme import ProgrammeService
from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.network_pages import NetworkPages
from companion.web.organise_members import member_routes
from companion.web.organise_networks import network_routes
from companion.web.organise_pages import account_routes
from companion.web.organise_sessions import session_routes
from companion.web.organiser_auth import OrganiserAccess, Refused
from companion.web.pages import Pages
from companion.web.programme_pages import programme_routes
from companion.web.report_pages import ReportPages
from companion.web.schedule_pages import schedule_routes
from companion.web.security import SecurityHeaders

if TYPE_CHECKING:
    from companion.media.registry import MediaRegistry

STATIC = Path(__file__).resolve().parent.parent / "static"


def create_app(
    settings: Settings,
    service: SessionService,
    media: MediaRegistry | None = None,
    programme: ProgrammeService | None = None,
    members: MemberService | None = None,
) -> Starlette:
    """The Starlette app serving pages and JSON for one SessionService.

    With `media`, it also serves the live stream (WHIP, WHEP, the camera page);
    `programme` is the editor's service (one is made when not given).
    """
    members = members or MemberService(service.store, service)
    pages = Pages(settings, service, members)
    organisers = OrganiserAccess(settings, OrganiserService(service.store), pages)
    # New moderator links and join codes, from a console too, go into the network's audit.
    service.audit_access = organisers.organisers.record_audit
    editor = programme or ProgrammeService(service)
    stream_routes = []
    if media is not None:
        from companion.media.routes import media_routes  # aiortc is loaded only to stream

        stream_routes = media_routes(media, pages)
    return Starlette(
        routes=[
            Route("/", pages.landing),
            Route("/j/{code}", pages.join),
            Route("/privacy", pages.privacy),
            Route("/accessibility", pages.accessibility),
            Route("/room/{code}", pages.participant),
            Route("/remote/{code}", pages.participant),
            Route("/screen/{code}", pages.screen),
            Route("/moderate/{session_id}", pages.moderator),
            Route("/stage/{session_id}", pages.stage),
            Route(
                "/moderate/{session_id}/report.{fmt}",
                ReportPages(settings, service).report,
                methods=["GET", "POST"],
            ),
            Route("/qr/{code}.svg", pages.qr),
            Route("/i18n/{lang}.json", pages.strings),
            Route("/api/sessions/{code}", pages.session_api),
            Route("/healthz", pages.health),
            *NetworkPages(settings, service, pages).routes(),
            *account_routes(organisers, settings),
            *network_routes(organisers, settings),
            *member_routes(organisers, settings),
            *session_routes(organisers, settings),
            *programme_routes(organisers, editor),
            *schedule_routes(organisers, editor),
            *stream_routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders, settings=settings),
            Middleware(ProxyTrustMiddleware, settings=settings),
        ],
        exception_handlers={Refused: organisers.refused},
    )
