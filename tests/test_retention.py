"""The log scrub of companion/domain/retention.py: personal data out, every count kept."""

from __future__ import annotations

import json
from typing import Any

from companion.domain import events as ev
from companion.domain.fairness import audience_figures
from companion.domain.polls import results
from companion.domain.programme import Session
from companion.domain.retention import is_label, scrub, scrubbed_already, without_name
from companion.domain.session_state import SessionState

SID = "ledarskap-2020-05-05"
ANNA, BO, CAJSA, DAVID = (
    "a1b2c3d4e5f60718",
    "0f1e2d3c4b5a6978",
    "1234567890abcdef",
    "fedcba0987654321",
)


class Log:
    """A session run through the domain rules, keeping the events it committed."""

    def __init__(self) -> None:
        self.state = SessionState(Session(SID, "Ledarskap"))
        self.events: list[ev.Event] = []

    def do(self, draft: ev.Draft, key: str | None = None) -> ev.Event:
        data = draft.data if key is None else {**draft.data, "key": key}
        event = ev.Event(
            SID, self.state.seq + 1, draft.type, data, 1_700_000_000.0 + len(self.events)
        )
        self.state.apply(event)
        self.events.append(event)
        return event

    def ask(self, who: str, text: str, name: str | None, where: str = "room") -> int:
        draft = self.state.board.ask(text, name, who, where, None, False)
        return int(self.do(draft, key=f"{who}/ask/k{len(self.events)}").data["id"])


def meeting() -> Log:
    """Named and anonymous questions, votes (one withdrawn), a merge, a hidden, a withdrawn
    and a muted asker's question, both audiences, and a poll answered and re-answered."""
    log = Log()
    board = log.state.board
    q1 = log.ask(ANNA, "Hur når vi de unga ledarna?", "Anna Andersson")
    q2 = log.ask(BO, "Hur når vi unga ledare?", None, "remote")
    q3 = log.ask(CAJSA, "Vem betalar för det här?", "Cajsa")
    q4 = log.ask(ANNA, "Något privat om min chef", None)
    q5 = log.ask(DAVID, "Spam spam", None, "remote")
    for voter, question in [(BO, q1), (CAJSA, q1), (DAVID, q2), (CAJSA, q2), (ANNA, q3)]:
        log.do(board.vote(question, voter, "remote" if voter in (BO, DAVID) else "room"))
    log.do(board.vote(q3, ANNA))  # withdrawn again
    log.do(board.vote(q3, DAVID, "remote"))
    log.do(board.merge(q2, q1))  # Cajsa voted for both: she counts once
    log.do(board.withdraw(q4, ANNA))
    log.do(board.hide_asker(q5))
    log.ask(DAVID, "Mer spam från samma person", None, "remote")  # withheld
    log.do(board.answer(q3))
    poll = int(
        log.do(log.state.polls.create("single", "Hur var förmiddagen?", ["Bra", "Dålig"])).data[
            "id"
        ]
    )
    log.do(log.state.polls.open(poll))
    for who, answer in [(ANNA, 1), (BO, 2), (CAJSA, 1), (BO, 1)]:
        log.do(
            log.state.polls.answer(poll, who, answer), key=f"{who}/poll.answer/x{len(log.events)}"
        )
    log.do(log.state.attendance.record(3, 2))
    return log


def folded(events: list[ev.Event]) -> SessionState:
    state = SessionState(Session(SID, "Ledarskap"))
    for event in events:
        state.apply(event)
    return state


def counts(state: SessionState) -> dict[str, Any]:
    """Every figure the report shows, without who."""
    board = state.board
    return {
        "questions": {
            q.id: (q.status.value, q.votes, q.where, q.merged_into, q.withheld, q.withdrawn)
            for q in board.questions.values()
        },
        "public_text": {q.id: q.text for q in board.questions.values() if q.is_public},
        "polls": {p.id: (results(p), p.respondents) for p in state.polls.polls.values()},
        "fairness": audience_figures(
            board.questions.values(), board.audience_of, {"room": 3, "remote": 2}
        ),
        "attendance": (state.attendance.peak_room, state.attendance.peak_remote),
    }


