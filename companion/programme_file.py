"""Read the YAML programme file.

The programme file is what organisers write by hand, so every mistake must be reported
with the file name, the line and the dotted path of the offending field, e.g.
``demo.yaml:42: networks[0].seasons[0].events[2].sessions[0].items[1].minutes: expected
a positive integer, got 'abc'``. Unknown keys are rejected so that a typo never passes
silently.

Shape of the file (every key not marked required may be left out)::

    networks:                          # required, a list
      - id: ledarskap                  # required
        title: Ledarskap och ...       # required
        description: ...
        audience: Nätverket riktar sig till chefer och ledare ...
        moderator: {name: Anki Udd, title: ..., organisation: Ledarna}
        contact: natverk@altinget.se
        seasons:
          - id: varen-2020             # required, unique within the network
            title: Våren 2020          # required
            events:
              - id: forandringsresa    # required, unique within the season
                title: ...             # required
                date: 2020-05-05       # YYYY-MM-DD; absent while postponed / to come
                start: "09:30"         # HH:MM (quotes optional)
                end: "12:30"           # HH:MM, after start
                venue: ...
                status: scheduled      # scheduled|live|done|postponed|date-to-come
                note: ...
                tracks:                # parallel strands of a conference
                  - {id: tema-1, title: ..., description: ...}
                sessions:
                  - id: ledarskap-2020-05-05  # ^[a-z0-9][a-z0-9-]{1,62}$, unique in file
                    title: ...                # required
                    description: ...
                    track: tema-1             # id of a track of the same event
                    moderator: {name: ...}
                    members_only: true        # from afar only the network's members
                    items:
                      - id: valkommen         # required, unique within the session
                        kind: talk            # required: talk|dialogue|break|discussion
                        title: Välkommen      # required
                        description: ...
                        speakers: [{name: ..., title: ..., organisation: ...}]
                        start: "09:30"        # HH:MM
                        minutes: 10           # positive integer
                        status: scheduled     # as for events

Other ids (network, season, event, track, item) are letters, digits, ``-``, ``_`` and
``.``. Text values are kept exactly as written, only stripped of surrounding whitespace;
paragraphs inside a description are separated by a newline.

Storing a programme is `companion.domain.programme_codec`'s concern: its data has the
same shape as this file, so stored data also parses back with `parse_programme`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from companion.domain import programme_rules as rules
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
from companion.domain.programme_rules import ID_RE, SESSION_ID_RE, RuleError
from companion.domain.scene import Scene, ScreenMode, SlateAudio, StreamSource

_NULL_TAG = "tag:yaml.org,2002:null"

_ROOT_KEYS = ("networks",)
_NETWORK_KEYS = (
    "id",
    "title",
    "description",
    "audience",
    "moderator",
    "contact",
    "retention_days",
    "seasons",
)
_SEASON_KEYS = ("id", "title", "events")
_EVENT_KEYS = (
    "id",
    "title",
    "date",
    "start",
    "end",
    "venue",
    "status",
    "note",
    "tracks",
    "sessions",
)
_TRACK_KEYS = ("id", "title", "description")
_SESSION_KEYS = ("id", "title", "description", "track", "moderator", "members_only", "items")
_ITEM_KEYS = (
    "id",
    "kind",
    "title",
    "description",
    "speakers",
    "start",
    "minutes",
    "status",
    "scene",
)
_SCENE_KEYS = ("screen", "stream", "poll", "slate_audio")
_SPEAKER_KEYS = ("name", "title", "organisation")

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


class ProgrammeError(ValueError):
    """The programme file is invalid; says where (file, line, field) and why."""

    def __init__(self, filename: str, line: int, field: str, message: str) -> None:
        self.filename = filename
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}: "
        return f"{where}{self.field}: {self.message}" if self.field else where + self.message


# --------------------------------------------------------------------------- parsing


def parse_programme(text: str, filename: str) -> Programme:
    """Parse and validate a YAML programme; raise ProgrammeError on the first problem.

    `filename` is only used in error messages; nothing is read from disk.
    """
    try:
        # compose() rather than load(): the node tree keeps line numbers for error messages
        # and the raw text of scalars, so "12:30" is not read as a base-60 integer (750),
        # "yes" stays a string and a date stays exactly as written until we check it.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        parts = [part for part in (exc.context, exc.problem) if part]
        raise ProgrammeError(filename, line, "", "invalid YAML: " + ", ".join(parts)) from exc
    except yaml.YAMLError as exc:
        # Reader errors (e.g. control characters) carry a character position only.
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        first_line = str(exc).splitlines()[0]  # drop the "in <unicode string>" tail
        raise ProgrammeError(filename, line, "", f"invalid YAML: {first_line}") from exc
    if root is None:
        raise ProgrammeError(filename, 1, "networks", "the file is empty")
    return _Parser(filename).programme(root)


@dataclass(frozen=True, slots=True)
class _Map:
    """A checked YAML mapping: its node, its dotted path and its value nodes by key."""

    node: MappingNode
    path: str
    values: dict[str, Node]

    def at(self, key: str) -> str:
        """The dotted path of one of this mapping's fields."""
        return f"{self.path}.{key}" if self.path else key


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _describe(node: Node) -> str:
    """How a wrong value is shown in a message."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node):
        return "nothing"
    return repr(node.value)


class _Parser:
    """Walks the composed node tree; holds the file-wide state (ids seen so far)."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.network_ids: dict[str, int] = {}
        self.session_ids: dict[str, int] = {}

    # ---- generic helpers

    def error(self, node: Node, field: str, message: str) -> ProgrammeError:
        return ProgrammeError(self.filename, node.start_mark.line + 1, field, message)

    def mapping(self, node: Node, path: str, keys: tuple[str, ...]) -> _Map:
        if not isinstance(node, MappingNode):
            raise self.error(node, path, f"expected a mapping, got {_describe(node)}")
        values: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, path, "keys must be plain names")
            key = key_node.value
            field = f"{path}.{key}" if path else key
            if key not in keys:
                hint = difflib.get_close_matches(key, keys, n=1)
                message = f"unknown key {key!r}; " + (
                    f"did you mean {hint[0]!r}?" if hint else f"expected one of: {', '.join(keys)}"
                )
                raise self.error(key_node, field, message)
            if key in values:
                line = values[key].start_mark.line + 1
                raise self.error(key_node, field, f"duplicate key (already given at line {line})")
            values[key] = value_node
        return _Map(node, path, values)

    def value(self, m: _Map, key: str, required: bool) -> Node | None:
        """The value node of `key`, or None when absent or null (an error if required)."""
        node = m.values.get(key)
        if node is None or _is_null(node):
            if required:
                where = node if node is not None else m.node
                raise self.error(where, m.at(key), "required field is missing")
            return None
        return node

    def scalar(self, m: _Map, key: str, what: str, required: bool = False) -> str | None:
        """The stripped raw text of a scalar field, or None when absent."""
        node = self.value(m, key, required)
        if node is None:
            return None
        if not isinstance(node, ScalarNode):
            raise self.error(node, m.at(key), f"expected {what}, got {_describe(node)}")
        text: str = node.value.strip()
        if required and not text:
            raise self.error(node, m.at(key), "must not be empty")
        return text

    def rule(self, m: _Map, key: str, check: Callable[[str], _T], what: str) -> _T | None:
        """Apply a shared value rule to a scalar field; None when the field is absent."""
        value = self.scalar(m, key, what)
        if value is None:
            return None
        try:
            return check(value)
        except RuleError as exc:
            raise self.error(m.values[key], m.at(key), exc.message) from None

    def flag(self, m: _Map, key: str) -> bool:
        """A yes/no field (YAML true/false); absent is false."""
        value = self.scalar(m, key, "true or false")
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise self.error(m.values[key], m.at(key), "must be true or false")
        return value.lower() == "true"

    def text(self, m: _Map, key: str, limit: int, required: bool = False) -> str:
        self.scalar(m, key, "text", required)  # shape and presence first
        return self.rule(m, key, lambda v: rules.text(v, limit, required), "text") or ""

    def ident(
        self, m: _Map, key: str, seen: dict[str, int], what: str, pattern: re.Pattern[str] = ID_RE
    ) -> str:
        """A required id matching `pattern`, not already in `seen` (which it is added to)."""
        self.scalar(m, key, "an id", required=True)
        node = m.values[key]  # present: scalar() raised otherwise
        try:
            value = rules.ident(node.value, what, seen, pattern)
        except RuleError as exc:
            line = seen.get(str(exc.params.get("value", "")))
            where = f" (already used at line {line})" if exc.code == "duplicate_id" else ""
            raise self.error(node, m.at(key), exc.message + where) from None
        seen[value] = node.start_mark.line + 1
        return value

    def sequence(self, m: _Map, key: str) -> list[tuple[Node, str]]:
        """The elements of a list field with their paths; an absent list is empty."""
        node = self.value(m, key, required=False)
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(node, m.at(key), f"expected a list, got {_describe(node)}")
        return [(child, f"{m.at(key)}[{i}]") for i, child in enumerate(node.value)]

    def enum(self, m: _Map, key: str, enum: type[_E], default: _E | None = None) -> _E:
        """An enum value; required when there is no default."""
        self.scalar(m, key, "a name", required=default is None)
        found = self.rule(m, key, lambda v: rules.choice(v, enum, default), "a name")
        if found is None:
            assert default is not None  # scalar() raised otherwise
            return default
        return found

    def date(self, m: _Map, key: str) -> dt.date | None:
        return self.rule(m, key, rules.date, "a date YYYY-MM-DD")

    def time(self, m: _Map, key: str) -> dt.time | None:
        return self.rule(m, key, rules.time, "a time HH:MM")

    def minutes(self, m: _Map, key: str) -> int | None:
        return self.rule(m, key, rules.minutes, "a positive integer")

    def check(self, m: _Map, key: str, check: Callable[[], object]) -> None:
        """Apply a rule between fields, blaming the field `key`."""
        try:
            check()
        except RuleError as exc:
            raise self.error(m.values.get(key, m.node), m.at(key), exc.message) from None

    def speaker(self, node: Node, path: str) -> Speaker:
        m = self.mapping(node, path, _SPEAKER_KEYS)
        return Speaker(
            name=self.text(m, "name", rules.MAX_NAME, required=True),
            title=self.text(m, "title", rules.MAX_NAME),
            organisation=self.text(m, "organisation", rules.MAX_NAME),
        )

    def optional_speaker(self, m: _Map, key: str) -> Speaker | None:
        node = self.value(m, key, required=False)
        return None if node is None else self.speaker(node, m.at(key))

    def optional_scene(self, m: _Map, key: str) -> Scene | None:
        node = self.value(m, key, required=False)
        if node is None:
            return None
        scene = self.mapping(node, m.at(key), _SCENE_KEYS)
        return Scene(
            screen=self.enum(scene, "screen", ScreenMode, ScreenMode.QR),
            stream=self.enum(scene, "stream", StreamSource, StreamSource.CAMERA),
            poll=self.rule(scene, "poll", rules.poll_id, "a poll id"),
            slate_audio=self.enum(scene, "slate_audio", SlateAudio, SlateAudio.MUTED),
        )

    # ---- the levels of the file, outermost first

    def programme(self, root: Node) -> Programme:
        m = self.mapping(root, "", _ROOT_KEYS)
        if "networks" not in m.values:
            raise self.error(root, "networks", "required field is missing")
        return Programme(
            networks=tuple(self.network(node, path) for node, path in self.sequence(m, "networks"))
        )

    def network(self, node: Node, path: str) -> Network:
        m = self.mapping(node, path, _NETWORK_KEYS)
        season_ids: dict[str, int] = {}
        return Network(
            id=self.ident(m, "id", self.network_ids, "network"),
            title=self.text(m, "title", rules.MAX_TITLE, required=True),
            description=self.text(m, "description", rules.MAX_TEXT),
            audience=self.text(m, "audience", rules.MAX_TEXT),
            moderator=self.optional_speaker(m, "moderator"),
            contact=self.text(m, "contact", rules.MAX_NAME),
            retention_days=self.rule(
                m, "retention_days", rules.retention_days, "a whole number of days"
            ),
            seasons=tuple(
                self.season(child, child_path, season_ids)
                for child, child_path in self.sequence(m, "seasons")
            ),
        )

    def season(self, node: Node, path: str, season_ids: dict[str, int]) -> Season:
        m = self.mapping(node, path, _SEASON_KEYS)
        event_ids: dict[str, int] = {}
        return Season(
            id=self.ident(m, "id", season_ids, "season"),
            title=self.text(m, "title", rules.MAX_TITLE, required=True),
            events=tuple(
                self.event(child, child_path, event_ids)
                for child, child_path in self.sequence(m, "events")
            ),
        )

    def event(self, node: Node, path: str, event_ids: dict[str, int]) -> Event:
        m = self.mapping(node, path, _EVENT_KEYS)
        event_id = self.ident(m, "id", event_ids, "event")
        title = self.text(m, "title", rules.MAX_TITLE, required=True)
        date = self.date(m, "date")
        start = self.time(m, "start")
        end = self.time(m, "end")
        self.check(m, "end", lambda: rules.end_after_start(start, end))
        track_ids: dict[str, int] = {}
        tracks = tuple(
            self.track(child, child_path, track_ids)
            for child, child_path in self.sequence(m, "tracks")
        )
        return Event(
            id=event_id,
            title=title,
            date=date,
            start=start,
            end=end,
            venue=self.text(m, "venue", rules.MAX_NAME),
            status=self.enum(m, "status", Status, Status.SCHEDULED),
            note=self.text(m, "note", rules.MAX_TEXT),
            tracks=tracks,
            sessions=tuple(
                self.session(child, child_path, track_ids, end)
                for child, child_path in self.sequence(m, "sessions")
            ),
        )

    def track(self, node: Node, path: str, track_ids: dict[str, int]) -> Track:
        m = self.mapping(node, path, _TRACK_KEYS)
        return Track(
            id=self.ident(m, "id", track_ids, "track"),
            title=self.text(m, "title", rules.MAX_TITLE, required=True),
            description=self.text(m, "description", rules.MAX_TEXT),
        )

    def session(
        self, node: Node, path: str, track_ids: dict[str, int], event_end: dt.time | None
    ) -> Session:
        m = self.mapping(node, path, _SESSION_KEYS)
        session_id = self.ident(m, "id", self.session_ids, "session", SESSION_ID_RE)
        title = self.text(m, "title", rules.MAX_TITLE, required=True)
        description = self.text(m, "description", rules.MAX_TEXT)
        track = self.scalar(m, "track", "a track id") or None
        self.check(m, "track", lambda: rules.known_track(track, track_ids))
        item_ids: dict[str, int] = {}
        return Session(
            id=session_id,
            title=title,
            description=description,
            track=track,
            moderator=self.optional_speaker(m, "moderator"),
            items=tuple(
                self.item(child, child_path, item_ids, event_end)
                for child, child_path in self.sequence(m, "items")
            ),
            members_only=self.flag(m, "members_only"),
        )

    def item(
        self, node: Node, path: str, item_ids: dict[str, int], event_end: dt.time | None
    ) -> AgendaItem:
        m = self.mapping(node, path, _ITEM_KEYS)
        item = AgendaItem(
            id=self.ident(m, "id", item_ids, "item"),
            kind=self.enum(m, "kind", ItemKind),
            title=self.text(m, "title", rules.MAX_TITLE, required=True),
            description=self.text(m, "description", rules.MAX_TEXT),
            speakers=tuple(
                self.speaker(child, child_path)
                for child, child_path in self.sequence(m, "speakers")
            ),
            start=self.time(m, "start"),
            minutes=self.minutes(m, "minutes"),
            status=self.enum(m, "status", Status, Status.SCHEDULED),
            scene=self.optional_scene(m, "scene"),
        )
        self.check(
            m, "minutes", lambda: rules.item_within_event(item.start, item.minutes, event_end)
        )
        return item
