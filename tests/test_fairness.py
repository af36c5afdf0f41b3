"""Tests of the balanced question order and the fairness nudge, on constructed audiences
and a controlled clock."""

from __future__ import annotations

import json
import random
import subprocess
from fractions import Fraction
from pathlib import Path

from companion.domain.fairness import Nudge, balanced_order, nudges, weight
from companion.domain.questions import Question, QuestionStatus

LIVE = QuestionStatus.LIVE


def q(
    qid: int,
    where: str,
    votes: int,
    asked_at: float = 0.0,
    status: QuestionStatus = LIVE,
    answered_at: float | None = None,
) -> Question:
    return Question(
        id=qid,
        text=f"Fråga {qid}",
        name=None,
        author=f"p{qid}",
        where=where,
        item_id=None,
        asked_at=asked_at,
        status=status,
        voters={f"v{qid}-{i}" for i in range(votes)},
        answered_at=answered_at,
    )


def ids(questions: list[Question]) -> list[int]:
    return [x.id for x in questions]


def test_weight_is_votes_per_participant_present() -> None:
    assert weight(10, 20) == weight(50, 100) == Fraction(1, 2)
    assert weight(3, 0) is None


def test_a_small_room_is_not_outvoted_by_a_large_remote_crowd() -> None:
    # 12 of 20 in the room (0.6) weigh more than 50 of 100 at home (0.5).
    questions = [q(1, "remote", 50), q(2, "remote", 40), q(3, "room", 12), q(4, "room", 2)]
    assert ids(balanced_order(questions, {"room": 20, "remote": 100})) == [3, 1, 4, 2]
    # By raw votes the remote questions would take both first places.
    assert ids(balanced_order(questions, {"room": 30, "remote": 100})) == [1, 3, 2, 4]


def test_both_orders_audiences_take_turns_and_the_rest_follows() -> None:
    questions = [q(i, "room", 10 - i) for i in range(1, 5)] + [q(9, "remote", 1)]
    # Room starts (9/20 > 1/5), then remote, then the room's remaining questions.
    assert ids(balanced_order(questions, {"room": 20, "remote": 5})) == [1, 9, 2, 3, 4]
    # Remote starts when its best weighs more (1/1 > 9/20).
    assert ids(balanced_order(questions, {"room": 20, "remote": 1})) == [9, 1, 2, 3, 4]


def test_ties_go_to_the_earlier_question_then_the_room() -> None:
    tied = [q(1, "remote", 5, asked_at=10), q(2, "room", 1, asked_at=20)]
    assert ids(balanced_order(tied, {"room": 4, "remote": 20})) == [1, 2]
    same_time = [q(1, "remote", 5, asked_at=10), q(2, "room", 1, asked_at=10)]
    assert ids(balanced_order(same_time, {"room": 4, "remote": 20})) == [2, 1]
    # Equal votes within one audience: the older question first.
    within = [q(1, "room", 3, asked_at=30), q(2, "room", 3, asked_at=5)]
    assert ids(balanced_order(within, {"room": 4, "remote": 0})) == [2, 1]


def test_an_audience_with_nobody_present_comes_after_by_raw_votes() -> None:
    questions = [q(1, "remote", 40), q(2, "remote", 90), q(3, "room", 1), q(4, "room", 0)]
    assert ids(balanced_order(questions, {"room": 30, "remote": 0})) == [3, 4, 2, 1]
    assert ids(balanced_order(questions, {"room": 0, "remote": 0})) == [3, 4, 2, 1]
    assert ids(balanced_order(questions, {})) == [3, 4, 2, 1]


def test_an_empty_audience_leaves_the_other_in_vote_order() -> None:
    questions = [q(1, "room", 1), q(2, "room", 7), q(3, "room", 4)]
    assert ids(balanced_order(questions, {"room": 10, "remote": 0})) == [2, 3, 1]
    assert ids(balanced_order(questions, {"room": 10, "remote": 50})) == [2, 3, 1]
    assert balanced_order([], {"room": 10, "remote": 50}) == []


MIN = 60.0


