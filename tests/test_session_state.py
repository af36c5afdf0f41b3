"""Tests of SessionState: the state of a session is exactly the fold of its events."""

from __future__ import annotations

import json

import pytest

from companion.cli import demo_programme_text
from companion.domain import events as ev
from companion.domain.errors import InvalidState
from companion.domain.programme import Session
from companion.domain.questions import QuestionStatus
from companion.domain.session_state import Applied, SessionState
from companion.programme_file import parse_programme


def demo_session() -> Session:
    programme = parse_programme(demo_programme_text(), "demo/programme.yaml")
    found = programme.find_session("ledarskap-2020-05-05")
    assert found is not None
    return found[3]


class Recorder:
    """Drives a SessionState and keeps every event it applied."""

    def __init__(self, session: Session) -> None:
        self.state = SessionState(session)
        self.events: list[ev.Event] = []
        self.now = 10_000.0

    def commit(self, draft: ev.Draft) -> Applied:
        self.now += 7.5
        event = ev.Event(
            self.state.session.id, self.state.seq + 1, draft.type, draft.data, self.now
        )
        applied = self.state.apply(event)
        self.events.append(event)
        return applied

    def ask(self, text: str, author: str) -> int:
        s = self.state
        draft = s.board.ask(text, None, author, "remote", s.agenda.current, s.premoderation)
        self.commit(draft)
        return draft.data["id"]


def busy_session() -> Recorder:
    """A session with questions, votes, moderation, a merge and agenda activity."""
    rec = Recorder(demo_session())
    s = rec.state
    rec.commit(s.agenda.step(+1))
    q1 = rec.ask("Hur mäter ni förändringen?", "p1")
    q2 = rec.ask("Hur mäter man förändring?", "p2")
    q3 = rec.ask("Vad hände 2017?", "p3")
    for voter in ("p1", "p2", "p4"):
        rec.commit(s.board.vote(q1, voter))
    rec.commit(s.board.vote(q2, "p4"))
    rec.commit(s.board.vote(q2, "p5"))
    rec.commit(s.board.vote(q2, "p5"))  # withdrawn
    rec.commit(s.board.merge(q2, q1))
    rec.commit(s.board.highlight(q3))
    rec.commit(s.board.edit(q3, "Vad hände år 2017?"))
    rec.commit(s.set_premoderation(True))
    q4 = rec.ask("Väntar på godkännande", "p6")
    rec.commit(s.board.approve(q4))
    rec.commit(s.board.answer(q3))
    rec.commit(s.agenda.extend_timer(5))
    rec.commit(s.agenda.pause_timer())
    rec.commit(s.agenda.set_status("fika", "postponed"))
    rec.commit(s.agenda.step(+1))
    rec.commit(s.agenda.start_break(10, "Kaffe"))
    return rec


def assert_same_state(a: SessionState, b: SessionState) -> None:
    assert a.seq == b.seq
    assert a.premoderation == b.premoderation
    assert a.board.questions == b.board.questions
    assert a.board.highlighted == b.board.highlighted
    assert a.agenda == b.agenda


def test_replaying_the_events_rebuilds_the_same_state() -> None:
    """Folding the recorded events into a fresh SessionState gives identical state."""
    rec = busy_session()
    fresh = SessionState(rec.state.session)
    for event in rec.events:
        fresh.apply(event)
    assert_same_state(fresh, rec.state)
    # Spot checks that the state is really non-trivial.
    assert fresh.board.questions[1].voters == {"p1", "p2", "p4"}
    assert fresh.board.questions[2].status == QuestionStatus.MERGED
    assert fresh.agenda.current == "samtal-olsson"
    assert fresh.agenda.statuses["fika"].value == "postponed"


def test_replay_through_json_gives_the_same_state() -> None:
    """Events that went through JSON (as in a store) still rebuild the same state."""
    rec = busy_session()
    fresh = SessionState(rec.state.session)
    for event in rec.events:
        fresh.apply(ev.Event.from_data(json.loads(json.dumps(event.to_data()))))
    assert_same_state(fresh, rec.state)


def test_new_question_ids_continue_after_a_replay() -> None:
    """After a rebuild the next question gets the next unused id."""
    rec = busy_session()
    fresh = SessionState(rec.state.session)
    for event in rec.events:
        fresh.apply(event)
    draft = fresh.board.ask("Ny fråga", None, "p9", "room", None, False)
    assert draft.data["id"] == max(rec.state.board.questions) + 1


@pytest.mark.parametrize("seq", [0, 2, 5])
def test_an_event_out_of_order_raises_value_error(seq: int) -> None:
    """An event whose seq is not the next one is refused and changes nothing."""
    state = SessionState(demo_session())
    draft = state.board.ask("Fråga", None, "p1", "room", None, False)
    with pytest.raises(ValueError):
        state.apply(ev.Event("s", seq, draft.type, draft.data, 1.0))
    assert state.seq == 0
    assert state.board.questions == {}


def test_an_event_applied_twice_raises_value_error() -> None:
    """Re-applying the last event (a duplicate) is refused."""
    state = SessionState(demo_session())
    event = ev.Event("s", 1, ev.PREMODERATION_SET, {"on": True}, 1.0)
    state.apply(event)
    with pytest.raises(ValueError):
        state.apply(event)
    assert state.seq == 1


def test_premoderation_event_holds_new_questions_until_turned_off() -> None:
    """With premoderation set, new questions are pending; after turning it off, live."""
    rec = Recorder(demo_session())
    applied = rec.commit(rec.state.set_premoderation(True))
    assert applied.settings and not applied.agenda and applied.questions == []
    assert rec.state.premoderation is True
    held = rec.ask("Hålls kvar", "p1")
    assert rec.state.board.questions[held].status == QuestionStatus.PENDING
    rec.commit(rec.state.set_premoderation(False))
    shown = rec.ask("Syns direkt", "p1")
    assert rec.state.board.questions[shown].status == QuestionStatus.LIVE
    # Turning it off does not publish what is already pending.
    assert rec.state.board.questions[held].status == QuestionStatus.PENDING


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
def test_premoderation_needs_a_boolean(value: object) -> None:
    """set_premoderation accepts only true or false (invalid_value)."""
    state = SessionState(demo_session())
    with pytest.raises(InvalidState) as exc_info:
        state.set_premoderation(value)
    assert exc_info.value.code == "invalid_value"


def test_applied_reports_what_kind_of_state_changed() -> None:
    """Question events list changed ids; agenda events set the agenda flag."""
    rec = Recorder(demo_session())
    asked = rec.commit(rec.state.board.ask("F", None, "p", "room", None, False))
    assert asked.questions == [1] and not asked.agenda and not asked.settings
    moved = rec.commit(rec.state.agenda.step(+1))
    assert moved.agenda and moved.questions == [] and not moved.settings
    assert moved.event is rec.events[-1]
