"""Editing the programme: forms read with the shared rules, and pure edits of the tree.

Every edit takes a `Programme` and returns a new one, or raises `FormError` with one
`RuleError` per field (nothing is changed), or `NotFound`. Ids are given (or made from
the title) when a thing is created and never change after, because links, join codes
and event logs are keyed by them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol, TypeVar

from companion.domain import programme_rules as rules
from companion.domain.errors import InvalidState, NotFound
from companion.domain.programme import (
    AgendaItem,
    Event,
    ItemKind,
    Network,
    Programme,
    Season,
    Session,
    Speaker,
    Status,
    Track,
)
from companion.domain.programme_rules import RuleError
from companion.domain.scene import Scene, ScreenMode, StreamSource, default_scene

MAX_SPEAKERS = 6  # speaker rows of the item form
EVENT_STATUSES = (Status.SCHEDULED, Status.POSTPONED, Status.DATE_TO_COME)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_HasId)
_V = TypeVar("_V")


class FormError(ValueError):
    """One or more fields are wrong; `errors` maps each field name to its rule error."""

    def __init__(self, errors: dict[str, RuleError]) -> None:
        super().__init__("; ".join(f"{k}: {e.message}" for k, e in errors.items()))
        self.errors = errors


class Form:
    """Reads a submitted form through the rules, collecting one error per field."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = fields
        self.errors: dict[str, RuleError] = {}

    def raw(self, name: str) -> str:
        value = self.fields.get(name, "")
        return value if isinstance(value, str) else ""

    def read(self, name: str, check: Callable[[str], _V]) -> _V | None:
        try:
            return check(self.raw(name))
        except RuleError as exc:
            self.errors[name] = exc
            return None

    def text(self, name: str, limit: int, required: bool = False) -> str:
        return self.read(name, lambda v: rules.text(v, limit, required)) or ""

    def new_id(self, taken: Collection[str], what: str, session: bool = False) -> str:
        """The id typed in `id`, or one made from the title when left blank."""
        if not self.raw("id").strip():
            return rules.slug(self.raw("title").strip(), taken, session)
        pattern = rules.SESSION_ID_RE if session else rules.ID_RE
        return self.read("id", lambda v: rules.ident(v, what, taken, pattern)) or ""

    def speaker(self, prefix: str) -> Speaker | None:
        name = self.text(f"{prefix}name", rules.MAX_NAME)
        title = self.text(f"{prefix}title", rules.MAX_NAME)
        organisation = self.text(f"{prefix}organisation", rules.MAX_NAME)
        if not name and (title or organisation):
            self.errors[f"{prefix}name"] = RuleError("required", "must not be empty")
        return Speaker(name, title, organisation) if name else None

    def check(self, name: str, check: Callable[[], object]) -> None:
        """A rule between fields, shown beside the field `name`."""
        if name in self.errors:
            return
        try:
            check()
        except RuleError as exc:
            self.errors[name] = exc

    def done(self) -> None:
        if self.errors:
            raise FormError(self.errors)


# -- reading forms -------------------------------------------------------------------------


def read_network(fields: Mapping[str, str], taken: Collection[str], old: Network | None) -> Network:
    """A network from its form (`taken`: the ids of the other networks)."""
    f = Form(fields)
    network = Network(
        id=old.id if old else f.new_id(taken, "network"),
        title=f.text("title", rules.MAX_TITLE, required=True),
        description=f.text("description", rules.MAX_TEXT),
        audience=f.text("audience", rules.MAX_TEXT),
        moderator=f.speaker("moderator_"),
        contact=f.text("contact", rules.MAX_NAME),
        seasons=old.seasons if old else (),
        # A form without the field (the new-network form) keeps what there was.
        retention_days=(
            f.read("retention_days", rules.retention_days)
            if "retention_days" in fields
            else (old.retention_days if old else None)
        ),
    )
    f.done()
    return network


def read_season(fields: Mapping[str, str], taken: Collection[str], old: Season | None) -> Season:
    """A season from its form."""
    f = Form(fields)
    season = Season(
        id=old.id if old else f.new_id(taken, "season"),
        title=f.text("title", rules.MAX_TITLE, required=True),
        events=old.events if old else (),
    )
    f.done()
    return season


