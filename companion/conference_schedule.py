"""Read a conference schedule as conference tools publish it, and lay it into one event.

Two formats of the same model (the c3voc schedule format, https://c3voc.de/wiki/schedule),
as pretalx and frab export them:

- ``schedule.json``: ``{"schedule": {"conference": {"title", "time_zone_name", "days":
  [{"date", "rooms": {"<room>": [<talk>, ...]}}]}}}``;
- ``schedule.xml``: ``<schedule><conference>…</conference><day date="…"><room name="…">
  <event id="…" guid="…">…</event></room></day></schedule>``, read with defusedxml, so a
  file with a DTD or entities (an XML bomb) is refused before anything is expanded.

A talk has ``date`` (ISO 8601 with its offset, e.g. ``2019-01-10T09:30:00+01:00``) or
``start`` (``HH:MM`` on its day, in the conference's time zone), ``duration`` (``HH:MM``),
``title``, ``subtitle``, ``track``, ``type``, ``abstract``, ``description`` and
``persons`` (``public_name`` or ``name``; in XML the text of ``<person>``).

Into an event (one conference day) it goes like this: each room of the day is a session
(one room's programme in the slot, with its own stream and questions; id
``<event>-<room>``), each talk an agenda item of that session (id ``talk-<id>``, so a
re-imported schedule updates the same items), each track a track of the event (a room's
track is its talks' most common one), the event's day and times those of the schedule.
Times become Europe/Stockholm wall-clock times, the programme's.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from companion.domain import programme_rules as rules
from companion.domain.programme import AgendaItem, Event, ItemKind, Session, Speaker, Track
from companion.domain.programme_rules import SESSION_ID_RE, RuleError

TIME_ZONE = "Europe/Stockholm"
BREAKS = {"break", "pause", "paus", "fika", "lunch", "lunchpaus", "coffee"}
DISCUSSIONS = {"discussion", "diskussion", "panel", "workshop", "samtal"}
_T = TypeVar("_T")


class ScheduleError(ValueError):
    """The schedule cannot be read or laid out; says where (file, path) and why."""

    def __init__(self, filename: str, where: str, message: str) -> None:
        self.filename = filename
        self.where = where
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.filename}: {self.where}: {self.message}"
            if self.where
            else (f"{self.filename}: {self.message}")
        )


@dataclass(frozen=True, slots=True)
class Talk:
    """One talk of the schedule, times with their offset."""

    id: str
    where: str  # path in the file, for messages
    start: dt.datetime
    minutes: int
    title: str
    description: str
    track: str
    kind: ItemKind
    speakers: tuple[Speaker, ...]


@dataclass(frozen=True, slots=True)
class Day:
    """One day: its rooms in the file's order, each with its talks."""

    date: dt.date
    rooms: tuple[tuple[str, tuple[Talk, ...]], ...]


@dataclass(frozen=True, slots=True)
class ConferenceSchedule:
    """What was read from the file."""

    filename: str
    title: str
    days: tuple[Day, ...]


# ------------------------------------------------------------------------------ reading


def parse_schedule(text: str, filename: str) -> ConferenceSchedule:
    """A `schedule.json` or `schedule.xml` (told apart by its first character)."""
    start = text.lstrip()[:1]
    if start == "{":
        return _JsonReader(filename).read(text)
    if start == "<":
        return _XmlReader(filename).read(text)
    raise ScheduleError(filename, "", "not a schedule.json or schedule.xml (JSON or XML)")


