"""Tests of the running agenda: moving between items, the item timer, statuses and breaks.

Commands are driven like the service drives them: decide a Draft, wrap it in an Event
with the next seq and an explicit timestamp, apply it through SessionState.
"""

from __future__ import annotations

import pytest

from companion.cli import demo_programme_text
from companion.domain import events as ev
from companion.domain.agenda import Agenda
from companion.domain.errors import InvalidState, NotFound
from companion.domain.programme import AgendaItem, ItemKind, Session, Status
from companion.domain.session_state import SessionState
from companion.programme_file import parse_programme
from companion.services.projection import agenda_view

SESSION = Session(
    id="agenda-test",
    title="Agenda",
    items=(
        AgendaItem("a", ItemKind.TALK, "Välkommen", minutes=10),
        AgendaItem("b", ItemKind.DIALOGUE, "Samtal", minutes=20),
        AgendaItem("c", ItemKind.BREAK, "Fika", minutes=5),
        AgendaItem("d", ItemKind.TALK, "Avslutning"),  # no planned length
    ),
)


class Run:
    """A SessionState whose events get explicit timestamps."""

    def __init__(self, session: Session = SESSION) -> None:
        self.state = SessionState(session)

    @property
    def agenda(self) -> Agenda:
        return self.state.agenda

    def commit(self, draft: ev.Draft, at: float) -> None:
        event = ev.Event(self.state.session.id, self.state.seq + 1, draft.type, draft.data, at)
        self.state.apply(event)

    def next(self, at: float = 0.0) -> None:
        self.commit(self.agenda.step(+1), at)

    def prev(self, at: float = 0.0) -> None:
        self.commit(self.agenda.step(-1), at)

    def goto(self, item: str, at: float = 0.0) -> None:
        self.commit(self.agenda.goto(item), at)


def statuses(run: Run) -> dict[str, str]:
    return {item_id: status.value for item_id, status in run.agenda.statuses.items()}


# -- moving --------------------------------------------------------------------------


def test_next_from_nothing_goes_to_the_first_item_of_the_demo() -> None:
    """In a demo session with no current item, next makes the first item live."""
    programme = parse_programme(demo_programme_text(), "demo/programme.yaml")
    found = programme.find_session("ledarskap-2020-05-05")
    assert found is not None
    run = Run(found[3])
    assert run.agenda.current is None
    run.next(at=50.0)
    assert run.agenda.current == "valkommen"
    assert run.agenda.statuses["valkommen"] == Status.LIVE
    assert run.agenda.started_at["valkommen"] == 50.0


def test_next_and_prev_step_through_items_and_finish_the_previous_one() -> None:
    """Next marks the left item done; prev goes back and makes it live again."""
    run = Run()
    run.next(at=10.0)
    run.next(at=20.0)
    assert run.agenda.current == "b"
    assert statuses(run) == {"a": "done", "b": "live", "c": "scheduled", "d": "scheduled"}
    run.prev(at=30.0)
    assert run.agenda.current == "a"
    assert statuses(run) == {"a": "live", "b": "done", "c": "scheduled", "d": "scheduled"}
    # The first start of an item is kept when it is revisited.
    assert run.agenda.started_at == {"a": 10.0, "b": 20.0}


def test_goto_jumps_to_any_item() -> None:
    """Goto makes any item current and finishes the one that was live."""
    run = Run()
    run.next()
    run.goto("c", at=5.0)
    assert run.agenda.current == "c"
    assert statuses(run)["a"] == "done"
    assert statuses(run)["b"] == "scheduled"


def test_goto_the_current_item_or_an_unknown_item_is_refused() -> None:
    """Goto of the current item is an invalid_state; of an unknown item NotFound."""
    run = Run()
    run.goto("b")
    with pytest.raises(InvalidState):
        run.agenda.goto("b")
    for bad in ("zz", None, 1):
        with pytest.raises(NotFound):
            run.agenda.goto(bad)


def test_next_after_the_last_item_and_prev_before_the_first_say_agenda_end() -> None:
    """Stepping past either end of the agenda is refused with agenda_end."""
    run = Run()
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.step(-1)
    assert exc_info.value.code == "agenda_end"
    run.next()
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.step(-1)
    assert exc_info.value.code == "agenda_end"
    run.goto("d")
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.step(+1)
    assert exc_info.value.code == "agenda_end"
    assert run.agenda.current == "d"


def test_step_in_a_session_without_items_is_refused() -> None:
    """A session without an agenda cannot be stepped."""
    run = Run(Session(id="empty", title="Tom"))
    with pytest.raises(InvalidState):
        run.agenda.step(+1)