def read_event(fields: Mapping[str, str], taken: Collection[str], old: Event | None) -> Event:
    """An event from its form; its sessions' items must still end by its end."""
    f = Form(fields)
    start = f.read("start", rules.time)
    end = f.read("end", rules.time)
    f.check("end", lambda: rules.end_after_start(start, end))
    status = f.read("status", lambda v: rules.choice(v, Status, Status.SCHEDULED))
    if status is not None and status not in EVENT_STATUSES:
        f.errors["status"] = RuleError(
            "invalid_choice",
            f"expected one of {', '.join(s.value for s in EVENT_STATUSES)}, got {status.value!r}",
            value=status.value,
        )
    date = f.read("date", rules.date)
    if (
        old is not None
        and old.status == Status.DATE_TO_COME
        and old.date is None
        and date is not None
        and status == Status.DATE_TO_COME
    ):
        status = Status.SCHEDULED  # the date has come: a copied season's meeting is set
    event = Event(
        id=old.id if old else f.new_id(taken, "event"),
        title=f.text("title", rules.MAX_TITLE, required=True),
        date=date,
        start=start,
        end=end,
        venue=f.text("venue", rules.MAX_NAME),
        status=status or Status.SCHEDULED,
        note=f.text("note", rules.MAX_TEXT),
        tracks=old.tracks if old else (),
        sessions=old.sessions if old else (),
    )
    for session in event.sessions:
        for item in session.items:
            f.check(
                "end", functools.partial(rules.item_within_event, item.start, item.minutes, end)
            )
    f.done()
    return event


def read_track(fields: Mapping[str, str], taken: Collection[str], old: Track | None) -> Track:
    """A track (theme) from its form."""
    f = Form(fields)
    track = Track(
        id=old.id if old else f.new_id(taken, "track"),
        title=f.text("title", rules.MAX_TITLE, required=True),
        description=f.text("description", rules.MAX_TEXT),
    )
    f.done()
    return track


def read_session(
    fields: Mapping[str, str], taken: Collection[str], old: Session | None, event: Event
) -> Session:
    """A session from its form (`taken`: every session id in use or ever used)."""
    f = Form(fields)
    track = f.read("track", lambda v: v.strip() or None)
    f.check("track", lambda: rules.known_track(track, (t.id for t in event.tracks)))
    session = Session(
        id=old.id if old else f.new_id(taken, "session", session=True),
        title=f.text("title", rules.MAX_TITLE, required=True),
        description=f.text("description", rules.MAX_TEXT),
        track=track,
        moderator=f.speaker("moderator_"),
        items=old.items if old else (),
        members_only=f.raw("members_only") == "on",
    )
    f.done()
    return session


def read_item(
    fields: Mapping[str, str], taken: Collection[str], old: AgendaItem | None, event: Event
) -> AgendaItem:
    """An agenda item from its form; it must end by the time its event ends."""
    f = Form(fields)
    speakers = tuple(
        s for n in range(MAX_SPEAKERS) if (s := f.speaker(f"speaker_{n}_")) is not None
    )
    item = AgendaItem(
        id=old.id if old else f.new_id(taken, "item"),
        kind=f.read("kind", lambda v: rules.choice(v, ItemKind)) or ItemKind.TALK,
        title=f.text("title", rules.MAX_TITLE, required=True),
        description=f.text("description", rules.MAX_TEXT),
        speakers=speakers,
        start=f.read("start", rules.time),
        minutes=f.read("minutes", rules.minutes),
        status=f.read("status", lambda v: rules.choice(v, Status, Status.SCHEDULED))
        or Status.SCHEDULED,
    )
    item = dataclasses.replace(item, scene=_read_scene(f, item, old))
    if item.status not in EVENT_STATUSES and "status" not in f.errors:
        f.errors["status"] = RuleError(
            "invalid_choice", f"expected scheduled, postponed or date-to-come, got {item.status}"
        )
    f.check("minutes", lambda: rules.item_within_event(item.start, item.minutes, event.end))
    f.done()
    return item


def _read_scene(f: Form, item: AgendaItem, old: AgendaItem | None) -> Scene | None:
    """The item's scene from `screen` and `stream` (blank: the default for its kind); a form
    without them keeps the scene it had, and the scene's poll is kept (set in the console)."""
    kept = old.scene if old else None
    if "screen" not in f.fields and "stream" not in f.fields:
        return kept
    screen = f.read("screen", lambda v: rules.choice(v, ScreenMode, None) if v.strip() else None)
    stream = f.read("stream", lambda v: rules.choice(v, StreamSource, None) if v.strip() else None)
    poll = kept.poll if kept else None
    if screen is None and stream is None and poll is None:
        return None
    default = default_scene(item)
    audio = kept.slate_audio if kept else default.slate_audio  # set in the console
    return Scene(screen or default.screen, stream or default.stream, poll, audio)


# -- finding and replacing in the tree ------------------------------------------------------


