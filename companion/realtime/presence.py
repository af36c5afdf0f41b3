"""Who is connected to a session, and the highest attendance this process has seen.

Kept apart from fan-out: the hub only asks whether presence changed and what the counts
are; how people, screens and stream viewers are counted lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Person:
    """One participant: where their latest connection said they are, and how many they have."""

    where: str | None
    connections: int = 0


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
        self.changed = True

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
        self.changed = True

    def set_viewers(self, viewers: int) -> None:
        """The number of live-stream viewers."""
        if self.viewers != viewers:
            self.viewers = viewers
            self.changed = True

    def counts(self, moderators: int) -> dict[str, int]:
        """Participants in the room and remote, moderator and screen connections, viewers."""
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
