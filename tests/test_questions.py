"""Tests of the question queue: asking, votes, moderation, highlighting and merging.

Every command is driven the way the session service drives it: the board decides a
Draft, the Draft becomes an Event with the next seq, and SessionState applies it.
"""

from __future__ import annotations

import pytest

from companion.domain import events as ev
from companion.domain.errors import DomainError, InvalidState, InvalidText, NotFound
from companion.domain.programme import AgendaItem, ItemKind, Session
from companion.domain.questions import QuestionBoard, QuestionStatus
from companion.domain.session_state import Applied, SessionState

SESSION = Session(
    id="test-session",
    title="Testsession",
    items=(
        AgendaItem("intro", ItemKind.TALK, "Inledning", minutes=10),
        AgendaItem("samtal", ItemKind.DIALOGUE, "Samtal", minutes=30),
    ),
)


class Room:
    """A SessionState driven like the service: decide, wrap in an Event, apply."""

    def __init__(self, premoderation: bool = False) -> None:
        self.state = SessionState(SESSION, premoderation=premoderation)
        self.now = 1_000.0

    @property
    def board(self) -> QuestionBoard:
        return self.state.board

    def commit(self, draft: ev.Draft) -> Applied:
        self.now += 1.0
        event = ev.Event(SESSION.id, self.state.seq + 1, draft.type, draft.data, self.now)
        return self.state.apply(event)

    def ask(self, text: object = "Hur går det?", name: object = None, author: str = "p1") -> int:
        draft = self.board.ask(
            text, name, author, "room", self.state.agenda.current, self.state.premoderation
        )
        self.commit(draft)
        return draft.data["id"]

    def vote(self, question: object, participant: str) -> ev.Draft:
        draft = self.board.vote(question, participant)
        self.commit(draft)
        return draft

    def do(self, action: str, question: object, *args: object) -> Applied:
        return self.commit(getattr(self.board, action)(question, *args))

    def status(self, question: int) -> QuestionStatus:
        return self.board.questions[question].status


def assert_code(exc_info: pytest.ExceptionInfo[DomainError], code: str) -> None:
    assert exc_info.value.code == code


# -- asking --------------------------------------------------------------------------


def test_ask_trims_text_and_stores_a_live_question() -> None:
    """A question's text is stored trimmed, with its author, place and a fresh id."""
    room = Room()
    qid = room.ask("   Vad kostar en omorganisation?  \n", author="p1")
    question = room.board.questions[qid]
    assert qid == 1
    assert question.text == "Vad kostar en omorganisation?"
    assert question.author == "p1"
    assert question.where == "room"
    assert question.status == QuestionStatus.LIVE
    assert question.asked_at == room.now
    assert room.ask("Och sedan?") == 2


def test_ask_accepts_exactly_500_characters() -> None:
    """A text of 1 and of 500 characters (after trimming) is accepted."""
    room = Room()
    long_id = room.ask("  " + "å" * 500 + "  ")
    short_id = room.ask("?")
    assert room.board.questions[long_id].text == "å" * 500
    assert room.board.questions[short_id].text == "?"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "text_empty"),
        ("   \n\t ", "text_empty"),
        ("x" * 501, "text_too_long"),
        (None, "invalid_text"),
        (42, "invalid_text"),
    ],
)
def test_ask_rejects_bad_text(text: object, code: str) -> None:
    """Empty, too long or non-text questions are refused with a stable code."""
    room = Room()
    with pytest.raises(InvalidText) as exc_info:
        room.board.ask(text, None, "p1", "room", None, False)
    assert_code(exc_info, code)
    assert room.board.questions == {}


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("  Anna   Svensson\t", "Anna Svensson"),
        ("Örjan", "Örjan"),
        ("n" * 60, "n" * 60),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_ask_cleans_the_name(name: object, stored: str | None) -> None:
    """Names have whitespace collapsed; empty or missing names mean anonymous."""
    room = Room()
    qid = room.ask(name=name)
    assert room.board.questions[qid].name == stored


