"""The running agenda of one session: current item, its timer, statuses and breaks.

The planned programme (`companion.domain.programme`) says what should happen; this
module tracks what is happening. Time comes from event timestamps, never from the
clock, so replaying the log gives the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import InvalidState, NotFound
from companion.domain.programme import AgendaItem, Status
from companion.domain.programme_codec import item_from_data, item_to_data
from companion.domain.scene import Scene, scene_from_data, scene_to_data

# Statuses a moderator may set by hand; live and done follow from moving the agenda.
SETTABLE_STATUSES = frozenset({Status.SCHEDULED, Status.POSTPONED, Status.DATE_TO_COME})
# Items that next/previous step over; "go to" can still reach them.
SKIPPED_STATUSES = frozenset({Status.POSTPONED, Status.DATE_TO_COME})
MAX_EXTEND_MINUTES = 120
MAX_BREAK_MINUTES = 180


@dataclass(slots=True)
class Timer:
    """The clock of the current item: planned length, time used, running or paused."""

    planned_seconds: float = 0.0
    elapsed: float = 0.0
    running_since: float | None = None

    def used(self, now: float) -> float:
        """Seconds used so far."""
        running = now - self.running_since if self.running_since is not None else 0.0
        return self.elapsed + max(0.0, running)

    def left(self, now: float) -> float:
        """Seconds left; negative when the item runs over."""
        return self.planned_seconds - self.used(now)


@dataclass(slots=True)
class Break:
    """An announced break (fika) and when it ends."""

    started_at: float
    minutes: int
    message: str = ""

    @property
    def ends_at(self) -> float:
        """When the break is planned to end."""
        return self.started_at + self.minutes * 60


@dataclass(slots=True)
class Agenda:
    """What is happening now in one session."""

    items: tuple[AgendaItem, ...]
    current: str | None = None
    statuses: dict[str, Status] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    timer: Timer = field(default_factory=Timer)
    current_break: Break | None = None

    def __post_init__(self) -> None:
        for item in self.items:
            self.statuses.setdefault(item.id, item.status)

    # -- queries -----------------------------------------------------------------------
    def item(self, item_id: Any) -> AgendaItem:
        """The agenda item with this id, or NotFound."""
        for item in self.items:
            if item.id == item_id:
                return item
        raise NotFound(f"No agenda item {item_id!r}.")

    def index(self, item_id: str | None) -> int | None:
        """Position of the item in the agenda."""
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        return None

    def next_item(self) -> AgendaItem | None:
        """The item that follows the current one, skipping postponed ones."""
        start = self.index(self.current)
        for item in self.items[(start + 1 if start is not None else 0) :]:
            if self.statuses[item.id] not in SKIPPED_STATUSES:
                return item
        return None

    # -- commands ----------------------------------------------------------------------
    def goto(self, item_id: Any) -> ev.Draft:
        """Make any item the current one."""
        item = self.item(item_id)
        if item.id == self.current:
            raise InvalidState("That item is already current.")
        return ev.Draft(ev.AGENDA_MOVED, {"item_id": item.id})

    def step(self, offset: int) -> ev.Draft:
        """Move to the next (+1) or previous (-1) item, skipping postponed ones."""
        if not self.items:
            raise InvalidState("This session has no agenda.")
        index = self.index(self.current)
        if index is None:
            candidates = self.items if offset > 0 else ()
        elif offset > 0:
            candidates = self.items[index + 1 :]
        else:
            candidates = tuple(reversed(self.items[:index]))
        for item in candidates:
            if self.statuses[item.id] not in SKIPPED_STATUSES:
                return ev.Draft(ev.AGENDA_MOVED, {"item_id": item.id})
        raise InvalidState("There is no item in that direction.", code="agenda_end")

    def set_scene(self, item_id: Any, scene: Scene | None) -> ev.Draft:
        """Plan an item's scene (None: the default for its kind); it applies on the next move
        to the item, not to the current one (a moderator overrides that with `show.*`)."""
        item = self.item(item_id)
        if scene == item.scene:
            raise InvalidState("The item already has that scene.")
        data = scene_to_data(scene) if scene is not None else None
        return ev.Draft(ev.ITEM_SCENE, {"item_id": item.id, "scene": data})

    def start_timer(self) -> ev.Draft:
        """Start or resume the current item's timer."""
        self._require_current()
        if self.timer.running_since is not None:
            raise InvalidState("The timer is already running.")
        return ev.Draft(ev.TIMER_STARTED, {})

    def pause_timer(self) -> ev.Draft:
        """Pause the current item's timer."""
        self._require_current()
        if self.timer.running_since is None:
            raise InvalidState("The timer is not running.")
        return ev.Draft(ev.TIMER_PAUSED, {})

    def extend_timer(self, minutes: Any) -> ev.Draft:
        """Give the current item more (or, with a negative number, less) time."""
        self._require_current()
        if (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or minutes == 0
            or abs(minutes) > MAX_EXTEND_MINUTES
        ):
            raise InvalidState(
                f"Minutes must be a whole number between -{MAX_EXTEND_MINUTES} and "
                f"{MAX_EXTEND_MINUTES}, not zero.",
                code="invalid_value",
            )
        return ev.Draft(ev.TIMER_EXTENDED, {"minutes": minutes})

    def set_status(self, item_id: Any, status: Any) -> ev.Draft:
        """Mark an item postponed, date to come, or back to scheduled."""
        item = self.item(item_id)
        try:
            wanted = Status(status)
        except ValueError:
            wanted = None
        if wanted not in SETTABLE_STATUSES:
            allowed = ", ".join(sorted(s.value for s in SETTABLE_STATUSES))
            raise InvalidState(f"Status must be one of {allowed}.", code="invalid_value")
        if item.id == self.current and wanted != Status.SCHEDULED:
            raise InvalidState("Move on from the current item before postponing it.")
        return ev.Draft(ev.ITEM_STATUS_SET, {"item_id": item.id, "status": wanted.value})

    def start_break(self, minutes: Any, message: Any = "") -> ev.Draft:
        """Announce a break of some minutes, with an optional message."""
        if (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or not 1 <= minutes <= MAX_BREAK_MINUTES
        ):
            raise InvalidState(
                f"A break lasts 1 to {MAX_BREAK_MINUTES} minutes.", code="invalid_value"
            )
        # A lone surrogate ("\ud800" in JSON) is not text any store or page can hold.
        if (
            not isinstance(message, str)
            or len(message.strip()) > 200
            or message.encode("utf-8", "replace") != message.encode("utf-8", "surrogatepass")
        ):
            raise InvalidState(
                "The break message must be text of at most 200 characters.", code="invalid_value"
            )
        return ev.Draft(ev.BREAK_STARTED, {"minutes": minutes, "message": message.strip()})

    def end_break(self) -> ev.Draft:
        """End the announced break."""
        if self.current_break is None:
            raise InvalidState("There is no break to end.")
        return ev.Draft(ev.BREAK_ENDED, {})

    def revise(self, items: tuple[AgendaItem, ...], in_use: set[str]) -> ev.Draft:
        """Replace the planned agenda (the organiser's edit) while the session may be live.

        An item that questions or polls refer to (`in_use`) is kept, and so is the current
        one, so an edit never takes away what people asked, voted or answered.
        """
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise InvalidState("Agenda item ids must be unique.", code="duplicate_id")
        kept = set(ids)
        for item in self.items:
            if item.id in kept:
                continue
            if item.id == self.current:
                raise InvalidState(
                    "Move on from the current item before removing it.", code="current_item"
                )
            if item.id in in_use:
                raise InvalidState(
                    "Questions or polls belong to this item; postpone it instead.", code="in_use"
                )
        old = {item.id: item for item in self.items}
        for item in items:
            before = old.get(item.id)
            changed = before is None or before.status != item.status
            if item.id == self.current and changed and item.status != Status.SCHEDULED:
                raise InvalidState(
                    "Move on from the current item before postponing it.", code="current_item"
                )
        if tuple(items) == self.items:
            raise InvalidState("The agenda is unchanged.", code="no_change")
        return ev.Draft(ev.AGENDA_REVISED, {"items": [item_to_data(item) for item in items]})

    def _require_current(self) -> None:
        if self.current is None:
            raise InvalidState("No agenda item is current.", code="no_current_item")

    # -- state changes -----------------------------------------------------------------
    def apply(self, event: ev.Event) -> None:
        """Fold one committed agenda event into the state."""
        d = event.data
        match event.type:
            case ev.AGENDA_MOVED:
                self._finish_current()
                item = self.item(d["item_id"])
                self.current = item.id
                self.statuses[item.id] = Status.LIVE
                self.started_at.setdefault(item.id, event.at)
                self.timer = Timer(
                    planned_seconds=(item.minutes or 0) * 60.0, running_since=event.at
                )
                self.current_break = None
            case ev.TIMER_STARTED:
                self.timer.running_since = event.at
            case ev.TIMER_PAUSED:
                self.timer.elapsed = self.timer.used(event.at)
                self.timer.running_since = None
            case ev.TIMER_EXTENDED:
                self.timer.planned_seconds = max(
                    0.0, self.timer.planned_seconds + d["minutes"] * 60
                )
            case ev.ITEM_STATUS_SET:
                self.statuses[d["item_id"]] = Status(d["status"])
            case ev.ITEM_SCENE:
                scene = scene_from_data(d["scene"]) if d["scene"] is not None else None
                self.items = tuple(
                    replace(item, scene=scene) if item.id == d["item_id"] else item
                    for item in self.items
                )
            case ev.BREAK_STARTED:
                self.current_break = Break(event.at, d["minutes"], d["message"])
            case ev.BREAK_ENDED:
                self.current_break = None
            case ev.AGENDA_REVISED:
                self._revise(tuple(item_from_data(d) for d in d["items"]))
            case _:
                raise ValueError(f"not an agenda event: {event.type}")

    def _revise(self, items: tuple[AgendaItem, ...]) -> None:
        # What ran keeps its live status (live, done); a planned status that the organiser
        # changed (postponed, date to come, scheduled again) takes effect.
        old = {item.id: item for item in self.items}
        statuses: dict[str, Status] = {}
        for item in items:
            before = old.get(item.id)
            if before is None or before.status != item.status:
                statuses[item.id] = item.status
            else:
                statuses[item.id] = self.statuses.get(item.id, item.status)
        self.items = items
        self.statuses = statuses
        self.started_at = {k: v for k, v in self.started_at.items() if k in statuses}

    def _finish_current(self) -> None:
        if self.current is not None and self.statuses.get(self.current) == Status.LIVE:
            self.statuses[self.current] = Status.DONE