def _one(things: tuple[_T, ...], thing_id: str, what: str) -> _T:
    for thing in things:
        if thing.id == thing_id:
            return thing
    raise NotFound(f"No {what} {thing_id!r}.")


def put(things: tuple[_T, ...], thing: _T) -> tuple[_T, ...]:
    """Replace the thing with the same id in place, or add it at the end."""
    if any(t.id == thing.id for t in things):
        return tuple(thing if t.id == thing.id else t for t in things)
    return (*things, thing)


def drop(things: tuple[_T, ...], thing_id: str, what: str) -> tuple[_T, ...]:
    """Remove one thing by id (NotFound if absent)."""
    _one(things, thing_id, what)
    return tuple(t for t in things if t.id != thing_id)


def move(things: tuple[_T, ...], thing_id: str, offset: int, what: str) -> tuple[_T, ...]:
    """Move one thing up (-1) or down (+1); at either end it stays where it is."""
    _one(things, thing_id, what)
    index = next(i for i, t in enumerate(things) if t.id == thing_id)
    target = min(max(index + offset, 0), len(things) - 1)
    order = list(things)
    order.insert(target, order.pop(index))
    return tuple(order)


def network(p: Programme, network_id: str) -> Network:
    """A network by id, or NotFound."""
    return _one(p.networks, network_id, "network")


def season(p: Programme, network_id: str, season_id: str) -> Season:
    """A season by id, or NotFound."""
    return _one(network(p, network_id).seasons, season_id, "season")


def event(p: Programme, network_id: str, season_id: str, event_id: str) -> Event:
    """An event by id, or NotFound."""
    return _one(season(p, network_id, season_id).events, event_id, "event")


def with_network(p: Programme, network_id: str, edit: Callable[[Network], Network]) -> Programme:
    """The programme with one network edited."""
    return Programme(put(p.networks, edit(network(p, network_id))))


def with_season(
    p: Programme, network_id: str, season_id: str, edit: Callable[[Season], Season]
) -> Programme:
    """The programme with one season edited."""
    return with_network(
        p,
        network_id,
        lambda n: dataclasses.replace(n, seasons=put(n.seasons, edit(season(p, n.id, season_id)))),
    )


def with_event(
    p: Programme, network_id: str, season_id: str, event_id: str, edit: Callable[[Event], Event]
) -> Programme:
    """The programme with one event edited."""
    return with_season(
        p,
        network_id,
        season_id,
        lambda s: dataclasses.replace(
            s, events=put(s.events, edit(event(p, network_id, s.id, event_id)))
        ),
    )


def session_ids(p: Programme) -> set[str]:
    """Every session id of the programme."""
    return {row[3].id for row in p.sessions()}


def with_items(p: Programme, items: Mapping[str, tuple[AgendaItem, ...]]) -> Programme:
    """The programme with the agendas of some sessions replaced (by session id)."""

    def session(s: Session) -> Session:
        return dataclasses.replace(s, items=items[s.id]) if s.id in items else s

    def event(e: Event) -> Event:
        return dataclasses.replace(e, sessions=tuple(session(s) for s in e.sessions))

    def season(s: Season) -> Season:
        return dataclasses.replace(s, events=tuple(event(e) for e in s.events))

    return Programme(
        tuple(
            dataclasses.replace(n, seasons=tuple(season(s) for s in n.seasons)) for n in p.networks
        )
    )


# -- copying a season ----------------------------------------------------------------------


def copy_season(
    p: Programme, network_id: str, season_id: str, fields: Mapping[str, str], reserved: set[str]
) -> tuple[Programme, str, dict[str, str]]:
    """A new season with the same events, tracks, sessions and agendas, dates cleared.

    Every event of the copy is "date to come" until a date is set; its sessions get new
    ids (`reserved`: session ids in use or ever used). Returns the programme, the new
    season's id and the new session id of each copied session.
    """
    source = season(p, network_id, season_id)
    net = network(p, network_id)
    copy = read_season(fields, {s.id for s in net.seasons}, None)
    taken = set(reserved) | session_ids(p)
    new_ids: dict[str, str] = {}

    def copied_session(s: Session) -> Session:
        new_id = rules.slug(f"{copy.id}-{s.id}", taken, session=True)
        taken.add(new_id)
        new_ids[s.id] = new_id
        items = tuple(dataclasses.replace(i, status=Status.SCHEDULED) for i in s.items)
        return dataclasses.replace(s, id=new_id, items=items)

    events = tuple(
        dataclasses.replace(
            e,
            date=None,
            status=Status.DATE_TO_COME,
            note="",
            sessions=tuple(copied_session(s) for s in e.sessions),
        )
        for e in source.events
    )
    copy = dataclasses.replace(copy, events=events)
    return (
        with_network(p, network_id, lambda n: dataclasses.replace(n, seasons=(*n.seasons, copy))),
        copy.id,
        new_ids,
    )


