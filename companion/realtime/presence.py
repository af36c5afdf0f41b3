"""Who is connected to a session, and the highest attendance seen.

Kept apart from fan-out: the hub only asks whether presence changed and what the counts
are; how people, screens and stream viewers are counted lives here. With several
processes on one store (`companion.realtime.presence_sync`), each process's presence is
its share of the session's, and the counts are the session's, merged by the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from companion.backends.base import PresenceShare, SessionPresence


@dataclass(slots=True)
class _Person:
    """One participant: where their latest connection said they are, when they said it,
    and how many connections they have."""

    where: str | None
    connections: int = 0
    at: float = 0.0


@dataclass(slots=True)
class Presence:
    """Distinct participants (a participant with three tabs is one), screens, stream viewers,
    and whether moderators and everyone else have been told of the latest change."""

    people: dict[str, _Person] = field(default_factory=dict)
    screens: int = 0
    viewers: int = 0  # open live-stream (WHEP) viewers, set by companion.media
    changed: bool = False  # since moderators were last told
    public_due: bool = False  # changed since participants and screens were last told
    public_at: float = 0.0  # when participants and screens were last told
    # Shared mode (several processes): the session's presence as the store last merged it,
    # what changed here since this process last shared, and whether it must share all.
    shared: bool = False
    merged: SessionPresence | None = None
    touched: bool = False  # a join, leave or viewer change here since the last merge
    unshared: dict[str, str | None] = field(default_factory=dict)  # participant -> where
    full_due: bool = True  # share every person (first time, or after a lost share)
    published: bool = False  # this process's share is in the store

    def arrive(self, role: str, participant: str | None, where: str | None) -> None:
        """Count a joined connection."""
        if role == "screen":
            self.screens += 1
        elif participant is not None:
            person = self.people.get(participant)
            if person is None:
                person = self.people[participant] = _Person(where)
            person.where = where
            person.connections += 1
            if self.shared:
                person.at = time.time()
                self.unshared[participant] = where
        self._touch()

    def leave(self, role: str, participant: str | None) -> None:
        """Forget a connection that closed."""
        if role == "screen":
            self.screens = max(0, self.screens - 1)
        elif participant is not None:
            person = self.people.get(participant)
            if person is not None:
                person.connections -= 1
                if person.connections <= 0:
                    del self.people[participant]
                    if self.shared:
                        self.unshared[participant] = None
        self._touch()

    def set_viewers(self, viewers: int) -> None:
        """The number of live-stream viewers."""
        if self.viewers != viewers:
            self.viewers = viewers
            self._touch()

    def _touch(self) -> None:
        # Alone, a change is told at the next flush. Shared, it is told once the store has
        # merged it with the other processes' (a count of this process alone is wrong).
        if self.shared:
            self.touched = True
        else:
            self.changed = True

    # -- shared mode -------------------------------------------------------------------
    def share(self, session_id: str, moderators: int) -> PresenceShare | None:
        """What this process has to tell the store: its people (all of them, or those
        that came, moved or left since the last share) and its numbers; None when it has
        nothing here and nothing in the store."""
        empty = not self.people and not moderators and not self.screens and not self.viewers
        if empty and not self.published:
            self.unshared.clear()
            return None
        if self.full_due:
            people: dict[str, str | None] = {
                pid: _stamp(p.where, p.at) for pid, p in self.people.items()
            }
        else:
            people = {}
            for pid in self.unshared:
                person = self.people.get(pid)
                people[pid] = _stamp(person.where, person.at) if person is not None else None
        share = PresenceShare(
            session_id, self.full_due, people, moderators, self.screens, self.viewers, empty
        )
        self.unshared = {}
        self.full_due = empty  # a withdrawn share is gone from the store: next time, all
        self.published = not empty
        return share

    def share_lost(self) -> None:
        """The store may not have taken the last share: the next one carries everything."""
        self.full_due = True
        self.published = True  # it may be there: the next share replaces or withdraws it

    def merge(self, merged: SessionPresence) -> None:
        """The session's presence after this process's share; told if it changed here or
        there."""
        if merged.resend:  # not taken (this process's share had lapsed): send all, then tell
            self.share_lost()
            return
        if self.touched or merged != self.merged:
            self.changed = True
        self.touched = False
        self.merged = merged

    @property
    def leader(self) -> bool:
        """Whether this process records the session's attendance peaks (one process does)."""
        return not self.shared or (self.merged is not None and self.merged.leader)

    def counts(self, moderators: int) -> dict[str, int]:
        """Participants in the room and remote, moderator and screen connections, viewers."""
        if self.shared:
            m = self.merged
            if m is None:
                return {"room": 0, "remote": 0, "moderators": 0, "screens": 0, "viewers": 0}
            return {
                "room": m.room,
                "remote": m.remote,
                "moderators": m.moderators,
                "screens": m.screens,
                "viewers": m.viewers,
            }
        room = sum(1 for person in self.people.values() if person.where == "room")
        return {
            "room": room,
            "remote": len(self.people) - room,
            "moderators": moderators,
            "screens": self.screens,
            "viewers": self.viewers,
        }


@dataclass(slots=True)
class AttendancePeak:
    """The most participants in the room and remote seen at once, and the last reported."""

    highest: tuple[int, int] = (0, 0)
    reported: tuple[int, int] = (0, 0)
    reported_at: float = float("-inf")

    def see(self, room: int, remote: int) -> None:
        """Take in the current counts."""
        self.highest = (max(self.highest[0], room), max(self.highest[1], remote))

    def due(self, now: float, interval: float) -> tuple[int, int] | None:
        """The peak to report now, if it is new and the last report is `interval` old."""
        if self.highest == self.reported or now - self.reported_at < interval:
            return None
        self.reported, self.reported_at = self.highest, now
        return self.highest


def _stamp(where: str | None, at: float) -> str:
    # "r" or "m" and when the connection joined, in milliseconds: where a participant
    # connected to two processes is comes from the latest join.
    return f"{'r' if where == 'room' else 'm'}{int(at * 1000)}"
