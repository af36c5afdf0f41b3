"""The question queue of one session: asking, moderation, merging, highlighting and votes.

Commands (`ask`, `approve`, ...) check the rules against the current state and return a
`Draft` without changing anything; `apply` folds a committed event into the state. Votes
are counted here: a question's count is the size of its set of voters, so a participant
counts once per question whatever merges happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import InvalidState, InvalidText, NotFound

MAX_QUESTION_CHARS = 500
MAX_NAME_CHARS = 60


class QuestionStatus(StrEnum):
    """Where a question is in the moderation flow."""

    PENDING = "pending"
    LIVE = "live"
    HIGHLIGHTED = "highlighted"
    ANSWERED = "answered"
    HIDDEN = "hidden"
    MERGED = "merged"


PUBLIC_STATUSES = frozenset(
    {QuestionStatus.LIVE, QuestionStatus.HIGHLIGHTED, QuestionStatus.ANSWERED}
)
VOTABLE_STATUSES = frozenset({QuestionStatus.LIVE, QuestionStatus.HIGHLIGHTED})


@dataclass(slots=True)
class Question:
    """A participant's question and everything that happened to it."""

    id: int
    text: str
    name: str | None
    author: str
    where: str
    item_id: str | None
    asked_at: float
    status: QuestionStatus
    voters: set[str] = field(default_factory=set)
    edited: bool = False
    answered_at: float | None = None
    merged_into: int | None = None
    merged_from: list[int] = field(default_factory=list)
    # Asked by a muted asker: hidden on arrival and kept from moderators, screens and
    # reports, since showing it would link it to the question its asker was muted for.
    withheld: bool = False
    withdrawn: bool = False  # taken back by its asker: hidden, and no moderator republishes it

    @property
    def votes(self) -> int:
        """Number of distinct participants who back this question."""
        return len(self.voters)

    @property
    def is_public(self) -> bool:
        """Whether participants and the big screen may see it."""
        return self.status in PUBLIC_STATUSES


def _require_unicode(text: str, what: str) -> None:
    # JSON can carry lone surrogates ("\ud800"), which no UTF-8 store or page can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidText(f"The {what} contains characters that are not valid text.") from None


def clean_text(text: object) -> str:
    """A question text trimmed and checked against the length limits."""
    if not isinstance(text, str):
        raise InvalidText("The question must be text.")
    _require_unicode(text, "question")
    text = text.strip()
    if not text:
        raise InvalidText("The question is empty.", code="text_empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidText(
            f"The question is longer than {MAX_QUESTION_CHARS} characters.", code="text_too_long"
        )
    return text


