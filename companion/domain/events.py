"""Events: every state change of a session, numbered by the session's sequence.

A session's state is the fold of its events in `seq` order, so the event log is the
source of truth and a client that missed events can be sent exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One committed (or about to be committed) change of one session."""

    session_id: str
    seq: int
    type: str
    data: dict[str, Any]
    at: float

    def to_data(self) -> dict[str, Any]:
        """A JSON-compatible form, for stores and buses."""
        return {
            "session_id": self.session_id,
            "seq": self.seq,
            "type": self.type,
            "data": self.data,
            "at": self.at,
        }

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> Event:
        """The inverse of `to_data`."""
        return cls(d["session_id"], int(d["seq"]), d["type"], dict(d["data"]), float(d["at"]))


@dataclass(frozen=True, slots=True)
class Draft:
    """An event decided by a domain rule, before the session gives it a seq and a time."""

    type: str
    data: dict[str, Any]


# Event types. Vote events are kept apart because they are coalesced on the way out.
QUESTION_ASKED = "question.asked"
QUESTION_APPROVED = "question.approved"
QUESTION_HIDDEN = "question.hidden"
QUESTION_EDITED = "question.edited"
QUESTION_MERGED = "question.merged"
QUESTION_HIGHLIGHTED = "question.highlighted"
QUESTION_UNHIGHLIGHTED = "question.unhighlighted"
QUESTION_ANSWERED = "question.answered"
# The asker of a question is muted for the session: data is the question id only, so the
# event names nobody; the board resolves the author on the server.
ASKER_HIDDEN = "question.asker_hidden"
# The asker took their own question back: hidden for everyone; data: id.
QUESTION_WITHDRAWN = "question.withdrawn"
# The asker removed their name from their question; data: id. The name is also scrubbed
# from the stored `question.asked` event (companion.domain.retention).
QUESTION_UNNAMED = "question.unnamed"
VOTE_CAST = "vote.cast"
VOTE_WITHDRAWN = "vote.withdrawn"
# A move of the agenda; data: item_id and, since scenes, `scene`: what the move applied
# (screen, stream, poll, and the polls it opened, closed, showed or took off the screen).
AGENDA_MOVED = "agenda.moved"
ITEM_SCENE = "item.scene"  # an item's planned scene; data: item_id, scene (None: default)
SHOW_SCREEN = "show.screen"  # the moderator's override of the big screen; data: screen
SHOW_STREAM = "show.stream"  # the moderator's override of the stream; data: stream
SHOW_SLATE_AUDIO = "show.slate_audio"  # the room's sound during a slate; data: audio
TIMER_STARTED = "timer.started"
TIMER_PAUSED = "timer.paused"
TIMER_EXTENDED = "timer.extended"
ITEM_STATUS_SET = "item.status"
AGENDA_REVISED = "agenda.revised"  # the organiser edited the agenda; data: items (all of them)
BREAK_STARTED = "break.started"
BREAK_ENDED = "break.ended"
PREMODERATION_SET = "session.premoderation"
SESSION_LOCKED = "session.locked"  # no new questions; data: on
SESSION_CLOSED = "session.closed"  # no questions, votes or answers; data: on
CODE_CHANGED = "session.code_changed"  # a new join code; data: join_code (public anyway)
SETTINGS_CHANGED = "session.settings"  # anonymous, word_filter, extra_words, stream (changed only)
KEY_ROTATED = "session.key_rotated"  # data: moderator_token (stored, never sent to clients)
POLL_CREATED = "poll.created"
POLL_OPENED = "poll.opened"  # also a reopening of a closed poll
POLL_CLOSED = "poll.closed"
POLL_RESULTS_HIDDEN = "poll.results_hidden"
POLL_SHOWN = "poll.shown"
POLL_UNSHOWN = "poll.unshown"
POLL_ANSWERED = "poll.answered"  # coalesced on the way out, like votes
ATTENDANCE_PEAK = "attendance.peak"
STREAM_STARTED = "stream.started"  # a publisher went live; data: source
STREAM_STOPPED = "stream.stopped"  # the publisher went away; data: reason
STAGE_MESSAGE_SENT = "stage.sent"  # a message on the stage monitor; data: id, text
STAGE_MESSAGE_DISMISSED = "stage.dismissed"  # data: id
# Raised hands and the stage (companion.domain.hands). hand.raised: id, participant, name,
# where, topic; the others: id (hand.muted also `on`). Lowered and ended hands leave the queue.
HAND_RAISED = "hand.raised"
HAND_LOWERED = "hand.lowered"  # by the participant: a raised hand, or leaving the stage
HAND_INVITED = "hand.invited"  # onto the stage: the participant may publish their voice
HAND_MUTED = "hand.muted"
HAND_ENDED = "hand.ended"  # by the moderator: a turn ended or a raised hand declined
HAND_MIC = "hand.mic"  # the speaker's page: their microphone fails (`problem`) or works (null)
# The session's log before this event was rewritten without personal data; data: scope,
# "all" (retention) or "participant" (a device forgotten). Never sent to clients.
SESSION_SCRUBBED = "session.scrubbed"
# Members-only sessions (companion.services.members): a member came in through their
# personal link (data: member, name, organisation; once per session, for the report), and
# a member's link was revoked (data: member; their open pages and streams are cut off).
MEMBER_JOINED = "member.joined"
MEMBER_REVOKED = "member.revoked"

VOTE_TYPES = frozenset({VOTE_CAST, VOTE_WITHDRAWN})
