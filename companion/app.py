"""The HTTP application: routes only. Realtime runs beside it (companion.realtime)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.pages import Pages


def create_app(settings: Settings, service: SessionService) -> Starlette:
    """The Starlette app serving pages and JSON for one SessionService."""
    pages = Pages(settings, service)
    return Starlette(
        routes=[
            Route("/", pages.landing),
            Route("/j/{code}", pages.join),
            Route("/api/sessions/{code}", pages.session_api),
            Route("/healthz", pages.health),
        ]
    )