# -- timer ---------------------------------------------------------------------------


def test_moving_to_an_item_starts_its_timer_with_the_planned_length() -> None:
    """The timer of a new current item runs from the move with the item's minutes."""
    run = Run()
    run.next(at=100.0)
    timer = run.agenda.timer
    assert timer.planned_seconds == 600.0
    assert timer.running_since == 100.0
    assert timer.used(160.0) == 60.0
    assert timer.left(160.0) == 540.0


def test_item_without_minutes_has_no_planned_time() -> None:
    """An item with no planned length starts with zero seconds planned."""
    run = Run()
    run.goto("d", at=0.0)
    assert run.agenda.timer.planned_seconds == 0.0
    assert run.agenda.timer.left(30.0) == -30.0


def test_pause_stops_the_clock_and_start_resumes_it() -> None:
    """Paused time is not counted; resuming continues from the used time."""
    run = Run()
    run.next(at=100.0)
    run.commit(run.agenda.pause_timer(), at=160.0)
    timer = run.agenda.timer
    assert timer.running_since is None
    assert timer.elapsed == 60.0
    assert timer.used(10_000.0) == 60.0
    run.commit(run.agenda.start_timer(), at=500.0)
    assert run.agenda.timer.used(530.0) == 90.0
    assert run.agenda.timer.left(530.0) == 510.0


def test_extend_adds_and_removes_planned_time() -> None:
    """Extend by +5 then -3 minutes changes the planned length by those amounts."""
    run = Run()
    run.next(at=0.0)
    run.commit(run.agenda.extend_timer(5), at=1.0)
    assert run.agenda.timer.planned_seconds == 900.0
    run.commit(run.agenda.extend_timer(-3), at=2.0)
    assert run.agenda.timer.planned_seconds == 720.0
    assert run.agenda.timer.left(120.0) == 600.0


def test_extend_below_zero_stops_at_zero_planned_time() -> None:
    """Taking away more time than planned leaves zero planned, so time left is negative."""
    run = Run()
    run.next(at=0.0)
    run.commit(run.agenda.extend_timer(-20), at=1.0)
    assert run.agenda.timer.planned_seconds == 0.0
    assert run.agenda.timer.left(60.0) == -60.0


def test_overrun_gives_negative_time_left() -> None:
    """Past the planned length, time left is negative by the overrun."""
    run = Run()
    run.next(at=1_000.0)
    assert run.agenda.timer.left(1_000.0 + 700.0) == -100.0


def test_a_new_item_gets_a_fresh_timer() -> None:
    """Moving on resets elapsed time and extensions to the new item's plan."""
    run = Run()
    run.next(at=0.0)
    run.commit(run.agenda.extend_timer(5), at=1.0)
    run.commit(run.agenda.pause_timer(), at=300.0)
    run.next(at=400.0)
    timer = run.agenda.timer
    assert (timer.planned_seconds, timer.elapsed, timer.running_since) == (1200.0, 0.0, 400.0)


def test_timer_commands_need_a_current_item() -> None:
    """Start, pause and extend without a current item say no_current_item."""
    agenda = Run().agenda
    for command in (agenda.start_timer, agenda.pause_timer, lambda: agenda.extend_timer(5)):
        with pytest.raises(InvalidState) as exc_info:
            command()
        assert exc_info.value.code == "no_current_item"


def test_start_while_running_and_pause_while_paused_are_refused() -> None:
    """The timer cannot be started twice or paused twice."""
    run = Run()
    run.next(at=0.0)
    with pytest.raises(InvalidState):
        run.agenda.start_timer()
    run.commit(run.agenda.pause_timer(), at=10.0)
    with pytest.raises(InvalidState):
        run.agenda.pause_timer()


@pytest.mark.parametrize("minutes", [True, False, 1.5, 5.0, "5", None, 0, 121, -121, 10**9])
def test_extend_with_invalid_minutes_is_refused(minutes: object) -> None:
    """Extend accepts only whole non-zero minutes within ±120 (invalid_value)."""
    run = Run()
    run.next()
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.extend_timer(minutes)
    assert exc_info.value.code == "invalid_value"


@pytest.mark.parametrize("minutes", [1, -1, 120, -120])
def test_extend_accepts_the_limits(minutes: int) -> None:
    """Extend accepts ±1 and ±120 minutes."""
    run = Run()
    run.next()
    assert run.agenda.extend_timer(minutes).data == {"minutes": minutes}


