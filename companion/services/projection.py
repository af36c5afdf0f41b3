"""What clients are told: views of questions and the agenda, per role, and the message
each committed event turns into.

Moderators see every question, with its author's id only when the asker gave a name: an
anonymous question carries nothing that links it to a participant or to their other
questions, and questions withheld from a muted asker are not sent to moderators at all.
Participants and the big screen see only public questions and never who asked or voted. Messages are computed right after
the event is applied, so replaying them later gives exactly what was sent live.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from companion.domain import events as ev
from companion.domain.agenda import Agenda
from companion.domain.attendance import Attendance
from companion.domain.hands import HandQueue, HandStatus
from companion.domain.polls import Poll, hidden_results, results
from companion.domain.programme import AgendaItem, Session
from companion.domain.programme_codec import item_to_data, speaker_to_data
from companion.domain.questions import Question, QuestionStatus
from companion.domain.scene import Show, scene_of, scene_to_data
from companion.domain.session_state import Applied, SessionState
from companion.domain.stage import StageBoard


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one committed event, ready for fan-out.

    `public` and `moderator` are message bodies for those audiences (None: nothing to
    send); `vote` is (question id, new count) for vote events and `tally` is (poll id,
    results for participants and screens, results for moderators) for poll answers: both
    are coalesced into `counts` messages.
    """

    session_id: str
    seq: int
    public: dict[str, Any] | None
    moderator: dict[str, Any] | None
    vote: tuple[int, int] | None = None
    tally: tuple[int, dict[str, Any], dict[str, Any]] | None = None
    revoke_moderators: bool = False  # the moderator key changed: close their connections
    # The stored log before this change was rewritten without personal data (a name
    # removed, a device forgotten, retention): drop what is kept for replay.
    reset: bool = False
    revoke_member: str | None = None  # a member's link was revoked: close their connections


def question_view(q: Question, moderator: bool) -> dict[str, Any]:
    """A question as one role sees it."""
    view: dict[str, Any] = {
        "id": q.id,
        "text": q.text,
        "name": q.name,
        "where": q.where,
        "status": q.status.value,
        "votes": q.votes,
        "item_id": q.item_id,
        "asked_at": q.asked_at,
        "answered_at": q.answered_at,
        "edited": q.edited,
        "merged_from": list(q.merged_from),
    }
    if moderator:
        if q.name is not None:
            view["author"] = q.author
        view["merged_into"] = q.merged_into
    return view


def clock(t: dt.time | None) -> str | None:
    """A planned time as pages and reports show it: ``HH:MM``, seconds dropped."""
    return t.strftime("%H:%M") if t else None


def item_view(item: AgendaItem, agenda: Agenda) -> dict[str, Any]:
    """An agenda item with its live status: the stored fields, shown times and status."""
    return {
        **item_to_data(item),
        "start": clock(item.start),
        "status": agenda.statuses[item.id].value,
        "started_at": agenda.started_at.get(item.id),
        "scene": scene_to_data(scene_of(item)),  # what applies on a move to it
        "scene_planned": item.scene is not None,  # False: the default for its kind
    }


def agenda_view(agenda: Agenda) -> dict[str, Any]:
    """The running agenda; clients compute time left from the timer and the server clock."""
    timer = agenda.timer
    brk = agenda.current_break
    nxt = agenda.next_item()
    return {
        "current": agenda.current,
        "next": nxt.id if nxt else None,
        "items": [item_view(item, agenda) for item in agenda.items],
        "timer": {
            "planned_seconds": timer.planned_seconds,
            "elapsed": timer.elapsed,
            "running_since": timer.running_since,
        },
        "break": (
            {
                "started_at": brk.started_at,
                "minutes": brk.minutes,
                "message": brk.message,
                "ends_at": brk.ends_at,
            }
            if brk
            else None
        ),
    }


def show_view(show: Show) -> dict[str, Any]:
    """What the big screen and the stream show now, and whose scene that is."""
    return {
        "screen": show.screen.value,
        "stream": show.stream.value,
        "slate_audio": show.slate_audio.value,
        "item": show.item,
        "poll": show.poll,
    }