def form_values(thing: Any) -> dict[str, str]:
    """The form fields of a programme thing, as the edit pages fill them in."""
    values: dict[str, str] = {}
    for f in dataclasses.fields(thing):
        value = getattr(thing, f.name)
        if isinstance(value, Speaker):
            prefix = "moderator_"
            values |= {
                prefix + "name": value.name,
                prefix + "title": value.title,
                prefix + "organisation": value.organisation,
            }
        elif f.name == "speakers":
            for n, s in enumerate(value):
                values |= {
                    f"speaker_{n}_name": s.name,
                    f"speaker_{n}_title": s.title,
                    f"speaker_{n}_organisation": s.organisation,
                }
        elif isinstance(value, Scene):
            values |= {"screen": value.screen.value, "stream": value.stream.value}
        elif isinstance(value, dt.time):
            values[f.name] = f"{value:%H:%M}"
        elif isinstance(value, dt.date):
            values[f.name] = value.isoformat()
        elif isinstance(value, str):
            values[f.name] = value
        elif isinstance(value, bool):
            values[f.name] = "on" if value else ""  # a checkbox
        elif isinstance(value, int):
            values[f.name] = str(value)
    return values


# -- one entry point per verb, for any level of the tree -----------------------------------

KINDS = ("network", "season", "event", "track", "session")


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """The parents of a thing: the ids above it in the tree (None where not needed)."""

    network: str | None = None
    season: str | None = None
    event: str | None = None


def children(p: Programme, kind: str, where: Where) -> tuple[Any, ...]:
    """The things of one kind under `where` (networks, seasons, events, tracks, sessions)."""
    if kind == "network":
        return p.networks
    if kind == "season":
        return network(p, str(where.network)).seasons
    if kind == "event":
        return season(p, str(where.network), str(where.season)).events
    parent = event(p, str(where.network), str(where.season), str(where.event))
    return parent.tracks if kind == "track" else parent.sessions


def with_children(p: Programme, kind: str, where: Where, things: tuple[Any, ...]) -> Programme:
    """The programme with the things of one kind under `where` replaced."""
    n, s, e = str(where.network), str(where.season), str(where.event)
    if kind == "network":
        return Programme(things)
    if kind == "season":
        return with_network(p, n, lambda x: dataclasses.replace(x, seasons=things))
    if kind == "event":
        return with_season(p, n, s, lambda x: dataclasses.replace(x, events=things))
    field = "tracks" if kind == "track" else "sessions"
    changes: dict[str, Any] = {field: things}
    return with_event(p, n, s, e, lambda x: dataclasses.replace(x, **changes))


def save(
    p: Programme,
    kind: str,
    where: Where,
    thing_id: str | None,
    fields: Mapping[str, str],
    reserved: Collection[str] = (),
) -> tuple[Programme, str]:
    """Create (`thing_id` None) or edit one thing from its form; returns its id too."""
    things = children(p, kind, where)
    old = _one(things, thing_id, kind) if thing_id is not None else None
    others = {t.id for t in things if t.id != thing_id}
    thing: Any
    if kind == "network":
        thing = read_network(fields, others, old)
    elif kind == "season":
        thing = read_season(fields, others, old)
    elif kind == "event":
        thing = read_event(fields, others, old)
    elif kind == "track":
        thing = read_track(fields, others, old)
    else:
        taken = (session_ids(p) | set(reserved)) - {thing_id}
        parent = event(p, str(where.network), str(where.season), str(where.event))
        thing = read_session(fields, taken, old, parent)
    return with_children(p, kind, where, put(things, thing)), thing.id


def remove(p: Programme, kind: str, where: Where, thing_id: str) -> Programme:
    """Delete one thing and everything under it; a track in use by a session stays."""
    things = children(p, kind, where)
    if kind == "track":
        used = [s for s in children(p, "session", where) if s.track == thing_id]
        if used:
            raise InvalidState(
                f"The session {used[0].title!r} belongs to this track.", code="in_use"
            )
    return with_children(p, kind, where, drop(things, thing_id, kind))


def reorder(p: Programme, kind: str, where: Where, thing_id: str, offset: int) -> Programme:
    """Move one thing up (-1) or down (+1) among its siblings."""
    return with_children(p, kind, where, move(children(p, kind, where), thing_id, offset, kind))