class _Reader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.zone: Any = None

    def error(self, where: str, message: str) -> ScheduleError:
        return ScheduleError(self.filename, where, message)

    def checked(self, where: str, check: Callable[[], _T]) -> _T:
        try:
            return check()
        except RuleError as exc:
            raise self.error(where, exc.message) from None

    def zone_named(self, name: str) -> None:
        try:
            self.zone = ZoneInfo(name or TIME_ZONE)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error("time_zone_name", f"unknown time zone {name!r}") from None

    def day_date(self, value: str, where: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise self.error(where, f"expected a date YYYY-MM-DD, got {value!r}") from None

    def talk(self, where: str, day: dt.date, fields: dict[str, Any]) -> Talk:
        """A talk from its fields (strings, persons a list of names)."""
        talk_id = str(fields.get("id") or fields.get("guid") or "").strip()
        if not talk_id:
            raise self.error(where, "a talk needs an id or a guid")
        start = self.start(where, day, fields.get("date"), fields.get("start"))
        minutes = self.duration(f"{where}.duration", fields.get("duration"))
        title = self.checked(
            f"{where}.title", lambda: rules.text(fields.get("title"), rules.MAX_TITLE, True)
        )
        subtitle = (fields.get("subtitle") or "").strip()
        if subtitle and len(title) + len(subtitle) + 2 <= rules.MAX_TITLE:
            title = f"{title}: {subtitle}"
        parts = [str(fields.get(k) or "").strip() for k in ("abstract", "description")]
        description = "\n".join(p for p in dict.fromkeys(parts) if p)
        description = self.checked(
            f"{where}.description", lambda: rules.text(description, rules.MAX_TEXT)
        )
        kind_name = str(fields.get("type") or "").strip().lower()
        kind = (
            ItemKind.BREAK
            if kind_name in BREAKS
            else ItemKind.DISCUSSION
            if kind_name in DISCUSSIONS
            else ItemKind.TALK
        )
        names: list[str] = [n for n in fields.get("persons") or () if n.strip()]
        speakers = tuple(Speaker(self.name(f"{where}.persons", n)) for n in names)
        track = self.checked(
            f"{where}.track", lambda: rules.text(fields.get("track"), rules.MAX_TITLE)
        )
        return Talk(talk_id, where, start, minutes, title, description, track, kind, speakers)

    def name(self, where: str, name: str) -> str:
        return self.checked(where, lambda: rules.text(name, rules.MAX_NAME))

    def start(self, where: str, day: dt.date, date: Any, start: Any) -> dt.datetime:
        if isinstance(date, str) and date.strip():
            try:
                at = dt.datetime.fromisoformat(date.strip())
            except ValueError:
                raise self.error(f"{where}.date", f"expected ISO 8601, got {date!r}") from None
            return at if at.tzinfo is not None else at.replace(tzinfo=self.zone)
        if isinstance(start, str) and start.strip():
            clock = self.checked(f"{where}.start", lambda: rules.time(start.strip()[:5]))
            assert clock is not None
            return dt.datetime.combine(day, clock, self.zone)
        raise self.error(where, "a talk needs a date or a start")

    def duration(self, where: str, value: Any) -> int:
        text = str(value or "").strip()
        found = re.fullmatch(r"(\d{1,2}):([0-5]\d)(?::[0-5]\d)?", text)
        if not found:
            raise self.error(where, f"expected a duration HH:MM, got {text!r}")
        minutes = int(found.group(1)) * 60 + int(found.group(2))
        return self.checked(where, lambda: rules.minutes(str(minutes))) or 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class _JsonReader(_Reader):
    def read(self, text: str) -> ConferenceSchedule:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
        schedule = self.mapping(data, "", "schedule")
        conference = self.mapping(schedule, "schedule", "conference")
        self.zone_named(_text(conference.get("time_zone_name")))
        days_data = conference.get("days")
        if not isinstance(days_data, list) or not days_data:
            raise self.error("schedule.conference.days", "expected a list of days")
        days = []
        for i, day in enumerate(days_data):
            where = f"schedule.conference.days[{i}]"
            if not isinstance(day, dict):
                raise self.error(where, "expected a mapping")
            date = self.day_date(_text(day.get("date")), f"{where}.date")
            rooms_data = day.get("rooms")
            if not isinstance(rooms_data, dict):
                raise self.error(f"{where}.rooms", "expected a mapping of room names to talks")
            rooms = []
            for room, talks in rooms_data.items():
                room_where = f"{where}.rooms[{room!r}]"
                if not isinstance(talks, list):
                    raise self.error(room_where, "expected a list of talks")
                read = []
                for n, talk in enumerate(talks):
                    if not isinstance(talk, dict):
                        raise self.error(f"{room_where}[{n}]", "expected a mapping")
                    persons = talk.get("persons") or []
                    if not isinstance(persons, list):
                        raise self.error(f"{room_where}[{n}].persons", "expected a list")
                    fields: dict[str, Any] = {
                        k: _text(v) for k, v in talk.items() if k != "persons"
                    }
                    fields["persons"] = [
                        _text(p.get("public_name") or p.get("name")) if isinstance(p, dict) else ""
                        for p in persons
                    ]
                    read.append(self.talk(f"{room_where}[{n}]", date, fields))
                rooms.append((str(room), tuple(read)))
            days.append(Day(date, tuple(rooms)))
        return ConferenceSchedule(self.filename, _text(conference.get("title")), tuple(days))

    def mapping(self, data: Any, where: str, key: str) -> dict[str, Any]:
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, dict):
            path = f"{where}.{key}" if where else key
            raise self.error(path, "required mapping is missing (is this a schedule.json?)")
        return value