@pytest.mark.parametrize(("name", "code"), [("n" * 61, "name_too_long"), (7, "invalid_text")])
def test_ask_rejects_bad_names(name: object, code: str) -> None:
    """Names longer than 60 characters or not text are refused."""
    room = Room()
    with pytest.raises(InvalidText) as exc_info:
        room.board.ask("Fråga", name, "p1", "room", None, False)
    assert_code(exc_info, code)


def test_ask_under_premoderation_is_pending_and_not_public() -> None:
    """With pre-moderation on, a new question waits as pending and is not public."""
    room = Room(premoderation=True)
    qid = room.ask()
    assert room.status(qid) == QuestionStatus.PENDING
    assert not room.board.questions[qid].is_public


def test_ask_records_the_current_agenda_item() -> None:
    """A question is filed under the item that is current when it is asked."""
    room = Room()
    room.commit(room.state.agenda.step(+1))
    qid = room.ask()
    assert room.board.questions[qid].item_id == "intro"


# -- votes ---------------------------------------------------------------------------


def test_vote_toggles_cast_then_withdraw() -> None:
    """The first vote casts, the second by the same participant withdraws it."""
    room = Room()
    qid = room.ask()
    first = room.vote(qid, "v1")
    assert first.type == ev.VOTE_CAST
    assert room.board.questions[qid].votes == 1
    assert room.board.voted_by("v1") == [qid]
    second = room.vote(qid, "v1")
    assert second.type == ev.VOTE_WITHDRAWN
    assert room.board.questions[qid].votes == 0
    assert room.board.voted_by("v1") == []


def test_votes_count_distinct_participants() -> None:
    """Each participant counts once per question."""
    room = Room()
    qid = room.ask()
    for participant in ("a", "b", "c"):
        room.vote(qid, participant)
    assert room.board.questions[qid].votes == 3


@pytest.mark.parametrize("action", ["pending", "hide", "answer"])
def test_vote_on_a_closed_question_is_rejected(action: str) -> None:
    """Pending, hidden and answered questions cannot get new votes (question_closed)."""
    room = Room(premoderation=action == "pending")
    qid = room.ask()
    if action != "pending":
        room.do(action, qid)
    with pytest.raises(InvalidState) as exc_info:
        room.board.vote(qid, "v1")
    assert_code(exc_info, "question_closed")


def test_vote_on_a_highlighted_question_is_allowed() -> None:
    """The highlighted question stays open for votes."""
    room = Room()
    qid = room.ask()
    room.do("highlight", qid)
    room.vote(qid, "v1")
    assert room.board.questions[qid].votes == 1


# -- moderation state rules ----------------------------------------------------------


@pytest.mark.parametrize("before", ["pending", "hide", "answer"])
def test_approve_makes_pending_hidden_or_answered_questions_live(before: str) -> None:
    """Approve publishes a pending or hidden question and reopens an answered one."""
    room = Room(premoderation=before == "pending")
    qid = room.ask()
    if before != "pending":
        room.do(before, qid)
    room.do("approve", qid)
    assert room.status(qid) == QuestionStatus.LIVE


@pytest.mark.parametrize("before", [None, "highlight"])
def test_approve_of_a_live_or_highlighted_question_is_refused(before: str | None) -> None:
    """Approving a question that is already public is an invalid_state."""
    room = Room()
    qid = room.ask()
    if before:
        room.do(before, qid)
    with pytest.raises(InvalidState) as exc_info:
        room.board.approve(qid)
    assert_code(exc_info, "invalid_state")


def test_hide_takes_a_question_out_of_view_once() -> None:
    """A live question can be hidden; hiding it again is refused."""
    room = Room()
    qid = room.ask()
    room.do("hide", qid)
    assert room.status(qid) == QuestionStatus.HIDDEN
    assert not room.board.questions[qid].is_public
    with pytest.raises(InvalidState):
        room.board.hide(qid)