def test_nudge_after_the_configured_minutes_without_an_answer() -> None:
    questions = [
        q(1, "room", 0, asked_at=0, status=QuestionStatus.ANSWERED, answered_at=5 * MIN),
        q(2, "remote", 0, asked_at=1 * MIN),
        q(3, "room", 0, asked_at=2 * MIN),
    ]
    assert nudges(questions, now=20 * MIN, minutes=20) == []
    assert nudges(questions, now=21 * MIN, minutes=20) == [Nudge("remote", 20)]
    assert nudges(questions, now=25 * MIN, minutes=20) == [Nudge("room", 20), Nudge("remote", 20)]
    assert nudges(questions, now=10 * MIN, minutes=5) == [Nudge("room", 5), Nudge("remote", 5)]


def test_no_nudge_without_waiting_questions_or_when_switched_off() -> None:
    answered = [q(1, "remote", 0, status=QuestionStatus.ANSWERED, answered_at=0)]
    pending = [q(2, "remote", 0, status=QuestionStatus.PENDING)]
    hidden = [q(3, "remote", 0, status=QuestionStatus.HIDDEN)]
    for questions in (answered, pending, hidden, []):
        assert nudges(questions, now=100 * MIN, minutes=20) == []
    assert nudges([q(4, "remote", 0)], now=100 * MIN, minutes=0) == []


def test_a_recent_answer_or_a_fresh_question_resets_the_clock() -> None:
    old_answer = q(1, "remote", 0, status=QuestionStatus.ANSWERED, answered_at=30 * MIN)
    waiting = q(2, "remote", 0, asked_at=0)
    assert nudges([old_answer, waiting], now=49 * MIN, minutes=20) == []
    assert nudges([old_answer, waiting], now=50 * MIN, minutes=20) == [Nudge("remote", 20)]
    fresh = q(3, "room", 0, asked_at=45 * MIN)
    assert nudges([fresh], now=50 * MIN, minutes=20) == []
    # Highlighted counts as waiting: it is on screen, not yet answered.
    shown = q(4, "room", 0, asked_at=0, status=QuestionStatus.HIGHLIGHTED)
    assert nudges([shown], now=20 * MIN, minutes=20) == [Nudge("room", 20)]


JS = Path(__file__).resolve().parents[1] / "static" / "js" / "fairness.js"
STATUSES = ["live", "highlighted", "answered", "pending", "hidden"]


def test_the_console_script_orders_and_nudges_as_the_domain_does() -> None:
    """static/js/fairness.js under Node gives the same order and nudges as this module on
    300 random audiences (ties in votes and times included)."""
    rng = random.Random(19)
    cases = []
    for _ in range(300):
        questions = []
        for qid in range(1, rng.randint(0, 8) + 1):
            status = rng.choice(STATUSES)
            asked = float(rng.randint(0, 40) * 60)
            questions.append(
                {
                    "id": qid,
                    "where": rng.choice(["room", "remote"]),
                    "votes": rng.randint(0, 4),
                    "asked_at": asked,
                    "status": status,
                    "answered_at": asked + rng.randint(0, 30) * 60
                    if status == "answered"
                    else None,
                }
            )
        present = {"room": rng.randint(0, 5), "remote": rng.randint(0, 5)}
        now = 60.0 * rng.randint(0, 90)
        if questions and rng.random() < 0.5:  # exactly at the limit of some question
            now = rng.choice([c["answered_at"] or c["asked_at"] for c in questions]) + 20 * 60
        cases.append({"questions": questions, "present": present, "now": now})
    script = (
        f"import {{ balancedOrder, nudges }} from {json.dumps(JS.as_uri())};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const cases = JSON.parse(readFileSync(0, 'utf8'));\n"
        "console.log(JSON.stringify(cases.map((c) => [\n"
        "  balancedOrder(c.questions, c.present).map((q) => q.id),\n"
        "  nudges(c.questions, c.now, 20),\n"
        "])));\n"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for case, (js_order, js_nudges) in zip(cases, json.loads(out), strict=True):
        built = [
            q(
                c["id"],
                c["where"],
                c["votes"],
                c["asked_at"],
                QuestionStatus(c["status"]),
                c["answered_at"],
            )
            for c in case["questions"]
        ]
        assert js_order == ids(balanced_order(built, case["present"])), case
        assert js_nudges == [n.where for n in nudges(built, case["now"], 20)], case