class _XmlReader(_Reader):
    def read(self, text: str) -> ConferenceSchedule:
        try:
            root = fromstring(text.encode("utf-8"))
        except DefusedXmlException:
            raise self.error(
                "", "XML with a DTD or entity declarations is refused (it could expand without end)"
            ) from None
        except ParseError as exc:
            line = exc.position[0] if exc.position else 1
            raise self.error(f"line {line}", f"invalid XML: {exc}") from None
        if root.tag != "schedule":
            raise self.error(root.tag, "expected <schedule> (is this a schedule.xml?)")
        conference = root.find("conference")
        if conference is None:
            raise self.error("schedule", "required <conference> is missing")
        self.zone_named((conference.findtext("time_zone_name") or "").strip())
        days = []
        for i, day in enumerate(root.findall("day"), 1):
            where = f"day[{i}]"
            date = self.day_date(day.get("date", ""), f"{where}/@date")
            rooms = []
            for room in day.findall("room"):
                name = room.get("name", "").strip()
                room_where = f"{where}/room[@name={name!r}]"
                if not name:
                    raise self.error(room_where, "a room needs a name")
                talks = [self.event(e, room_where, date) for e in room.findall("event")]
                rooms.append((name, tuple(talks)))
            days.append(Day(date, tuple(rooms)))
        if not days:
            raise self.error("schedule", "no <day> in the schedule")
        title = (conference.findtext("title") or "").strip()
        return ConferenceSchedule(self.filename, title, tuple(days))

    def event(self, element: Element, room_where: str, date: dt.date) -> Talk:
        where = f"{room_where}/event[@id={element.get('id', '')!r}]"
        fields: dict[str, Any] = {
            k: (element.findtext(k) or "")
            for k in (
                "date",
                "start",
                "duration",
                "title",
                "subtitle",
                "track",
                "type",
                "abstract",
                "description",
            )
        }
        fields["id"] = element.get("id") or ""
        fields["guid"] = element.get("guid") or ""
        fields["persons"] = [p.text or "" for p in element.findall("persons/person")]
        return self.talk(where, date, fields)


# ----------------------------------------------------------------------- laying it out


def _id(prefix: str, raw: str, limit: int = 80) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-")
    return f"{prefix}{cleaned}"[:limit]


def laid_out(event: Event, schedule: ConferenceSchedule) -> Event:
    """The event with the schedule's day: its tracks, one session per room, talks as items."""
    local = ZoneInfo(TIME_ZONE)
    days = {day.date: day for day in schedule.days}
    if event.date in days:
        day = days[event.date]
    elif len(schedule.days) == 1:
        day = schedule.days[0]
    else:
        listed = ", ".join(d.isoformat() for d in days)
        raise ScheduleError(
            schedule.filename,
            "days",
            f"the meeting is on {event.date or 'no day yet'}; the schedule has {listed}",
        )
    track_titles: dict[str, str] = {}
    for _, talks in day.rooms:
        for talk in talks:
            if talk.track and talk.track not in track_titles:
                track_titles[talk.track] = rules.slug(talk.track, set(track_titles.values()))
    tracks = tuple(Track(id=tid, title=title) for title, tid in track_titles.items())
    sessions: list[Session] = []
    session_ids: set[str] = set()
    # A session marked members-only stays so when its schedule is read again: a re-import
    # must never open a confidential session by itself.
    closed = {s.id for s in event.sessions if s.members_only}
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    for room, talks in day.rooms:
        if not talks:
            continue
        base = rules.slug(f"{event.id} {room}", session_ids, session=True)[:63].strip("-")
        if not SESSION_ID_RE.match(base):
            raise ScheduleError(schedule.filename, room, f"no session id can be made of {room!r}")
        session_ids.add(base)
        items: list[AgendaItem] = []
        seen: set[str] = set()
        for talk in sorted(talks, key=lambda t: t.start):
            start = talk.start.astimezone(local)
            end = start + dt.timedelta(minutes=talk.minutes)
            if end.date() != start.date() or (first is not None and start.date() != first.date()):
                raise ScheduleError(
                    schedule.filename, talk.where, "the day's talks must start and end on one date"
                )
            first = start if first is None or start < first else first
            last = end if last is None or end > last else last
            item_id = _id("talk-", talk.id)
            if item_id in seen:
                raise ScheduleError(schedule.filename, talk.where, f"duplicate talk id {talk.id!r}")
            seen.add(item_id)
            items.append(
                AgendaItem(
                    id=item_id,
                    kind=talk.kind,
                    title=talk.title,
                    description=talk.description,
                    speakers=talk.speakers,
                    start=start.time().replace(second=0, microsecond=0),
                    minutes=talk.minutes,
                )
            )
        common = Counter(t.track for t in talks if t.track).most_common(1)
        title = rules.text(room, rules.MAX_TITLE) or base
        sessions.append(
            Session(
                id=base,
                title=title,
                track=track_titles[common[0][0]] if common else None,
                items=tuple(items),
                members_only=base in closed,
            )
        )
    if not sessions:
        raise ScheduleError(schedule.filename, "days", "the day has no talks")
    assert first is not None and last is not None
    return replace(
        event,
        date=first.date(),
        start=first.time().replace(second=0, microsecond=0),
        end=last.time().replace(second=0, microsecond=0),
        tracks=tracks,
        sessions=tuple(sessions),
    )