def test_hide_of_a_pending_question_is_allowed() -> None:
    """A moderator can reject a pending question by hiding it."""
    room = Room(premoderation=True)
    qid = room.ask()
    room.do("hide", qid)
    assert room.status(qid) == QuestionStatus.HIDDEN


def test_edit_replaces_the_text_and_marks_it_edited() -> None:
    """Edit stores the trimmed new text and flags the question as edited."""
    room = Room()
    qid = room.ask("Vad kostar det, sa Kalle Anka?")
    room.do("edit", qid, "  Vad kostar det?  ")
    question = room.board.questions[qid]
    assert question.text == "Vad kostar det?"
    assert question.edited
    assert question.status == QuestionStatus.LIVE


@pytest.mark.parametrize(("text", "code"), [("  ", "text_empty"), ("x" * 501, "text_too_long")])
def test_edit_checks_the_new_text(text: str, code: str) -> None:
    """Edit refuses an empty or too long text and keeps the old one."""
    room = Room()
    qid = room.ask("Original")
    with pytest.raises(InvalidText) as exc_info:
        room.board.edit(qid, text)
    assert_code(exc_info, code)
    assert room.board.questions[qid].text == "Original"


def test_answer_marks_answered_with_time_and_only_once() -> None:
    """Answer records when it happened; answering an answered question is refused."""
    room = Room()
    qid = room.ask()
    room.do("answer", qid)
    question = room.board.questions[qid]
    assert question.status == QuestionStatus.ANSWERED
    assert question.answered_at == room.now
    assert question.is_public
    with pytest.raises(InvalidState):
        room.board.answer(qid)


def test_answer_of_a_hidden_question_is_refused() -> None:
    """A hidden question must be approved before it can be answered."""
    room = Room()
    qid = room.ask()
    room.do("hide", qid)
    with pytest.raises(InvalidState):
        room.board.answer(qid)


# -- highlighting --------------------------------------------------------------------


def highlighted(room: Room) -> list[int]:
    return [q.id for q in room.board.questions.values() if q.status == QuestionStatus.HIGHLIGHTED]


def test_highlight_keeps_at_most_one_highlighted_question() -> None:
    """Highlighting another question sends the previous one back to live."""
    room = Room()
    first, second = room.ask("Första"), room.ask("Andra")
    room.do("highlight", first)
    assert highlighted(room) == [first]
    applied = room.do("highlight", second)
    assert highlighted(room) == [second]
    assert room.board.highlighted == second
    assert room.status(first) == QuestionStatus.LIVE
    assert sorted(applied.questions) == [first, second]


def test_highlight_of_a_hidden_question_is_refused() -> None:
    """Hidden questions cannot be put on the big screen."""
    room = Room()
    qid = room.ask()
    room.do("hide", qid)
    with pytest.raises(InvalidState):
        room.board.highlight(qid)


def test_unhighlight_returns_the_question_to_live() -> None:
    """Unhighlight clears the highlight and the question is live again."""
    room = Room()
    qid = room.ask()
    room.do("highlight", qid)
    room.do("unhighlight", qid)
    assert room.status(qid) == QuestionStatus.LIVE
    assert room.board.highlighted is None
    with pytest.raises(InvalidState):
        room.board.unhighlight(qid)


@pytest.mark.parametrize(
    ("action", "status"), [("hide", QuestionStatus.HIDDEN), ("answer", QuestionStatus.ANSWERED)]
)
def test_hide_or_answer_of_the_highlighted_question_clears_the_highlight(
    action: str, status: QuestionStatus
) -> None:
    """Hiding or answering the highlighted question leaves nothing highlighted."""
    room = Room()
    qid = room.ask()
    other = room.ask("Annan")
    room.do("highlight", qid)
    room.do(action, qid)
    assert room.status(qid) == status
    assert room.board.highlighted is None
    # The next highlight must not resurrect the old one as live.
    room.do("highlight", other)
    assert room.status(qid) == status
    assert highlighted(room) == [other]


# -- merging -------------------------------------------------------------------------


