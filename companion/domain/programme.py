"""The programme: networks, seasons, events, tracks, sessions and agenda items.

Plain immutable data. Parsing from YAML lives in `companion.programme_file`, the
JSON-ready data for the store and events in `companion.domain.programme_codec`; the
live state of a session (current item, timers) lives in `companion.domain.agenda`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from companion.domain.scene import Scene


class ItemKind(StrEnum):
    """What happens during an agenda item."""

    TALK = "talk"
    DIALOGUE = "dialogue"
    BREAK = "break"
    DISCUSSION = "discussion"


class Status(StrEnum):
    """Status of an event or an agenda item."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    DONE = "done"
    POSTPONED = "postponed"
    DATE_TO_COME = "date-to-come"


@dataclass(frozen=True, slots=True)
class Speaker:
    """A guest, speaker or moderator as printed in the programme."""

    name: str
    title: str = ""
    organisation: str = ""


@dataclass(frozen=True, slots=True)
class AgendaItem:
    """One point of a session's programme (programpunkt)."""

    id: str
    kind: ItemKind
    title: str
    description: str = ""
    speakers: tuple[Speaker, ...] = ()
    start: dt.time | None = None
    minutes: int | None = None
    status: Status = Status.SCHEDULED
    scene: Scene | None = None  # None: the default for its kind (`scene.default_scene`)


@dataclass(frozen=True, slots=True)
class Session:
    """One room's programme in one slot; owns a stream, Q&A and polls."""

    id: str
    title: str
    description: str = ""
    track: str | None = None
    moderator: Speaker | None = None
    items: tuple[AgendaItem, ...] = ()
    # Only the network's members (through their personal links) may follow it from afar;
    # phones in the room still join by its code (companion.services.members).
    members_only: bool = False


@dataclass(frozen=True, slots=True)
class Track:
    """A parallel strand of a conference (tema)."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    """One morning meeting of a network or one conference day."""

    id: str
    title: str
    date: dt.date | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    venue: str = ""
    status: Status = Status.SCHEDULED
    note: str = ""
    tracks: tuple[Track, ...] = ()
    sessions: tuple[Session, ...] = ()


@dataclass(frozen=True, slots=True)
class Season:
    """A run of events of a network (säsong)."""

    id: str
    title: str
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Network:
    """A standing group that meets several times a season, or a conference."""

    id: str
    title: str
    description: str = ""
    audience: str = ""  # who the network is for ("Nätverket riktar sig till …")
    moderator: Speaker | None = None
    contact: str = ""
    seasons: tuple[Season, ...] = ()
    # Days after each meeting its sessions' personal data is deleted (None: the
    # installation's COMPANION_RETENTION_DAYS; 0: kept until deleted by hand).
    retention_days: int | None = None


@dataclass(frozen=True, slots=True)
class Programme:
    """Everything one import file describes."""

    networks: tuple[Network, ...] = field(default_factory=tuple)

    def sessions(self) -> list[tuple[Network, Season, Event, Session]]:
        """Every session with the network, season and event it belongs to, in file order."""
        return [
            (network, season, event, session)
            for network in self.networks
            for season in network.seasons
            for event in season.events
            for session in event.sessions
        ]

    def find_session(self, session_id: str) -> tuple[Network, Season, Event, Session] | None:
        """The session with this id and its context, or None."""
        for row in self.sessions():
            if row[3].id == session_id:
                return row
        return None


def guests(session: Session, moderator: Speaker | None) -> list[Speaker]:
    """The speakers of a session's items, first appearance first, without its moderator
    (the programme names the moderator once, apart from the guests)."""
    seen = {moderator.name} if moderator else set()
    found: list[Speaker] = []
    for item in session.items:
        for speaker in item.speakers:
            if speaker.name not in seen:
                seen.add(speaker.name)
                found.append(speaker)
    return found
