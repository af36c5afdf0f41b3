"""HTML pages, the QR code, catalogues and small JSON endpoints. Transport only."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from companion.backends.base import StoreUnavailable
from companion.domain.access import normalise_code
from companion.domain.errors import NotFound
from companion.domain.hands import MAX_TOPIC_CHARS
from companion.domain.members import member_participant
from companion.domain.polls import MAX_WORD_CHARS
from companion.domain.programme import Status
from companion.domain.questions import MAX_NAME_CHARS, MAX_QUESTION_CHARS
from companion.services.members import MemberService
from companion.services.sessions import SessionService
from companion.services.tokens import TokenSigner
from companion.settings import Settings
from companion.web.i18n import COOKIE, LANGUAGES, catalogue, choose_language, translator
from companion.web.member_cookie import MemberCookie

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
# The text limits the forms show; the same as `welcome.limits` (realtime/server.py).
TEXT_LIMITS = {
    "question_chars": MAX_QUESTION_CHARS,
    "name_chars": MAX_NAME_CHARS,
    "answer_chars": MAX_WORD_CHARS,
    "topic_chars": MAX_TOPIC_CHARS,
}


def make_environment() -> Environment:
    """Jinja2 with autoescaping on for every template."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


class Pages:
    """Request handlers for every page people open."""

    def __init__(
        self, settings: Settings, service: SessionService, members: MemberService | None = None
    ) -> None:
        self.settings = settings
        self.service = service
        self.members = members or MemberService(service.store, service)
        self.member_cookie = MemberCookie(settings, self.members)
        self.signer = TokenSigner(settings.secret_key, settings.token_days * 86400)
        self.env = make_environment()

    # -- shared ----------------------------------------------------------------------
    def _lang(self, request: Request) -> str:
        return choose_language(request.cookies.get(COOKIE), request.headers.get("accept-language"))

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """A template in the request's language, with what every page needs (also for the
        camera page in `companion.media.routes`)."""
        lang = self._lang(request)
        html = self.env.get_template(name).render(
            lang=lang,
            other_lang=next(code for code in LANGUAGES if code != lang),
            t=translator(lang),
            catalogue_json=json.dumps(catalogue(lang), ensure_ascii=False),
            ws_url=self.settings.public_ws_url,
            ws_port=self.settings.ws_port,
            Status=Status,
            # A page's own limits (the programme editor's) win over the participant forms'.
            **{"limits": TEXT_LIMITS, **context},
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["cache-control"] = "no-store"
        response.headers["vary"] = "accept-language, cookie"
        return response

    def _session_for_code(self, request: Request) -> str | None:
        try:
            return self.service.session_by_code(request.path_params["code"])
        except NotFound:
            return None

    def _unknown(self, request: Request) -> Response:
        return self.render(request, "unknown_code.html", 404, code=request.path_params["code"])

    def session_context(self, session_id: str) -> dict[str, Any]:
        """What a page of one session shows: its place in the programme and join code."""
        network, season, event, session = (
            self.service.programme.find_session(session_id) or (None,) * 4
        )
        code = self.service.access[session_id].join_code
        return {
            "network": network,
            "season": season,
            "event": event,
            "session": session,
            "code": code,
            "join_url": f"{self.settings.base_url}/j/{code}",
        }

    # -- pages -----------------------------------------------------------------------
    async def landing(self, request: Request) -> Response:
        """The programme with each event's status and a box to type a join code."""
        code = request.query_params.get("code")
        if code is not None:
            normal = normalise_code(code) or "".join(code.split())[:12] or "-"
            return RedirectResponse(f"/j/{normal}", status_code=303)
        return self.render(
            request, "landing.html", programme=self.service.programme, access=self.service.access
        )

    async def join(self, request: Request) -> Response:
        """Where a typed code or a QR code leads: asks room or remote, and a name."""
        session_id = self._session_for_code(request)
        if session_id is None:
            return self._unknown(request)
        return self.render(request, "join.html", **self.session_context(session_id))

    async def participant(self, request: Request) -> Response:
        """The phone page (in the room) or the remote page (with the stream)."""
        session_id = self._session_for_code(request)
        if session_id is None:
            return self._unknown(request)
        mode = request.url.path.split("/")[1]  # "room" (phone) or "remote"
        context = self.session_context(session_id)
        if mode == "remote" and self.members.members_only(session_id):
            # From afar only members, through their personal link (docs/security.md); the
            # page carries a participant token that names the member and that link.
            try:
                member = await self.member_cookie.member(request, context["network"].id)
            except StoreUnavailable:
                return self.render(request, "members_only.html", 503, unavailable=True, **context)
            if member is None:
                return self.render(request, "members_only.html", 403, **context)
            _, token = self.signer.issue(session_id, member_participant(member))
            context |= {"member_token": token, "member": member}
        return self.render(request, "participant.html", mode=mode, **context)

    async def privacy(self, request: Request) -> Response:
        """The privacy notice: what is stored, why, who sees it, how long, the rights."""
        s = self.settings
        return self.render(
            request,
            "privacy.html",
            controller=s.controller_name,
            contact=s.controller_contact,
            token_days=s.token_days,
            retention_days=s.retention_days,
        )

    async def accessibility(self, request: Request) -> Response:
        """The accessibility statement, in the structure Swedish public bodies publish."""
        s = self.settings
        return self.render(
            request,
            "accessibility.html",
            controller=s.controller_name,
            contact=s.accessibility_contact or s.controller_contact,
            updated=s.accessibility_updated,
        )

    async def screen(self, request: Request) -> Response:
        """The big screen of the room."""
        session_id = self._session_for_code(request)
        if session_id is None:
            return self._unknown(request)
        return self.render(request, "screen.html", **self.session_context(session_id))

    async def moderator(self, request: Request) -> Response:
        """The moderator console; the key comes in the link's fragment, never to the server."""
        session_id = request.path_params["session_id"]
        if session_id not in self.service.states:
            return self.render(request, "unknown_code.html", 404, code=session_id)
        return self.render(
            request,
            "moderator.html",
            nudge_minutes=self.settings.fairness_nudge_minutes,
            **self.session_context(session_id),
        )

    async def stage(self, request: Request) -> Response:
        """The speaker's stage monitor; opened with the moderator link's key, like the
        console, and addressed by session id like it (a new join code must not break it)."""
        session_id = request.path_params["session_id"]
        if session_id not in self.service.states:
            return self.render(request, "unknown_code.html", 404, code=session_id)
        return self.render(request, "stage.html", **self.session_context(session_id))

    async def qr(self, request: Request) -> Response:
        """An SVG QR code of the session's join link, drawn on the server."""
        session_id = self._session_for_code(request)
        if session_id is None:
            return Response("unknown code\n", status_code=404, media_type="text/plain")
        code = self.service.access[session_id].join_code
        out = io.BytesIO()
        segno.make(f"{self.settings.base_url}/j/{code}", error="m").save(
            out, kind="svg", scale=10, border=2, xmldecl=False, dark="#000", light="#fff"
        )
        return Response(
            out.getvalue(),
            media_type="image/svg+xml",
            headers={"cache-control": "public, max-age=300"},
        )

    async def strings(self, request: Request) -> Response:
        """One language's catalogue, for the language switch."""
        lang = request.path_params["lang"]
        if lang not in LANGUAGES:
            return JSONResponse({"code": "not_found", "message": "No such language."}, 404)
        return JSONResponse(catalogue(lang))

    async def session_api(self, request: Request) -> Response:
        """Public facts about the session a join code opens, and where to connect."""
        try:
            session_id = self.service.session_by_code(request.path_params["code"])
        except NotFound as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=404)
        context = self.session_context(session_id)
        return JSONResponse(
            {
                "session_id": session_id,
                "title": context["session"].title,
                "event": context["event"].title,
                "join_code": context["code"],
                "join_url": context["join_url"],
                "ws_url": self.settings.ws_url,
            }
        )

    async def health(self, request: Request) -> Response:
        """Liveness for load balancers and tests."""
        return JSONResponse({"ok": True, "sessions": len(self.service.states)})