def session_view(session: Session, state: SessionState) -> dict[str, Any]:
    """Title, moderator and settings of a session."""
    return {
        "id": session.id,
        "title": session.title,
        "description": session.description,
        "moderator": speaker_to_data(session.moderator) if session.moderator else None,
        "premoderation": state.premoderation,
        "anonymous": state.settings.anonymous,
        "stream_enabled": state.settings.stream,
        "stream": {"status": state.stream_status, "since": state.stream_since},
        "locked": state.locked,
        "closed": state.closed,
        "join_code": state.join_code,
    }


def public_questions(state: SessionState) -> list[dict[str, Any]]:
    """Every question participants may see."""
    return [question_view(q, False) for q in state.board.questions.values() if q.is_public]


def poll_results(poll: Poll, moderator: bool) -> dict[str, Any]:
    """A poll's results as one role may see them: only the number of answers while hidden."""
    return results(poll) if moderator or poll.results_public else hidden_results(poll)


def poll_view(poll: Poll, on_screen: bool, moderator: bool) -> dict[str, Any]:
    """A poll as one role sees it (participants and screens never see drafts)."""
    return {
        "id": poll.id,
        "kind": poll.kind.value,
        "text": poll.text,
        "options": [{"id": i, "text": text} for i, text in enumerate(poll.options, 1)],
        "max_choices": poll.max_choices,
        "scale": poll.scale,
        "item_id": poll.item_id,
        "status": poll.status.value,
        "hide_results": poll.hide_results,
        "on_screen": on_screen,
        "created_at": poll.created_at,
        "opened_at": poll.opened_at,
        "closed_at": poll.closed_at,
        "results": poll_results(poll, moderator),
    }


def attendance_view(attendance: Attendance) -> dict[str, Any]:
    """Peak attendance so far (moderators only)."""
    return {
        "peak_room": attendance.peak_room,
        "peak_remote": attendance.peak_remote,
        "peak_room_at": attendance.peak_room_at,
        "peak_remote_at": attendance.peak_remote_at,
    }


def stage_view(stage: StageBoard) -> dict[str, Any]:
    """The messages on the stage monitor, oldest first (moderators only)."""
    return {
        "messages": [
            {"id": m.id, "text": m.text, "sent_at": m.sent_at} for m in stage.shown.values()
        ]
    }


def hands_view(hands: HandQueue, moderator: bool) -> list[dict[str, Any]]:
    """The live hands in the order raised. Moderators see each name and topic; others see
    a hand's id, place in the queue and status, and the name only of those on stage
    (everyone hears them), never the topic or who is waiting."""
    views = []
    for hand in hands.hands.values():
        on_stage = hand.status == HandStatus.ON_STAGE
        view: dict[str, Any] = {"id": hand.id, "status": hand.status.value, "muted": hand.muted}
        if moderator or on_stage:
            view["name"] = hand.name
            view["where"] = hand.where
        if moderator:
            view["topic"] = hand.topic
            view["raised_at"] = hand.raised_at
            view["invited_at"] = hand.invited_at
            view["mic"] = hand.mic  # why the speaker's microphone does not reach the room
        views.append(view)
    return views


