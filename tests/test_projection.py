"""Tests of what clients are told: per-role snapshots and the change each event makes."""

from __future__ import annotations

import json

from companion.domain import events as ev
from companion.domain.programme import AgendaItem, ItemKind, Session, Speaker
from companion.domain.session_state import SessionState
from companion.services.projection import Change, project, snapshot

SESSION = Session(
    id="proj-test",
    title="Projektion",
    moderator=Speaker("Anki Udd", "samtalsledare", "Ledarna"),
    items=(
        AgendaItem("a", ItemKind.TALK, "Välkommen", minutes=10),
        AgendaItem("b", ItemKind.DISCUSSION, "Diskussion", minutes=30),
    ),
)

# Author ids are distinctive so that a leak anywhere in a message is found by a search.
ALICE, BOB, CAROL = "author-alice-7f3a", "author-bob-91c2", "author-carol-5d0e"


class Live:
    """A session state driven like the service, projecting each event as it is applied."""

    def __init__(self) -> None:
        self.state = SessionState(SESSION)

    def commit(self, draft: ev.Draft) -> Change:
        board = self.state.board
        ids = [draft.data.get("id"), draft.data.get("into"), board.highlighted]
        was_public = {i: board.questions[i].is_public for i in ids if i in board.questions}
        event = ev.Event(SESSION.id, self.state.seq + 1, draft.type, draft.data, 100.0)
        return project(self.state, self.state.apply(event), was_public)

    def ask(self, author: str, text: str = "Fråga?") -> int:
        s = self.state
        draft = s.board.ask(text, "Namn", author, "room", s.agenda.current, s.premoderation)
        self.commit(draft)
        return draft.data["id"]


def mixed_board() -> tuple[Live, dict[str, int]]:
    """Public, pending, hidden and merged questions by three authors, with votes."""
    live = Live()
    b = live.state.board
    ids = {"alice_live": live.ask(ALICE), "alice_hidden": live.ask(ALICE)}
    live.commit(b.hide(ids["alice_hidden"]))
    ids["carol_dup"] = live.ask(CAROL)
    live.commit(b.merge(ids["carol_dup"], ids["alice_live"]))
    live.commit(live.state.set_premoderation(True))
    ids["bob_pending"] = live.ask(BOB)
    ids["carol_pending"] = live.ask(CAROL)
    live.commit(live.state.set_premoderation(False))
    ids["carol_live"] = live.ask(CAROL)
    live.commit(b.vote(ids["alice_live"], BOB))
    live.commit(b.vote(ids["carol_live"], BOB))
    live.commit(b.vote(ids["carol_live"], ALICE))
    return live, ids


def test_participant_snapshot_shows_public_questions_and_own_pending_only() -> None:
    """A participant sees public questions and their own pending one, nothing else."""
    live, ids = mixed_board()
    snap = snapshot(live.state, moderator=False, participant=BOB)
    shown = {q["id"] for q in snap["questions"]}
    assert shown == {ids["alice_live"], ids["carol_live"], ids["bob_pending"]}
    assert snap["mine"] == [ids["bob_pending"]]
    assert sorted(snap["my_votes"]) == sorted([ids["alice_live"], ids["carol_live"]])


def test_participant_snapshot_contains_no_author_ids() -> None:
    """No author id appears anywhere in a participant's snapshot, not even their own."""
    live, _ = mixed_board()
    snap = snapshot(live.state, moderator=False, participant=BOB)
    text = json.dumps(snap)
    for author in (ALICE, BOB, CAROL):
        assert author not in text
    for question in snap["questions"]:
        assert "author" not in question
        assert "merged_into" not in question


def test_screen_snapshot_shows_only_public_questions() -> None:
    """Without a participant (the big screen) only public questions are shown."""
    live, ids = mixed_board()
    snap = snapshot(live.state, moderator=False, participant=None)
    assert {q["id"] for q in snap["questions"]} == {ids["alice_live"], ids["carol_live"]}
    assert snap["mine"] == [] and snap["my_votes"] == []


def test_moderator_snapshot_has_every_question_with_its_author() -> None:
    """The moderator sees every question, whatever its status, with author and merge."""
    live, ids = mixed_board()
    snap = snapshot(live.state, moderator=True, participant=None)
    views = {q["id"]: q for q in snap["questions"]}
    assert set(views) == set(ids.values())
    assert views[ids["bob_pending"]]["author"] == BOB
    assert views[ids["alice_hidden"]]["status"] == "hidden"
    assert views[ids["carol_dup"]]["merged_into"] == ids["alice_live"]
    assert views[ids["alice_live"]]["votes"] == 1
    assert views[ids["carol_live"]]["votes"] == 2


def test_snapshot_carries_session_and_agenda() -> None:
    """A snapshot includes the session settings and the running agenda."""
    live, _ = mixed_board()
    live.commit(live.state.agenda.step(+1))
    snap = snapshot(live.state, moderator=False, participant=BOB)
    assert snap["type"] == "snapshot"
    assert snap["session"]["moderator"]["name"] == "Anki Udd"
    assert snap["session"]["premoderation"] is False
    assert snap["agenda"]["current"] == "a"
    assert snap["agenda"]["next"] == "b"
    assert [i["status"] for i in snap["agenda"]["items"]] == ["live", "scheduled"]


