"""The programme editor (`/organise/networks/…`): networks → seasons → events → tracks and
sessions → agenda items. Transport only: the rules are in `companion.domain.programme_rules`
and `programme_edits`, the changes in `companion.services.programme`, and who may do what
in `companion.web.organiser_auth` (every route, GET and POST, checks the membership of the
network its path names; POSTs also the origin and the CSRF token).

Every page is a plain form (no script needed): save, add, move up/down by buttons, delete
after a confirmation page. A refused value re-renders the page with the error beside its
field and nothing saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.domain import programme_edits as edits
from companion.domain.errors import DomainError, NotFound
from companion.domain.programme import Event as ProgrammeEvent
from companion.domain.programme import ItemKind, Network, Season, Session
from companion.domain.programme_edits import FormError, Where
from companion.domain.programme_rules import MAX_NAME, MAX_TEXT, MAX_TITLE, RuleError
from companion.domain.scene import ScreenMode, StreamSource
from companion.services.programme import ProgrammeService
from companion.web.dates import clock
from companion.web.i18n import catalogue, translator
from companion.web.organiser_auth import OrganiserAccess, Refused

ROOT = "/organise/networks"
# The path of each level, below ROOT, and the kinds of things listed on its page.
LEVELS: dict[str, str] = {
    "network": "/{network}/programme",
    "season": "/{network}/seasons/{season}",
    "event": "/{network}/seasons/{season}/events/{event}",
    "track": "/{network}/seasons/{season}/events/{event}/tracks/{track}",
    "session": "/{network}/seasons/{season}/events/{event}/sessions/{session}",
    "item": "/{network}/seasons/{season}/events/{event}/sessions/{session}/items/{item}",
}
CHILDREN: dict[str, tuple[str, ...]] = {
    "network": ("season",),
    "season": ("event",),
    "event": ("session", "track"),
    "session": ("item",),
    "track": (),
    "item": (),
}
LIMITS = {"title": MAX_TITLE, "name": MAX_NAME, "text": MAX_TEXT}


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request is in the programme: the things its path names (all checked)."""

    level: str
    network: Network
    season: Season | None = None
    event: ProgrammeEvent | None = None
    session: Session | None = None
    thing: Any = None  # the object of this level

    @property
    def where(self) -> Where:
        """The parents of this level's children."""
        return Where(
            self.network.id,
            self.season.id if self.season else None,
            self.event.id if self.event else None,
        )

    def url(self, level: str | None = None, **ids: str) -> str:
        """The page of a level, from this place's ids and any given."""
        known = {
            "network": self.network.id,
            "season": self.season.id if self.season else "",
            "event": self.event.id if self.event else "",
            "session": self.session.id if self.session else "",
            "track": "",
            "item": "",
        } | ids
        if (level or self.level) in ("track", "item") and not ids:
            known[self.level] = self.thing.id
        quoted = {k: quote(v, safe="") for k, v in known.items()}
        return ROOT + LEVELS[level or self.level].format(**quoted)


