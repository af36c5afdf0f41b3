"""The raised-hand queue (companion.domain.hands) folded from events, and what a scrub of
the log leaves of it."""

from __future__ import annotations

import json

import pytest

from companion.domain import events as ev
from companion.domain.errors import InvalidState
from companion.domain.hands import HandQueue, HandStatus
from companion.domain.retention import is_label, scrub


def fold(drafts: list[ev.Draft]) -> tuple[HandQueue, list[ev.Event]]:
    queue, log = HandQueue(), []
    for seq, draft in enumerate(drafts, 1):
        event = ev.Event("s", seq, draft.type, draft.data, 1000.0 + seq)
        queue.apply(event)
        log.append(event)
    return queue, log


def test_publishing_follows_the_invitation_and_ends_with_it() -> None:
    queue = HandQueue()
    drafts = [queue.raise_hand("p1", "remote", "Eva", "Budget")]
    queue, _ = fold(drafts)
    assert not queue.may_publish("p1")
    queue.apply(ev.Event("s", 2, *vars_of(queue.invite(1)), 1002.0))
    assert queue.may_publish("p1") and not queue.may_publish("p2")
    assert queue.hands[1].status == HandStatus.ON_STAGE and queue.turns == {"remote": 1}
    queue.apply(ev.Event("s", 3, *vars_of(queue.end(1)), 1003.0))
    assert not queue.may_publish("p1") and queue.hands == {}


def vars_of(draft: ev.Draft) -> tuple[str, dict[str, object]]:
    return draft.type, draft.data


def test_a_scrub_leaves_no_participant_name_or_topic_and_the_same_turns() -> None:
    queue = HandQueue()
    raised = queue.raise_hand("a1b2", "room", "Kim Lind", "Om skolans budget")
    queue, log = fold([raised, ev.Draft(ev.HAND_INVITED, {"id": 1})])
    scrubbed, removal = scrub(log)
    text = json.dumps([e.data for e in scrubbed])
    assert "a1b2" not in text and "Kim" not in text and "budget" not in text
    assert is_label(scrubbed[0].data["participant"]) and removal.participants == 1
    again, _ = fold([ev.Draft(e.type, e.data) for e in scrubbed])
    assert again.turns == queue.turns == {"room": 1}


def test_forgetting_one_participant_unlinks_their_hand_only() -> None:
    queue = HandQueue()
    first = queue.raise_hand("a1", "room", "Kim", "")
    queue, log = fold([first])
    second = queue.raise_hand("b2", "remote", "Eva", "Tema")
    _, log = fold([first, second])
    forgotten, _ = scrub(log, participant="a1")
    assert is_label(forgotten[0].data["participant"])
    assert forgotten[0].data["name"] == "Kim"  # names stay when one device is forgotten
    assert forgotten[1].data == log[1].data


def test_the_speakers_microphone_problem_is_kept_until_it_works() -> None:
    """`hand.mic` only from someone on stage, only a known problem or None; it leaves
    with the hand."""
    queue, _ = fold(
        [
            HandQueue().raise_hand("p1", "remote", "Eva", ""),
            ev.Draft(ev.HAND_INVITED, {"id": 1}),
        ]
    )
    for problem, code in (("loud", "invalid_value"), (1, "invalid_value")):
        with pytest.raises(InvalidState) as refused:
            queue.report_mic("p1", problem)
        assert refused.value.code == code
    with pytest.raises(InvalidState) as refused:
        queue.report_mic("p2", "denied")
    assert refused.value.code == "not_on_stage"
    queue.apply(ev.Event("s", 3, *vars_of(queue.report_mic("p1", "denied")), 1003.0))
    assert queue.hands[1].mic == "denied"
    queue.apply(ev.Event("s", 4, *vars_of(queue.report_mic("p1", None)), 1004.0))
    assert queue.hands[1].mic is None
    queue.apply(ev.Event("s", 7, ev.HAND_ENDED, {"id": 1}, 1007.0))
    with pytest.raises(InvalidState):
        queue.report_mic("p1", None)