def test_a_scrubbed_log_folds_to_the_same_counts_with_nobody_in_it() -> None:
    log = meeting()
    new, removed = scrub(log.events)
    assert [(e.seq, e.type, e.at) for e in new] == [(e.seq, e.type, e.at) for e in log.events]
    assert counts(folded(new)) == counts(log.state)
    text = json.dumps([e.to_data() for e in new], ensure_ascii=False)
    for personal in (ANNA, BO, CAJSA, DAVID, "Anna Andersson", "Cajsa", "Något privat", "spam"):
        assert personal not in text
    assert "Hur når vi de unga ledarna?" in text and "Vem betalar för det här?" in text
    assert '"key"' not in text
    assert removed.participants == 4 and removed.names == 2 and removed.questions == 6
    assert removed.texts == 3 and removed.votes == 6 and removed.answers == 4
    state = folded(new)
    # No label links a question to its asker's other questions or votes.
    authors = [q.author for q in state.board.questions.values()]
    assert len(set(authors)) == len(authors) and all(is_label(a) for a in authors)
    voters = set().union(*(q.voters for q in state.board.questions.values()))
    assert not voters & set(authors)
    assert all(not state.board.asked_by(p) and not state.polls.answers_of(p) for p in (ANNA, BO))


def test_a_second_scrub_finds_nothing_personal() -> None:
    new, _ = scrub(meeting().events)
    again, removed = scrub(new)
    assert removed.empty and removed.participants == 0
    assert counts(folded(again)) == counts(folded(new))
    marker = ev.Event(SID, len(new) + 1, ev.SESSION_SCRUBBED, {"scope": "all"}, 0.0)
    assert scrubbed_already([*new, marker]) and not scrubbed_already(new)


def test_forgetting_one_participant_unlinks_only_them_and_keeps_names_and_texts() -> None:
    log = meeting()
    new, removed = scrub(log.events, participant=ANNA)
    state = folded(new)
    assert counts(state) == counts(log.state)
    assert not state.board.asked_by(ANNA) and not state.board.voted_by(ANNA)
    assert not state.polls.answers_of(ANNA)
    assert [q.id for q in state.board.asked_by(BO)] == [2] and state.polls.answers_of(BO)
    text = json.dumps([e.to_data() for e in new], ensure_ascii=False)
    assert ANNA not in text and BO in text and "Anna Andersson" in text
    assert removed.participants == 1 and removed.names == 0 and removed.texts == 0


def test_without_name_takes_the_name_off_one_question_only() -> None:
    log = meeting()
    new = without_name(log.events, 1)
    state = folded(new)
    assert state.board.questions[1].name is None and state.board.questions[3].name == "Cajsa"
    assert "Anna Andersson" not in json.dumps([e.to_data() for e in new], ensure_ascii=False)


def test_members_who_took_part_keep_only_a_label_after_the_scrub() -> None:
    """A members-only session's `member.joined` keeps the count for the report, not who."""
    log = meeting()
    log.do(
        ev.Draft(
            ev.MEMBER_JOINED,
            {"member": "0123456789abcdef", "name": "Åsa Öberg", "organisation": "Region"},
        )
    )
    before = scrub(meeting().events)[1].names
    new, removed = scrub(log.events)
    assert removed.names == before + 1
    joined = [e for e in new if e.type == ev.MEMBER_JOINED]
    assert len(joined) == 1 and is_label(joined[0].data["member"])
    assert joined[0].data["name"] == "" and joined[0].data["organisation"] == ""
    assert "Åsa" not in json.dumps([e.data for e in new], ensure_ascii=False)
    assert len(folded(new).members_present) == 1
    again, _ = scrub(new)
    assert [e.data for e in again if e.type == ev.MEMBER_JOINED] == [joined[0].data]