class ProgrammePages:
    """Request handlers of the editor."""

    def __init__(self, access: OrganiserAccess, programme: ProgrammeService) -> None:
        self.access = access
        self.programme = programme
        self.sessions = programme.sessions

    # -- finding where we are ------------------------------------------------------------
    def place(self, request: Request, level: str) -> Place:
        """The things the path names, each inside the one before; Refused(404) otherwise."""
        p = request.path_params
        prog = self.sessions.programme
        try:
            network = edits.network(prog, p["network"])
            if level == "network":
                return Place(level, network, thing=network)
            season = edits.season(prog, network.id, p["season"])
            if level == "season":
                return Place(level, network, season, thing=season)
            event = edits.event(prog, network.id, season.id, p["event"])
            if level == "event":
                return Place(level, network, season, event, thing=event)
            if level == "track":
                track = next((t for t in event.tracks if t.id == p["track"]), None)
                if track is None:
                    raise NotFound("No such track.")
                return Place(level, network, season, event, thing=track)
            session = next((s for s in event.sessions if s.id == p["session"]), None)
            if session is None:
                raise NotFound("No such session.")
            if level == "session":
                return Place(level, network, season, event, session, thing=session)
            item = next((i for i in session.items if i.id == p["item"]), None)
            if item is None:
                raise NotFound("No such item.")
            return Place(level, network, season, event, session, thing=item)
        except NotFound:
            raise Refused(404, "organise.refused_not_found") from None

    async def _guard(self, request: Request, level: str) -> tuple[str, Place]:
        """The organiser (a member of the path's network) and the place; Refused otherwise."""
        who = await self.access.require_network_member(request, request.path_params["network"])
        return who.email, self.place(request, level)

    # -- rendering -----------------------------------------------------------------------
    async def _page(
        self,
        request: Request,
        place: Place,
        status: int = 200,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        add_kind: str | None = None,
        add_values: Mapping[str, str] | None = None,
        add_errors: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> Response:
        lang = self.access.pages._lang(request)
        t = translator(lang)
        state = self.sessions.states.get(place.session.id) if place.session else None
        tracks = place.event.tracks if place.event else ()
        return await self.access.render(
            request,
            f"organise/programme_{place.level}.html",
            status,
            place=place,
            network=place.network,
            values=values if values is not None else edits.form_values(place.thing),
            errors=errors or {},
            add_kind=add_kind,
            add_values=add_values or {},
            add_errors=add_errors or {},
            message=message,
            statuses=state.agenda.statuses if state else {},
            current=state.agenda.current if state else None,
            clock=lambda time: clock(time, lang),
            status_options=[(s.value, t(f"common.status_{s.value}")) for s in edits.EVENT_STATUSES],
            kind_options=[(k.value, t(f"common.kind_{k.value}")) for k in ItemKind],
            # A scene's screen and stream; blank: the default for the item's kind.
            screen_options=[
                ("", t("scene.by_kind")),
                *((m.value, t(f"scene.screen_{m.value}")) for m in ScreenMode),
            ],
            stream_options=[
                ("", t("scene.by_kind")),
                *((m.value, t(f"scene.stream_{m.value}")) for m in StreamSource),
            ],
            track_options=[("", t("programme.no_track")), *((x.id, x.title) for x in tracks)],
            retention_default=self.access.settings.retention_days,
            limits=LIMITS,
            max_speakers=edits.MAX_SPEAKERS,
            saved=request.query_params.get("saved") == "1",
        )

    def _errors(self, request: Request, exc: FormError) -> dict[str, str]:
        lang = self.access.pages._lang(request)
        return {name: rule_message(lang, err) for name, err in exc.errors.items()}

    # -- pages ---------------------------------------------------------------------------
    async def new_network(self, request: Request) -> Response:
        """The form for a new network (GET) and creating it (POST); the creator joins it."""
        organiser = await self.access.require_organiser(request)
        if request.method == "GET":
            return await self.access.render(
                request, "organise/programme_new_network.html", values={}, errors={}, limits=LIMITS
            )
        fields = await self.access.form(request)
        try:
            network_id = await self.programme.save(
                organiser.email, "network", Where(), None, fields
            )
        except FormError as exc:
            return await self.access.render(
                request,
                "organise/programme_new_network.html",
                400,
                values=fields,
                errors=self._errors(request, exc),
                limits=LIMITS,
            )
        await self.access.organisers.add_member(network_id, organiser, organiser.email)
        await self.access.audit(request, network_id, "network.create", network_id)
        return self.access.redirect(f"{ROOT}/{quote(network_id, safe='')}/programme")

    def handlers(self, level: str) -> list[BaseRoute]:
        """The routes of one level: its page, add, move and delete."""
        path = ROOT + LEVELS[level]

        async def page(request: Request) -> Response:
            who, place = await self._guard(request, level)
            if request.method == "GET":
                return await self._page(request, place)
            fields = await self.access.form(request)
            try:
                await self._save(who, place, fields)
            except FormError as exc:
                return await self._page(request, place, 400, fields, self._errors(request, exc))
            except DomainError as exc:
                return await self._page(request, place, 409, fields, message=domain_key(exc))
            await self.access.audit(request, place.network.id, f"{level}.edit", place.thing.id)
            return self.access.redirect(place.url() + "?saved=1")

        async def add(request: Request) -> Response:
            who, place = await self._guard(request, level)
            fields = await self.access.form(request)
            kind = fields.get("what", "")
            if kind not in CHILDREN[level]:
                raise Refused(400, "organise.refused_bad_form")
            try:
                new_id = await self._add(who, place, kind, fields)
            except FormError as exc:
                return await self._page(
                    request,
                    place,
                    400,
                    add_kind=kind,
                    add_values=fields,
                    add_errors=self._errors(request, exc),
                )
            except DomainError as exc:
                return await self._page(request, place, 409, message=domain_key(exc))
            await self.access.audit(request, place.network.id, f"{kind}.create", new_id)
            return self.access.redirect(place.url() + f"?added={quote(new_id)}#{kind}s")

        async def move(request: Request) -> Response:
            who, place = await self._guard(request, level)
            fields = await self.access.form(request)
            kind, thing_id = fields.get("what", ""), fields.get("id", "")
            offset = {"-1": -1, "1": 1}.get(fields.get("offset", ""))
            if kind not in CHILDREN[level] or offset is None:
                raise Refused(400, "organise.refused_bad_form")
            try:
                if kind == "item":
                    assert place.session is not None
                    await self.programme.move_item(who, place.session.id, thing_id, offset)
                else:
                    await self.programme.reorder(who, kind, place.where, thing_id, offset)
            except NotFound:
                raise Refused(404, "organise.refused_not_found") from None
            except DomainError as exc:
                if exc.code != "no_change":
                    return await self._page(request, place, 409, message=domain_key(exc))
            await self.access.audit(request, place.network.id, f"{kind}.move", thing_id)
            # Back to the same row, with the same button focused (organise.js), so moving
            # by keyboard is one key press per step.
            moved = f"?moved={offset}#{kind}-{quote(thing_id)}"
            return self.access.redirect(place.url() + moved)

        async def delete(request: Request) -> Response:
            who, place = await self._guard(request, level)
            source = request.query_params if request.method == "GET" else None
            fields = dict(source) if source is not None else await self.access.form(request)
            kind, thing_id = fields.get("what", ""), fields.get("id", "")
            if kind not in CHILDREN[level]:
                raise Refused(400, "organise.refused_bad_form")
            children = self._children(place, kind)
            thing = next((c for c in children if c.id == thing_id), None)
            if thing is None:
                raise Refused(404, "organise.refused_not_found")
            if request.method == "GET":
                return await self.access.render(
                    request,
                    "organise/programme_confirm.html",
                    place=place,
                    kind=kind,
                    thing=thing,
                    action=place.url() + "/delete",
                )
            try:
                if kind == "item":
                    assert place.session is not None
                    await self.programme.remove_item(who, place.session.id, thing_id)
                else:
                    await self.programme.remove(who, kind, place.where, thing_id)
            except DomainError as exc:
                return await self._page(request, place, 409, message=domain_key(exc))
            await self.access.audit(request, place.network.id, f"{kind}.delete", thing_id)
            return self.access.redirect(place.url() + f"#{kind}s")

        return [
            Route(path, page, methods=["GET", "POST"]),
            Route(path + "/add", add, methods=["POST"]),
            Route(path + "/move", move, methods=["POST"]),
            Route(path + "/delete", delete, methods=["GET", "POST"]),
        ]

    async def copy(self, request: Request) -> Response:
        """Copy a season: same events, tracks, sessions and agendas; dates to come."""
        who, place = await self._guard(request, "season")
        fields = await self.access.form(request)
        assert place.season is not None
        try:
            mapping = await self.programme.copy_season(
                who, place.network.id, place.season.id, fields
            )
        except FormError as exc:
            return await self._page(
                request,
                place,
                400,
                add_kind="copy",
                add_values=fields,
                add_errors=self._errors(request, exc),
            )
        except DomainError as exc:
            return await self._page(request, place, 409, message=domain_key(exc))
        season_id, _ = mapping
        await self.access.audit(
            request, place.network.id, "season.copy", f"{place.season.id} → {season_id}"
        )
        return self.access.redirect(place.url("season", season=season_id))

    # -- the changes ---------------------------------------------------------------------
    def _children(self, place: Place, kind: str) -> tuple[Any, ...]:
        if kind == "item":
            assert place.session is not None
            return place.session.items
        return edits.children(self.sessions.programme, kind, place.where)

    async def _save(self, who: str, place: Place, fields: Mapping[str, str]) -> None:
        if place.level == "item":
            assert place.session is not None
            await self.programme.save_item(who, place.session.id, place.thing.id, fields)
            return
        parent = _parent_where(place)
        await self.programme.save(who, place.level, parent, place.thing.id, fields)

    async def _add(self, who: str, place: Place, kind: str, fields: Mapping[str, str]) -> str:
        if kind == "item":
            assert place.session is not None
            outcome = await self.programme.save_item(who, place.session.id, None, fields)
            return str(outcome.event.data["items"][-1]["id"]) if outcome else ""
        return await self.programme.save(who, kind, place.where, None, fields)

    def routes(self) -> list[BaseRoute]:
        """Every route of the editor."""
        routes: list[BaseRoute] = [
            Route(ROOT + "/new", self.new_network, methods=["GET", "POST"]),
            Route(ROOT + LEVELS["season"] + "/copy", self.copy, methods=["POST"]),
        ]
        for level in LEVELS:
            routes += self.handlers(level)
        return routes


def _parent_where(place: Place) -> Where:
    """The parents of the thing of this level (for saving it)."""
    n = place.network.id
    s = place.season.id if place.season else None
    e = place.event.id if place.event else None
    return {
        "network": Where(),
        "season": Where(n),
        "event": Where(n, s),
        "track": Where(n, s, e),
        "session": Where(n, s, e),
    }[place.level]


def rule_message(lang: str, err: RuleError) -> str:
    """A rule error in the page's language, with its values filled in (09.30 in Swedish)."""
    params = dict(err.params)
    if lang == "sv":
        for name in ("start", "end", "event_end"):
            value = params.get(name)
            if isinstance(value, str):
                params[name] = value.replace(":", ".")
    return str(translator(lang)(f"programme.rule_{err.code}", **params))


def domain_key(exc: DomainError) -> str:
    """The catalogue key of a refused change (a general one for codes it does not name)."""
    key = f"programme.error_{exc.code}"
    return key if key in catalogue("en") else "programme.error_generic"


def programme_routes(access: OrganiserAccess, programme: ProgrammeService) -> list[BaseRoute]:
    """The routes of the programme editor."""
    return ProgrammePages(access, programme).routes()
