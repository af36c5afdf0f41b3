"""Storage limitation: a session's event log rewritten without personal data.

A session's log is the truth its state, its replay and its report are folded from, so the
personal data is taken out of the log itself: every event keeps its seq, type and time,
and only the personal fields change. The result folds to the same counts (votes per
question, merges, poll results, the fairness figures) with nobody in it:

- names on questions are removed;
- a participant id is replaced by a random label that nothing else holds (the mapping is
  never kept): per question for its asker, per merged group of questions for a voter and
  per poll for an answer, so the labels do not even link one unknown person's votes on
  unrelated questions or their answers to different polls;
- the text of a question that was never public (hidden, withdrawn, pending, withheld from
  a muted asker) is removed, here and in its edits;
- request keys, which begin with the sender's participant id, are dropped;
- a raised hand (companion.domain.hands) keeps no participant id, name or topic;
- a member who took part in a members-only session (`member.joined`) keeps only a label:
  the report then counts them without their name or organisation.

With `participant` set, only that participant's ids and keys are replaced (a device
forgotten); names and texts stay.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from companion.domain import events as ev
from companion.domain.questions import Question, QuestionBoard, QuestionStatus

ALL = "all"
PARTICIPANT = "participant"
LABEL_PREFIX = "anon-"  # participant ids are hex, so a label never equals one
KEY_FIELD = "key"  # companion.services.request_keys stores it under this name
UNPUBLISHED = frozenset({QuestionStatus.HIDDEN, QuestionStatus.PENDING})


@dataclass(frozen=True, slots=True)
class Removal:
    """What one scrub takes out of a log, counted for `companion retention run --dry-run`."""

    participants: int = 0  # distinct participant ids unlinked
    names: int = 0  # questions whose asker's name is removed
    questions: int = 0  # questions whose asker is unlinked
    votes: int = 0  # vote events unlinked from their voter
    answers: int = 0  # poll answers unlinked from who answered
    texts: int = 0  # texts of questions that were never public, removed

    @property
    def empty(self) -> bool:
        """Nothing personal was left to remove."""
        return not (self.participants or self.names or self.texts)


def is_label(participant: str) -> bool:
    """Whether an id is a scrub's label rather than a participant's id."""
    return participant.startswith(LABEL_PREFIX)


class _Labels:
    """Random labels, one per key, forgotten with this object."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[Any, ...], str] = {}

    def __call__(self, *key: Any) -> str:
        label = self._by_key.get(key)
        if label is None:
            label = self._by_key[key] = LABEL_PREFIX + secrets.token_hex(8)
        return label


def _final_board(events: Iterable[ev.Event]) -> QuestionBoard:
    board = QuestionBoard()
    for event in events:
        if event.type.split(".", 1)[0] in ("question", "vote"):
            board.apply(event)
    return board


def _root(board: QuestionBoard, question_id: int) -> int:
    """The question a merged duplicate finally went into (votes are united there)."""
    question = board.questions[question_id]
    while question.merged_into is not None:
        question = board.questions[question.merged_into]
    return question.id


def _text_removed(question: Question) -> bool:
    return question.withheld or question.withdrawn or question.status in UNPUBLISHED


def scrub(events: list[ev.Event], participant: str | None = None) -> tuple[list[ev.Event], Removal]:
    """The log without personal data (or without `participant`'s ids), and what went."""
    board = _final_board(events)
    label = _Labels()
    everyone = participant is None

    def mine(who: object) -> bool:
        return isinstance(who, str) and not is_label(who) and (everyone or who == participant)

    unlinked: set[str] = set()
    names = questions = votes = answers = texts = 0
    out = []
    for event in events:
        data = dict(event.data)
        key = data.get(KEY_FIELD)
        if isinstance(key, str) and mine(key.split("/", 1)[0]):
            del data[KEY_FIELD]
        kind = event.type
        if kind == ev.QUESTION_ASKED:
            question = board.questions[data["id"]]
            data["withheld"] = question.withheld  # the mute is by author, which goes
            if mine(data["author"]):
                unlinked.add(data["author"])
                data["author"] = label("asker", data["id"])
                questions += 1
            if everyone and data.get("name") is not None:
                data["name"] = None
                names += 1
            if everyone and _text_removed(question) and data["text"]:
                data["text"] = ""
                texts += 1
        elif kind == ev.QUESTION_EDITED:
            if everyone and _text_removed(board.questions[data["id"]]):
                data["text"] = ""
        elif kind in ev.VOTE_TYPES and mine(data["participant"]):
            voter = data["participant"]
            unlinked.add(voter)
            data["participant"] = label("voter", _root(board, data["id"]), voter)
            if kind == ev.VOTE_CAST:
                # The fairness figures count a voter under their latest audience.
                audience = board.audience_of.get(voter)
                data.pop("where", None)
                if audience is not None:
                    data["where"] = audience
                votes += 1
        elif kind == ev.MEMBER_JOINED and everyone and not is_label(data["member"]):
            data = {"member": label("member", data["member"]), "name": "", "organisation": ""}
            names += 1
        elif kind == ev.HAND_RAISED:
            # A raised hand: its asker unlinked, and under `all` its name and topic gone.
            if mine(data["participant"]):
                unlinked.add(data["participant"])
                data["participant"] = label("hand", data["id"])
            if everyone and (data.get("name") is not None or data.get("topic")):
                names += data.get("name") is not None
                data["name"], data["topic"] = None, ""
        elif kind == ev.POLL_ANSWERED and mine(data["participant"]):
            unlinked.add(data["participant"])
            data["participant"] = label("answer", data["id"], data["participant"])
            answers += 1
        out.append(event if data == event.data else replace(event, data=data))
    removal = Removal(len(unlinked), names, questions, votes, answers, texts)
    return out, removal


def scrubbed_already(events: list[ev.Event]) -> bool:
    """Whether the log was scrubbed whole and nothing came after."""
    return bool(events) and (
        events[-1].type == ev.SESSION_SCRUBBED and events[-1].data.get("scope") == ALL
    )


def without_name(events: list[ev.Event], question_id: int) -> list[ev.Event]:
    """The log with the asker's name taken off one question (the asker asked for it)."""
    out = []
    for event in events:
        if event.type == ev.QUESTION_ASKED and event.data["id"] == question_id:
            event = replace(event, data={**event.data, "name": None})
        out.append(event)
    return out
