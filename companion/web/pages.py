"""HTML pages and small JSON endpoints. Transport only: reads from the services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from companion.domain.errors import NotFound
from companion.domain.programme import Status
from companion.services.sessions import SessionService
from companion.settings import Settings

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def make_environment() -> Environment:
    """Jinja2 with autoescaping on for every template."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


class Pages:
    """Request handlers for the landing page and the session lookup API."""

    def __init__(self, settings: Settings, service: SessionService) -> None:
        self.settings = settings
        self.service = service
        self.env = make_environment()

    def _render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    async def landing(self, request: Request) -> Response:
        """The programme with each event's status and a box to type a join code."""
        code = request.query_params.get("code")
        if code is not None:
            return RedirectResponse(f"/j/{code.strip()}", status_code=303)
        return self._render("landing.html", programme=self.service.programme, Status=Status)

    async def join(self, request: Request) -> Response:
        """Where a typed code or a QR code leads: the session's participant entry."""
        try:
            session_id = self.service.session_by_code(request.path_params["code"])
        except NotFound:
            return self._render("unknown_code.html", status=404, code=request.path_params["code"])
        found = self.service.programme.find_session(session_id)
        assert found is not None
        return self._render(
            "join.html",
            session=found[3],
            event=found[2],
            code=self.service.access[session_id].join_code,
            ws_url=self.settings.ws_url,
        )

    async def session_api(self, request: Request) -> Response:
        """Public facts about the session a join code opens, and where to connect."""
        try:
            session_id = self.service.session_by_code(request.path_params["code"])
        except NotFound as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=404)
        _, _, event, session = self.service.programme.find_session(session_id) or (None,) * 4
        return JSONResponse(
            {
                "session_id": session_id,
                "title": session.title,
                "event": event.title,
                "join_code": self.service.access[session_id].join_code,
                "ws_url": self.settings.ws_url,
            }
        )

    async def health(self, request: Request) -> Response:
        """Liveness for load balancers and tests."""
        return JSONResponse({"ok": True, "sessions": len(self.service.states)})