def clean_name(name: object) -> str | None:
    """A display name trimmed, or None for anonymous; checked against the length limit."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidText("The name must be text.")
    _require_unicode(name, "name")
    name = " ".join(name.split())
    if not name:
        return None
    if len(name) > MAX_NAME_CHARS:
        raise InvalidText(f"The name is longer than {MAX_NAME_CHARS} characters.", "name_too_long")
    return name


class QuestionBoard:
    """All questions of one session and the rules that govern them."""

    def __init__(self) -> None:
        self.questions: dict[int, Question] = {}
        self.highlighted: int | None = None
        self._next_id = 1
        self._muted: set[str] = set()  # participants whose later questions are withheld
        # Each participant's audience (room or remote), from their questions and votes: the
        # fairness figures count votes per audience. Votes logged before votes carried it
        # belong to no audience unless their voter also asked.
        self.audience_of: dict[str, str] = {}

    # -- queries -----------------------------------------------------------------------
    def get(self, question_id: Any) -> Question:
        """The question with this id, or NotFound."""
        if not isinstance(question_id, int) or isinstance(question_id, bool):
            raise NotFound("No such question.")
        question = self.questions.get(question_id)
        if question is None or question.withheld:  # a moderator must not probe for them
            raise NotFound(f"No question {question_id}.")
        return question

    def seen_by_moderators(self) -> list[Question]:
        """Every question except those withheld from a muted asker."""
        return [q for q in self.questions.values() if not q.withheld]

    def asked_by(self, participant: str) -> list[Question]:
        """The questions this participant asked (their own data, withheld ones included)."""
        return [q for q in self.questions.values() if q.author == participant]

    def _own(self, question_id: Any, participant: str) -> Question:
        # Another participant's question answers exactly as a missing one, so nobody can
        # probe which questions are whose.
        if not isinstance(question_id, int) or isinstance(question_id, bool):
            raise NotFound("No such question.")
        question = self.questions.get(question_id)
        if question is None or question.author != participant:
            raise NotFound(f"You have no question {question_id}.")
        return question

    def voted_by(self, participant: str) -> list[int]:
        """Ids of the questions this participant currently backs."""
        return [q.id for q in self.questions.values() if participant in q.voters]

    # -- commands ----------------------------------------------------------------------
    def ask(
        self,
        text: Any,
        name: Any,
        author: str,
        where: str,
        item_id: str | None,
        premoderated: bool,
    ) -> ev.Draft:
        """A participant asks; held as pending when the session pre-moderates."""
        status = QuestionStatus.PENDING if premoderated else QuestionStatus.LIVE
        if author in self._muted:
            status = QuestionStatus.HIDDEN
        return ev.Draft(
            ev.QUESTION_ASKED,
            {
                "id": self._next_id,
                "text": clean_text(text),
                "name": clean_name(name),
                "author": author,
                "where": where,
                "item_id": item_id,
                "status": status.value,
            },
        )

    def vote(self, question_id: Any, participant: str, where: str | None = None) -> ev.Draft:
        """Toggle this participant's vote: cast it, or withdraw it when already cast. `where`
        (room or remote) is the voter's audience, recorded with a cast vote."""
        question = self.get(question_id)
        if question.status == QuestionStatus.MERGED:
            raise InvalidState(
                f"Question {question.id} was merged into {question.merged_into}.",
                code="question_merged",
            )
        if participant in question.voters:
            return ev.Draft(ev.VOTE_WITHDRAWN, {"id": question.id, "participant": participant})
        if question.status not in VOTABLE_STATUSES:
            raise InvalidState("This question is not open for votes.", code="question_closed")
        data: dict[str, Any] = {"id": question.id, "participant": participant}
        if where is not None:
            data["where"] = where
        return ev.Draft(ev.VOTE_CAST, data)

    def unname(self, question_id: Any, participant: str) -> ev.Draft:
        """The asker removes their name from their own question."""
        question = self._own(question_id, participant)
        if question.name is None:
            raise InvalidState("The question has no name.", code="no_name")
        return ev.Draft(ev.QUESTION_UNNAMED, {"id": question.id})

    def withdraw(self, question_id: Any, participant: str) -> ev.Draft:
        """The asker takes their own question back: it is hidden for everyone."""
        question = self._own(question_id, participant)
        if question.withdrawn:
            raise InvalidState("The question is already withdrawn.", code="question_withdrawn")
        if question.status == QuestionStatus.MERGED:
            raise InvalidState("A merged question cannot be withdrawn.", code="question_merged")
        return ev.Draft(ev.QUESTION_WITHDRAWN, {"id": question.id})

    def approve(self, question_id: Any) -> ev.Draft:
        """Publish a pending or hidden question, or reopen an answered one (never one its
        asker withdrew)."""
        question = self.get(question_id)
        if question.withdrawn:
            raise InvalidState("The asker withdrew this question.", code="question_withdrawn")
        self._require(
            question, {QuestionStatus.PENDING, QuestionStatus.HIDDEN, QuestionStatus.ANSWERED}
        )
        return ev.Draft(ev.QUESTION_APPROVED, {"id": question.id})

    def hide(self, question_id: Any) -> ev.Draft:
        """Take a question out of public view."""
        question = self.get(question_id)
        self._require(
            question,
            {
                QuestionStatus.PENDING,
                QuestionStatus.LIVE,
                QuestionStatus.HIGHLIGHTED,
                QuestionStatus.ANSWERED,
            },
        )
        return ev.Draft(ev.QUESTION_HIDDEN, {"id": question.id})

    def hide_asker(self, question_id: Any) -> ev.Draft:
        """Hide this question and everything its asker sends later in this session,
        without telling the moderator who the asker is or which other questions are theirs
        (their earlier questions stay as they are: hiding them would show the link)."""
        question = self.get(question_id)
        if question.status == QuestionStatus.MERGED:
            raise InvalidState("A merged question cannot be hidden.", code="question_merged")
        return ev.Draft(ev.ASKER_HIDDEN, {"id": question.id})

    def edit(self, question_id: Any, text: Any) -> ev.Draft:
        """Replace a question's text (typos, names that should not be shown)."""
        question = self.get(question_id)
        if question.status == QuestionStatus.MERGED:
            raise InvalidState("A merged question cannot be edited.", code="question_merged")
        return ev.Draft(ev.QUESTION_EDITED, {"id": question.id, "text": clean_text(text)})

    def merge(self, duplicate_id: Any, target_id: Any) -> ev.Draft:
        """Fold a duplicate into another question; their voters are united."""
        duplicate = self.get(duplicate_id)
        target = self.get(target_id)
        if duplicate.id == target.id:
            raise InvalidState("A question cannot be merged into itself.")
        for question in (duplicate, target):
            if question.status == QuestionStatus.MERGED:
                raise InvalidState(f"Question {question.id} is already merged.", "question_merged")
        return ev.Draft(ev.QUESTION_MERGED, {"id": duplicate.id, "into": target.id})

    def highlight(self, question_id: Any) -> ev.Draft:
        """Put one question on the big screen; the previous one goes back to live."""
        question = self.get(question_id)
        self._require(
            question, {QuestionStatus.PENDING, QuestionStatus.LIVE, QuestionStatus.ANSWERED}
        )
        return ev.Draft(ev.QUESTION_HIGHLIGHTED, {"id": question.id})

    def unhighlight(self, question_id: Any) -> ev.Draft:
        """Take the highlighted question off the big screen."""
        question = self.get(question_id)
        self._require(question, {QuestionStatus.HIGHLIGHTED})
        return ev.Draft(ev.QUESTION_UNHIGHLIGHTED, {"id": question.id})

    def answer(self, question_id: Any) -> ev.Draft:
        """Mark a question answered."""
        question = self.get(question_id)
        self._require(
            question, {QuestionStatus.PENDING, QuestionStatus.LIVE, QuestionStatus.HIGHLIGHTED}
        )
        return ev.Draft(ev.QUESTION_ANSWERED, {"id": question.id})

    @staticmethod
    def _require(question: Question, allowed: set[QuestionStatus]) -> None:
        if question.status not in allowed:
            code = "question_merged" if question.status == QuestionStatus.MERGED else None
            raise InvalidState(f"Question {question.id} is {question.status.value}.", code)

    # -- state changes -----------------------------------------------------------------
    def apply(self, event: ev.Event) -> list[int]:
        """Fold one committed event into the board; returns the ids of changed questions."""
        d = event.data
        if event.type == ev.QUESTION_ASKED:
            question = Question(
                id=d["id"],
                text=d["text"],
                name=d["name"],
                author=d["author"],
                where=d["where"],
                item_id=d["item_id"],
                asked_at=event.at,
                status=QuestionStatus(d["status"]),
                # Explicit once the log is scrubbed (the author is then no longer the asker).
                withheld=d.get("withheld", False) or d["author"] in self._muted,
            )
            self.questions[question.id] = question
            self.audience_of[question.author] = question.where
            self._next_id = max(self._next_id, question.id + 1)
            return [question.id]
        question = self.questions[d["id"]]
        changed = [question.id]
        match event.type:
            case ev.VOTE_CAST:
                question.voters.add(d["participant"])
                if "where" in d:
                    self.audience_of[d["participant"]] = d["where"]
            case ev.VOTE_WITHDRAWN:
                question.voters.discard(d["participant"])
            case ev.QUESTION_APPROVED:
                self._set_status(question, QuestionStatus.LIVE)
                question.answered_at = None
            case ev.QUESTION_HIDDEN:
                self._set_status(question, QuestionStatus.HIDDEN)
            case ev.ASKER_HIDDEN:
                self._set_status(question, QuestionStatus.HIDDEN)
                self._muted.add(question.author)
            case ev.QUESTION_WITHDRAWN:
                self._set_status(question, QuestionStatus.HIDDEN)
                question.withdrawn = True
            case ev.QUESTION_UNNAMED:
                question.name = None
            case ev.QUESTION_EDITED:
                question.text = d["text"]
                question.edited = True
            case ev.QUESTION_ANSWERED:
                self._set_status(question, QuestionStatus.ANSWERED)
                question.answered_at = event.at
            case ev.QUESTION_UNHIGHLIGHTED:
                self._set_status(question, QuestionStatus.LIVE)
            case ev.QUESTION_HIGHLIGHTED:
                previous = self.highlighted
                if previous is not None and previous != question.id:
                    self._set_status(self.questions[previous], QuestionStatus.LIVE)
                    changed.append(previous)
                question.status = QuestionStatus.HIGHLIGHTED
                self.highlighted = question.id
            case ev.QUESTION_MERGED:
                target = self.questions[d["into"]]
                self._set_status(question, QuestionStatus.MERGED)
                question.merged_into = target.id
                target.voters |= question.voters
                target.merged_from.append(question.id)
                changed.append(target.id)
            case _:
                raise ValueError(f"not a question event: {event.type}")
        return changed

    def _set_status(self, question: Question, status: QuestionStatus) -> None:
        if self.highlighted == question.id:
            self.highlighted = None
        question.status = status
