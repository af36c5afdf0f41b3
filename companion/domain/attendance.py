"""Attendance peaks of one session: the most participants connected at the same time.

The realtime hub knows who is connected; it reports a new peak now and then (see
`companion.realtime.hub`), and the session records it as an `attendance.peak` event, so
the peak survives restarts and lands in the report. A peak only ever grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import InvalidState


@dataclass(slots=True)
class Attendance:
    """Peak numbers of distinct participants in the room and remote, and when each was reached."""

    peak_room: int = 0
    peak_remote: int = 0
    peak_room_at: float | None = None
    peak_remote_at: float | None = None

    def record(self, room: Any, remote: Any) -> ev.Draft:
        """A new peak from counts seen now; refused (`no_change`) when neither count is higher."""
        for value in (room, remote):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidState("Counts must be whole numbers ≥ 0.", code="invalid_value")
        if room <= self.peak_room and remote <= self.peak_remote:
            raise InvalidState("No new peak.", code="no_change")
        return ev.Draft(
            ev.ATTENDANCE_PEAK,
            {"room": max(room, self.peak_room), "remote": max(remote, self.peak_remote)},
        )

    def apply(self, event: ev.Event) -> None:
        """Fold an `attendance.peak` event in."""
        d = event.data
        if d["room"] > self.peak_room:
            self.peak_room, self.peak_room_at = d["room"], event.at
        if d["remote"] > self.peak_remote:
            self.peak_remote, self.peak_remote_at = d["remote"], event.at
