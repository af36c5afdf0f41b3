"""Hybrid fairness: a question order that the larger audience cannot dominate, and the
nudge when one audience has waited too long for an answer.

Votes are weighed by the number of participants present in the asker's audience, so 10
votes from a room of 20 weigh like 50 from 100 at home. Within one audience that weight
keeps the plain vote order (all its questions share the divisor); it decides which
audience starts, and the two audiences then take turns.

The console runs the same rules in the browser (static/js/fairness.js) because presence
and the clock change there between events; tests hold the two to the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from companion.domain.questions import Question, QuestionStatus

AUDIENCES = ("room", "remote")
DEFAULT_NUDGE_MINUTES = 20
WAITING_STATUSES = frozenset({QuestionStatus.LIVE, QuestionStatus.HIGHLIGHTED})


def weight(votes: int, present: int) -> Fraction | None:
    """Votes per participant present, exact (no float ties); None when nobody is present."""
    return Fraction(votes, present) if present > 0 else None


def _by_votes(questions: Iterable[Question]) -> list[Question]:
    return sorted(questions, key=lambda q: (-q.votes, q.asked_at, q.id))


def balanced_order(questions: Iterable[Question], present: Mapping[str, int]) -> list[Question]:
    """The questions in balanced order: each audience by votes (oldest first among equals),
    taking turns, starting with the audience whose best question weighs most (ties: the
    earlier asked). An audience with nobody present cannot be weighed, and nobody in it
    would hear the answer, so its questions come after the other's, by raw votes."""
    lines = {a: _by_votes(q for q in questions if q.where == a) for a in AUDIENCES}
    weighed = [a for a in AUDIENCES if lines[a] and present.get(a, 0) > 0]
    unweighed = [a for a in AUDIENCES if lines[a] and present.get(a, 0) <= 0]

    def head(a: str) -> tuple[Fraction, float, int]:
        best = lines[a][0]
        w = weight(best.votes, present[a]) or Fraction(0)
        return (-w, best.asked_at, AUDIENCES.index(a))

    turns = sorted(weighed, key=head)
    order: list[Question] = []
    queues = [list(lines[a]) for a in turns]
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    for a in unweighed:
        order.extend(lines[a])
    return order


@dataclass(frozen=True, slots=True)
class Nudge:
    """One audience has waited `minutes` or more with no question of theirs answered."""

    where: str
    minutes: int


def nudges(questions: Iterable[Question], now: float, minutes: int) -> list[Nudge]:
    """The audiences that have had live questions waiting and none of theirs answered for
    `minutes`: both the last answer to that audience and its oldest waiting question are at
    least that old (a question that just arrived is not yet a reason)."""
    if minutes <= 0:
        return []  # switched off
    limit = minutes * 60
    found = []
    questions = list(questions)
    for where in AUDIENCES:
        mine = [q for q in questions if q.where == where and not q.withheld]
        waiting = [q.asked_at for q in mine if q.status in WAITING_STATUSES]
        if not waiting:
            continue
        answers = [q.answered_at for q in mine if q.answered_at is not None]
        since = max([min(waiting), *answers])
        if now - since >= limit:
            found.append(Nudge(where, minutes))
    return found


@dataclass(frozen=True, slots=True)
class AudienceFigures:
    """What one audience did in a session, for the report. Speaking turns on stage are not
    counted: the session has no stage yet (issue 19, "On stage"), so the report says
    "not applicable" rather than a 0 that would look like a measurement."""

    where: str
    peak: int
    asked: int
    answered: int
    votes: int


def audience_figures(
    questions: Iterable[Question], audience_of: Mapping[str, str], peaks: Mapping[str, int]
) -> list[AudienceFigures]:
    """Per audience: peak participants, questions asked and answered, votes standing (a
    participant counts once per question; a merged duplicate's votes are counted on the
    question it went into, and votes of no known audience in neither)."""
    questions = [q for q in questions if not q.withheld]
    figures = []
    for where in AUDIENCES:
        mine = [q for q in questions if q.where == where]
        votes = sum(
            1
            for q in questions
            if q.status != QuestionStatus.MERGED
            for voter in q.voters
            if audience_of.get(voter) == where
        )
        figures.append(
            AudienceFigures(
                where=where,
                peak=peaks.get(where, 0),
                asked=len(mine),
                answered=sum(1 for q in mine if q.status == QuestionStatus.ANSWERED),
                votes=votes,
            )
        )
    return figures