def project(state: SessionState, applied: Applied, was_public: dict[int, bool]) -> Change:
    """The messages one applied event produces; `was_public` is taken before applying."""
    event = applied.event
    sid, seq = event.session_id, event.seq
    if applied.reset:
        return Change(sid, seq, None, None, reset=True)
    if event.type in ev.VOTE_TYPES:
        q = state.board.questions[event.data["id"]]
        return Change(sid, seq, None, None, vote=(q.id, q.votes))
    if event.type == ev.POLL_ANSWERED:
        poll = state.polls.polls[event.data["id"]]
        full = results(poll)
        public_results = full if poll.results_public else hidden_results(poll)
        return Change(sid, seq, None, None, tally=(poll.id, public_results, full))
    if applied.agenda and applied.show:
        # A move with its scene: agenda, show and the polls it changed in one message.
        agenda = {
            "type": "agenda",
            "agenda": agenda_view(state.agenda),
            "show": show_view(state.show),
        }
        polls = [state.polls.polls[pid] for pid in applied.polls]
        screen = state.polls.on_screen
        mod_polls = [poll_view(p, p.id == screen, True) for p in polls]
        pub_polls = [poll_view(p, p.id == screen, False) for p in polls if p.is_public]
        return Change(
            sid,
            seq,
            {**agenda, **({"polls": pub_polls} if pub_polls else {})},
            {**agenda, **({"polls": mod_polls} if mod_polls else {})},
        )
    if applied.show:
        body = {"type": "show", "show": show_view(state.show)}
        return Change(sid, seq, body, body)
    if applied.polls:
        polls = [state.polls.polls[pid] for pid in applied.polls]
        screen = state.polls.on_screen
        moderator = {
            "type": "polls",
            "polls": [poll_view(p, p.id == screen, True) for p in polls],
        }
        pub_views = [poll_view(p, p.id == screen, False) for p in polls if p.is_public]
        public = {"type": "polls", "polls": pub_views} if pub_views else None
        return Change(sid, seq, public, moderator)
    if event.type in (ev.MEMBER_JOINED, ev.MEMBER_REVOKED):
        # Nobody is told (the report reads who took part); a revoked member's
        # connections are closed by the hub.
        return Change(sid, seq, None, None, revoke_member=applied.revoked_member)
    if applied.stage:  # the stage monitor joins as a moderator; nobody else is told
        return Change(sid, seq, None, {"type": "stage", "stage": stage_view(state.stage)})
    if applied.hands:
        public = {"type": "hands", "hands": hands_view(state.hands, False)}
        moderator = {"type": "hands", "hands": hands_view(state.hands, True)}
        return Change(sid, seq, public, moderator)
    if applied.attendance:
        body = {"type": "attendance", "attendance": attendance_view(state.attendance)}
        return Change(sid, seq, None, body)
    if applied.questions:
        mod_views, pub_views, removed = [], [], []
        for qid in applied.questions:
            q = state.board.questions[qid]
            if not q.withheld:
                mod_views.append(question_view(q, True))
            if q.is_public:
                pub_views.append(question_view(q, False))
            elif was_public.get(qid):
                removed.append(qid)
        mod_questions = (
            {"type": "questions", "questions": mod_views, "removed": []} if mod_views else None
        )
        public_questions: dict[str, Any] | None = (
            {"type": "questions", "questions": pub_views, "removed": removed}
            if pub_views or removed
            else None
        )
        # An asker's name removed: it is in the messages kept for replay too.
        reset = event.type == ev.QUESTION_UNNAMED
        return Change(sid, seq, public_questions, mod_questions, reset=reset)
    if applied.agenda:
        body = {"type": "agenda", "agenda": agenda_view(state.agenda)}
        return Change(sid, seq, body, body)
    body = {"type": "session", "session": session_view(state.session, state)}
    return Change(sid, seq, body, body, revoke_moderators=event.type == ev.KEY_ROTATED)


def snapshot(state: SessionState, moderator: bool, participant: str | None) -> dict[str, Any]:
    """The whole state as one role sees it (without `seq`, which the sender adds)."""
    questions = state.board.questions.values()
    if moderator:
        views = [question_view(q, True) for q in state.board.seen_by_moderators()]
    else:
        views = [
            question_view(q, False)
            for q in questions
            if q.is_public
            or (
                q.status == QuestionStatus.PENDING
                and participant is not None
                and q.author == participant
            )
        ]
    mine = [q.id for q in questions if participant is not None and q.author == participant]
    return {
        "type": "snapshot",
        "session": session_view(state.session, state),
        "agenda": agenda_view(state.agenda),
        "show": show_view(state.show),
        "questions": views,
        "mine": mine,
        "my_votes": state.board.voted_by(participant) if participant else [],
        "polls": [
            poll_view(p, p.id == state.polls.on_screen, moderator)
            for p in state.polls.polls.values()
            if moderator or p.is_public
        ],
        # Poll ids as strings, like `counts`: JSON object keys are strings.
        "my_answers": (
            {str(k): v for k, v in state.polls.answers_of(participant).items()}
            if participant
            else {}
        ),
        "hands": hands_view(state.hands, moderator),
        "my_hand": _my_hand(state, participant),
        **({"attendance": attendance_view(state.attendance)} if moderator else {}),
        **({"stage": stage_view(state.stage)} if moderator else {}),
    }


def _my_hand(state: SessionState, participant: str | None) -> int | None:
    hand = state.hands.of(participant) if participant else None
    return hand.id if hand is not None else None