def test_merge_unites_voters_so_a_double_voter_counts_once() -> None:
    """After a merge the target's voters are the union of both questions' voters."""
    room = Room()
    target, duplicate = room.ask("Vad kostar det?"), room.ask("Vad kostar det egentligen?")
    for participant in ("anna", "bo"):
        room.vote(target, participant)
    for participant in ("bo", "cecilia"):
        room.vote(duplicate, participant)
    applied = room.do("merge", duplicate, target)
    merged = room.board.questions[duplicate]
    kept = room.board.questions[target]
    assert kept.voters == {"anna", "bo", "cecilia"}
    assert kept.votes == 3
    assert merged.status == QuestionStatus.MERGED
    assert merged.merged_into == target
    assert kept.merged_from == [duplicate]
    assert not merged.is_public
    assert sorted(applied.questions) == sorted([duplicate, target])


def test_merged_question_cannot_be_voted() -> None:
    """Votes (even a withdrawal by an earlier voter) on a merged question are refused."""
    room = Room()
    target, duplicate = room.ask("A"), room.ask("B")
    room.vote(duplicate, "anna")
    room.do("merge", duplicate, target)
    for participant in ("anna", "bo"):
        with pytest.raises(InvalidState) as exc_info:
            room.board.vote(duplicate, participant)
        assert_code(exc_info, "question_merged")


def test_merged_question_cannot_be_merged_again_either_way() -> None:
    """A merged question can be neither the duplicate nor the target of a new merge."""
    room = Room()
    target, duplicate, third = room.ask("A"), room.ask("B"), room.ask("C")
    room.do("merge", duplicate, target)
    for args in ((duplicate, third), (third, duplicate)):
        with pytest.raises(InvalidState) as exc_info:
            room.board.merge(*args)
        assert_code(exc_info, "question_merged")


def test_merged_question_cannot_be_edited_or_moderated() -> None:
    """Edit, approve, hide, highlight and answer of a merged question say question_merged."""
    room = Room()
    target, duplicate = room.ask("A"), room.ask("B")
    room.do("merge", duplicate, target)
    for action, args in [
        ("edit", ("Ny text",)),
        ("approve", ()),
        ("hide", ()),
        ("highlight", ()),
        ("answer", ()),
    ]:
        with pytest.raises(InvalidState) as exc_info:
            getattr(room.board, action)(duplicate, *args)
        assert_code(exc_info, "question_merged")


def test_merge_into_itself_is_refused() -> None:
    """A question cannot be merged into itself."""
    room = Room()
    qid = room.ask()
    with pytest.raises(InvalidState):
        room.board.merge(qid, qid)
    assert room.status(qid) == QuestionStatus.LIVE


def test_merge_of_the_highlighted_duplicate_clears_the_highlight() -> None:
    """Merging away the highlighted question leaves nothing highlighted."""
    room = Room()
    target, duplicate = room.ask("A"), room.ask("B")
    room.do("highlight", duplicate)
    room.do("merge", duplicate, target)
    assert room.board.highlighted is None
    assert highlighted(room) == []


# -- unknown ids ---------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [99, 0, -1, "1", True, None, 1.0])
@pytest.mark.parametrize("action", ["approve", "hide", "highlight", "unhighlight", "answer"])
def test_unknown_or_non_int_ids_are_not_found(action: str, bad_id: object) -> None:
    """Moderator commands on unknown or non-integer ids raise NotFound."""
    room = Room()
    room.ask()
    with pytest.raises(NotFound) as exc_info:
        getattr(room.board, action)(bad_id)
    assert_code(exc_info, "not_found")


@pytest.mark.parametrize("bad_id", [99, "1", True, None])
def test_vote_edit_and_merge_of_unknown_ids_are_not_found(bad_id: object) -> None:
    """Vote, edit and merge (on either side) with a bad id raise NotFound."""
    room = Room()
    qid = room.ask()
    calls = [
        lambda: room.board.vote(bad_id, "v1"),
        lambda: room.board.edit(bad_id, "text"),
        lambda: room.board.merge(bad_id, qid),
        lambda: room.board.merge(qid, bad_id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