def test_hiding_a_public_question_yields_a_public_removal() -> None:
    """Hiding a live question tells participants to remove it and the moderator its state."""
    live = Live()
    qid = live.ask(ALICE)
    change = live.commit(live.state.board.hide(qid))
    assert change.public == {"type": "questions", "questions": [], "removed": [qid]}
    assert change.moderator is not None
    assert [q["status"] for q in change.moderator["questions"]] == ["hidden"]
    assert change.moderator["questions"][0]["author"] == ALICE
    assert change.vote is None


def test_changes_of_non_public_questions_tell_participants_nothing() -> None:
    """Asking or hiding a pending question produces no public message."""
    live = Live()
    live.commit(live.state.set_premoderation(True))
    asked = live.commit(live.state.board.ask("Fråga?", None, BOB, "room", None, True))
    assert asked.public is None
    assert asked.moderator is not None and asked.moderator["questions"][0]["status"] == "pending"
    hidden = live.commit(live.state.board.hide(1))
    assert hidden.public is None
    assert hidden.moderator is not None and hidden.moderator["questions"][0]["id"] == 1


def test_asking_publicly_sends_the_question_without_author() -> None:
    """A live named question's change shows it to everyone, with the author only for
    moderators; an anonymous one carries its author to nobody, moderators included."""
    live = Live()
    s = live.state
    change = live.commit(s.board.ask("Hej?", "Alice", ALICE, "remote", None, False))
    assert change.public is not None and change.moderator is not None
    assert ALICE not in json.dumps(change.public)
    assert change.public["questions"][0]["text"] == "Hej?"
    assert change.moderator["questions"][0]["author"] == ALICE
    anonymous = live.commit(s.board.ask("Och?", None, ALICE, "remote", None, False))
    assert anonymous.moderator is not None and anonymous.public is not None
    assert ALICE not in json.dumps(anonymous.moderator) + json.dumps(anonymous.public)


def test_a_muted_askers_later_questions_reach_no_moderator() -> None:
    """After `hide_asker`, the asker's next question is hidden and sent to nobody."""
    live = Live()
    s = live.state
    first = live.commit(s.board.ask("Först", None, ALICE, "room", None, False))
    assert first.moderator is not None
    abuse = first.moderator["questions"][0]["id"]
    muted = live.commit(s.board.hide_asker(abuse))
    assert muted.moderator is not None and muted.moderator["questions"][0]["status"] == "hidden"
    later = live.commit(s.board.ask("Sedan", None, ALICE, "room", None, False))
    assert later.moderator is None and later.public is None
    assert "Sedan" not in json.dumps(snapshot(s, True, None))
    other = live.commit(s.board.ask("Annan", None, BOB, "room", None, False))
    assert other.moderator is not None and other.moderator["questions"][0]["status"] == "live"


def test_approving_a_pending_question_publishes_it() -> None:
    """Approval makes the question appear in the public message."""
    live = Live()
    live.commit(live.state.set_premoderation(True))
    qid = live.ask(BOB)
    change = live.commit(live.state.board.approve(qid))
    assert change.public is not None
    assert [q["id"] for q in change.public["questions"]] == [qid]
    assert change.public["removed"] == []


def test_vote_events_yield_only_the_new_count() -> None:
    """Cast and withdraw produce Change.vote=(id, count) and no messages."""
    live = Live()
    qid = live.ask(ALICE)
    cast = live.commit(live.state.board.vote(qid, BOB))
    assert (cast.vote, cast.public, cast.moderator) == ((qid, 1), None, None)
    live.commit(live.state.board.vote(qid, CAROL))
    withdrawn = live.commit(live.state.board.vote(qid, BOB))
    assert (withdrawn.vote, withdrawn.public, withdrawn.moderator) == ((qid, 1), None, None)
    assert withdrawn.seq == live.state.seq
    assert withdrawn.session_id == SESSION.id


def test_highlight_change_includes_the_previous_highlight() -> None:
    """Moving the highlight sends both questions so clients can update both."""
    live = Live()
    first, second = live.ask(ALICE), live.ask(BOB)
    live.commit(live.state.board.highlight(first))
    change = live.commit(live.state.board.highlight(second))
    assert change.public is not None
    statuses = {q["id"]: q["status"] for q in change.public["questions"]}
    assert statuses == {first: "live", second: "highlighted"}


def test_agenda_and_settings_events_go_to_everyone() -> None:
    """Agenda and session events send the same body to participants and moderators."""
    live = Live()
    moved = live.commit(live.state.agenda.step(+1))
    assert moved.public == moved.moderator
    assert moved.public is not None and moved.public["type"] == "agenda"
    assert moved.public["agenda"]["current"] == "a"
    setting = live.commit(live.state.set_premoderation(True))
    assert setting.public == setting.moderator
    assert setting.public is not None and setting.public["type"] == "session"
    session = setting.public["session"]
    assert (session["id"], session["title"], session["premoderation"]) == (
        SESSION.id,
        "Projektion",
        True,
    )
    assert session["moderator"] == {
        "name": "Anki Udd",
        "title": "samtalsledare",
        "organisation": "Ledarna",
    }