# -- statuses ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["postponed", "date-to-come", "scheduled"])
def test_set_status_to_a_settable_status(status: str) -> None:
    """An item that is not current can be postponed, marked date-to-come or rescheduled."""
    run = Run()
    run.commit(run.agenda.set_status("b", status), at=0.0)
    assert run.agenda.statuses["b"] == Status(status)


def test_postponed_item_can_be_scheduled_again() -> None:
    """Setting a postponed item back to scheduled restores it."""
    run = Run()
    run.commit(run.agenda.set_status("c", "postponed"), at=0.0)
    run.commit(run.agenda.set_status("c", "scheduled"), at=1.0)
    assert run.agenda.statuses["c"] == Status.SCHEDULED


@pytest.mark.parametrize("status", ["live", "done", "cancelled", "", None, 3])
def test_set_status_refuses_live_done_and_unknown(status: object) -> None:
    """Live and done follow from moving the agenda and cannot be set by hand."""
    run = Run()
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.set_status("b", status)
    assert exc_info.value.code == "invalid_value"


@pytest.mark.parametrize("status", ["postponed", "date-to-come"])
def test_current_item_cannot_be_postponed(status: str) -> None:
    """The current item must be left before it is postponed."""
    run = Run()
    run.next()
    with pytest.raises(InvalidState) as exc_info:
        run.agenda.set_status("a", status)
    assert exc_info.value.code == "invalid_state"
    assert run.agenda.statuses["a"] == Status.LIVE


def test_set_status_of_an_unknown_item_is_not_found() -> None:
    """set_status names an existing item or raises NotFound."""
    with pytest.raises(NotFound):
        Run().agenda.set_status("nope", "postponed")


def test_next_item_skips_postponed_and_date_to_come_items() -> None:
    """next_item passes over postponed and date-to-come items."""
    run = Run()
    assert run.agenda.next_item() == SESSION.items[0]
    run.commit(run.agenda.set_status("a", "postponed"), at=0.0)
    assert run.agenda.next_item() == SESSION.items[1]
    run.goto("a")
    run.commit(run.agenda.set_status("b", "postponed"), at=1.0)
    run.commit(run.agenda.set_status("c", "date-to-come"), at=2.0)
    assert run.agenda.next_item() == SESSION.items[3]
    run.goto("d")
    assert run.agenda.next_item() is None


def test_agenda_next_goes_to_the_item_announced_as_next() -> None:
    """agenda.next moves to the item that agenda_view announces as next."""
    run = Run()
    run.next()
    run.commit(run.agenda.set_status("b", "postponed"), at=0.0)
    announced = agenda_view(run.agenda)["next"]
    assert announced == "c"
    run.next()
    assert run.agenda.current == announced


# -- breaks --------------------------------------------------------------------------


def test_break_start_and_end() -> None:
    """A break records its start, length and trimmed message; end_break clears it."""
    run = Run()
    run.commit(run.agenda.start_break(15, "  Fika i foajén  "), at=3_600.0)
    brk = run.agenda.current_break
    assert brk is not None
    assert (brk.started_at, brk.minutes, brk.message) == (3_600.0, 15, "Fika i foajén")
    assert brk.ends_at == 3_600.0 + 15 * 60
    run.commit(run.agenda.end_break(), at=3_700.0)
    assert run.agenda.current_break is None


def test_end_break_without_a_break_is_refused() -> None:
    """There must be a break to end."""
    with pytest.raises(InvalidState):
        Run().agenda.end_break()


def test_moving_the_agenda_ends_the_break() -> None:
    """Moving to another item clears an announced break."""
    run = Run()
    run.commit(run.agenda.start_break(10), at=0.0)
    run.next(at=60.0)
    assert run.agenda.current_break is None


@pytest.mark.parametrize("minutes", [1, 180])
def test_break_accepts_one_to_180_minutes(minutes: int) -> None:
    """Breaks of 1 and 180 minutes are accepted."""
    assert Run().agenda.start_break(minutes).data == {"minutes": minutes, "message": ""}


@pytest.mark.parametrize("minutes", [0, -5, 181, True, 10.0, 1.5, "10", None])
def test_break_with_invalid_minutes_is_refused(minutes: object) -> None:
    """Break minutes must be a whole number from 1 to 180 (invalid_value)."""
    with pytest.raises(InvalidState) as exc_info:
        Run().agenda.start_break(minutes)
    assert exc_info.value.code == "invalid_value"


@pytest.mark.parametrize("message", ["x" * 201, None, 5])
def test_break_with_a_bad_message_is_refused(message: object) -> None:
    """A break message must be text of at most 200 characters."""
    with pytest.raises(InvalidState):
        Run().agenda.start_break(10, message)
