"""The HTTP application: routes only. Realtime runs beside it (companion.realtime)."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.pages import Pages
from companion.web.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent.parent / "static"


def realtime_origin(settings: Settings) -> str:
    """The origin pages may open WebSockets to, for the Content-Security-Policy."""
    if settings.public_ws_url:
        scheme, _, rest = settings.public_ws_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return f"ws://*:{settings.ws_port}"


def create_app(settings: Settings, service: SessionService) -> Starlette:
    """The Starlette app serving pages and JSON for one SessionService."""
    pages = Pages(settings, service)
    return Starlette(
        routes=[
            Route("/", pages.landing),
            Route("/j/{code}", pages.join),
            Route("/room/{code}", pages.participant),
            Route("/remote/{code}", pages.participant),
            Route("/screen/{code}", pages.screen),
            Route("/moderate/{session_id}", pages.moderator),
            Route("/qr/{code}.svg", pages.qr),
            Route("/i18n/{lang}.json", pages.strings),
            Route("/api/sessions/{code}", pages.session_api),
            Route("/healthz", pages.health),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, connect_src=realtime_origin(settings))],
    )
