"""The organiser's page of one session (`/organise/sessions/{id}`): settings, join code
and QR code, participant and big-screen links, the moderator invitation, camera/OBS.

Changes go through the session service as session events (settings, new join code, new
moderator key), so consoles, phones and screens on every process follow at once; each
access change is recorded in the network's audit.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.domain.errors import DomainError
from companion.domain.session_settings import SettingsError, parse_words
from companion.services.sessions import SessionService
from companion.services.stream_access import session_stream_key
from companion.settings import Settings
from companion.web.organiser_auth import OrganiserAccess, Refused

QR_SCALE = 12  # PNG: 12 px a module, about 500 px wide for a join link: sharp on a slide
SAVED = {"settings", "code", "moderator"}


class SessionPages:
    """Handlers of /organise/sessions/{session_id}/…"""

    def __init__(self, settings: Settings, access: OrganiserAccess) -> None:
        self.settings = settings
        self.access = access
        self.service: SessionService = access.pages.service

    async def _allowed(self, request: Request) -> tuple[str, str]:
        """(session id, network id) when the signed-in organiser is of the session's network."""
        session_id = request.path_params["session_id"]
        found = self.service.programme.find_session(session_id)
        if found is None or session_id not in self.service.states:
            await self.access.require_organiser(request)
            raise Refused(404, "organise.refused_not_found")
        network_id = found[0].id
        await self.access.require_network_member(request, network_id)
        return session_id, network_id

    def _links(self, session_id: str) -> dict[str, str]:
        base = self.settings.base_url
        access = self.service.access[session_id]
        state = self.service.states[session_id]
        return {
            "join": f"{base}/j/{access.join_code}",
            "screen": f"{base}/screen/{access.join_code}",
            "moderator": f"{base}/moderate/{session_id}#key={access.moderator_token}",
            "camera": f"{base}/camera/{session_id}#key={access.moderator_token}",
            "whip": f"{base}/whip/{session_id}",
            "stream_key": session_stream_key(
                self.settings.secret_key, session_id, state.key_version
            ),
        }

    async def _page(
        self, request: Request, session_id: str, status: int = 200, **extra: Any
    ) -> Response:
        network, season, event, session = self.service.programme.find_session(session_id)  # type: ignore[misc]
        state = self.service.states[session_id]
        form = extra.pop("form", None) or {
            "premoderation": state.premoderation,
            "anonymous": state.settings.anonymous,
            "word_filter": state.settings.word_filter,
            "extra_words": "\n".join(state.settings.extra_words),
            "stream": state.settings.stream,
        }
        saved = request.query_params.get("saved")
        return await self.access.render(
            request,
            "organise/session.html",
            status,
            network=network,
            season=season,
            event=event,
            session=session,
            state=state,
            code=self.service.access[session_id].join_code,
            links=self._links(session_id),
            form=form,
            errors=extra.pop("errors", {}),
            saved=saved if saved in SAVED else None,
            **extra,
        )

    async def page(self, request: Request) -> Response:
        """The session's page."""
        session_id, _ = await self._allowed(request)
        return await self._page(request, session_id)

    async def save_settings(self, request: Request) -> Response:
        """Pre-moderation, anonymous questions, word filter and words, live stream."""
        session_id, network_id = await self._allowed(request)
        form = await self.access.form(request)
        wanted: dict[str, Any] = {
            flag: form.get(flag) == "on"
            for flag in ("premoderation", "anonymous", "word_filter", "stream")
        }
        raw_words = form.get("extra_words", "")
        shown = {**wanted, "extra_words": raw_words}
        try:
            words = parse_words(raw_words)
        except SettingsError as exc:
            return await self._page(
                request,
                session_id,
                400,
                form=shown,
                errors={exc.field: f"organise.error_{exc.field}"},
            )
        state = self.service.states[session_id]
        fields = {k: wanted[k] for k in ("anonymous", "word_filter", "stream")}
        fields["extra_words"] = list(words)
        changed: list[str] = []
        try:
            if wanted["premoderation"] != state.premoderation:
                on = wanted["premoderation"]
                await self.service.execute(session_id, lambda s: s.set_premoderation(on))
                changed.append(f"premoderation={'on' if on else 'off'}")
            outcome = await self.service.execute(session_id, lambda s: s.change_settings(fields))
            changed += [_describe(k, v) for k, v in outcome.event.data.items()]
        except DomainError as exc:
            if exc.code != "no_change":
                return await self._page(
                    request,
                    session_id,
                    503,
                    form=shown,
                    errors={"settings": "organise.error_not_saved"},
                )
        if changed:
            await self.access.audit(
                request, network_id, "session.settings", f"{session_id}: {', '.join(changed)}"
            )
        return self.access.redirect(f"/organise/sessions/{session_id}?saved=settings#settings")

    async def new_code(self, request: Request) -> Response:
        """A new join code: the old one stops opening the session."""
        session_id, _ = await self._allowed(request)
        who = await self.access.require_organiser(request)
        await self.access.form(request)
        try:
            await self.service.regenerate_join_code(session_id, by=who.email)
        except DomainError:
            return await self._page(
                request, session_id, 503, errors={"code": "organise.error_not_saved"}
            )
        return self.access.redirect(f"/organise/sessions/{session_id}?saved=code#code")

    async def new_moderator_link(self, request: Request) -> Response:
        """A new moderator link: consoles with the old one are closed, on every process."""
        session_id, _ = await self._allowed(request)
        who = await self.access.require_organiser(request)
        await self.access.form(request)
        try:
            await self.service.rotate_moderator_token(session_id, by=who.email)
        except DomainError:
            return await self._page(
                request, session_id, 503, errors={"moderator": "organise.error_not_saved"}
            )
        return self.access.redirect(f"/organise/sessions/{session_id}?saved=moderator#moderator")

    async def qr(self, request: Request) -> Response:
        """The join link's QR code to download, as SVG (print) or PNG (slides)."""
        session_id, _ = await self._allowed(request)
        kind = request.path_params["kind"]
        if kind not in ("svg", "png"):
            raise Refused(404, "organise.refused_not_found")
        code = self.service.access[session_id].join_code
        qr = segno.make(f"{self.settings.base_url}/j/{code}", error="m")
        out = io.BytesIO()
        if kind == "svg":
            qr.save(out, kind="svg", scale=10, border=4, xmldecl=False, dark="#000", light="#fff")
            media_type = "image/svg+xml"
        else:
            qr.save(out, kind="png", scale=QR_SCALE, border=4, dark="#000", light="#fff")
            media_type = "image/png"
        disposition = "attachment" if request.query_params.get("download") else "inline"
        return Response(
            out.getvalue(),
            media_type=media_type,
            headers={
                "cache-control": "no-store",
                "content-disposition": f'{disposition}; filename="qr-{code}.{kind}"',
            },
        )


def _describe(key: str, value: object) -> str:
    # For the audit: "stream=off", "extra_words=3".
    if isinstance(value, bool):
        return f"{key}={'on' if value else 'off'}"
    return f"{key}={len(value) if isinstance(value, list) else value}"


def session_routes(access: OrganiserAccess, settings: Settings) -> list[BaseRoute]:
    """The routes of the organiser's session page."""
    pages = SessionPages(settings, access)
    base = "/organise/sessions/{session_id}"
    return [
        Route(base, pages.page),
        Route(base + "/settings", pages.save_settings, methods=["POST"]),
        Route(base + "/join-code", pages.new_code, methods=["POST"]),
        Route(base + "/moderator-link", pages.new_moderator_link, methods=["POST"]),
        Route(base + "/qr.{kind:str}", pages.qr),
    ]
