"""The live state of one session: its questions, its running agenda and its settings.

Folding a session's events in order with `apply` rebuilds exactly this state, which is
how a restarted server picks up where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from companion.domain import events as ev
from companion.domain import session_settings
from companion.domain.agenda import Agenda, Break
from companion.domain.attendance import Attendance
from companion.domain.errors import DomainError, InvalidState
from companion.domain.hands import HandQueue
from companion.domain.polls import PollBoard, PollStatus
from companion.domain.programme import AgendaItem, Session
from companion.domain.questions import QuestionBoard
from companion.domain.scene import (
    DEFAULT_BREAK_MINUTES,
    ScreenMode,
    Show,
    read_scene,
    scene_of,
)
from companion.domain.stage import StageBoard


@dataclass(slots=True)
class Applied:
    """What one event changed, for the projection that tells clients."""

    event: ev.Event
    questions: list[int] = field(default_factory=list)
    agenda: bool = False
    settings: bool = False
    polls: list[int] = field(default_factory=list)
    attendance: bool = False
    stage: bool = False
    hands: bool = False
    show: bool = False
    # The log before this event was rewritten (companion.domain.retention): what was sent
    # and kept for replay before it may hold what is gone.
    reset: bool = False
    revoked_member: str | None = None


class SessionState:
    """Everything that changes during one session, at one `seq`."""

    def __init__(self, session: Session, premoderation: bool = False) -> None:
        self.session = session
        self.seq = 0
        self.premoderation = premoderation
        self.board = QuestionBoard()
        self.agenda = Agenda(items=session.items)
        self.polls = PollBoard()
        self.attendance = Attendance()
        # Members who came through their personal link: id -> name and organisation then.
        self.members_present: dict[str, dict[str, Any]] = {}
        self.stage = StageBoard()  # moderator messages to the speaker's monitor
        self.hands = HandQueue()  # raised hands and who is on stage
        self.show = Show()  # what the current item's scene (or an override) shows
        # Live-stream status ("offline" | "live") and when it last changed (None: never live).
        self.stream_status = "offline"
        self.stream_since: float | None = None
        self.locked = False
        self.closed = False
        self.join_code: str | None = None  # set by the service from the session's secrets
        self.key_version = 0
        self.settings = session_settings.SessionSettings()

    def set_flag(self, flag: str, on: object) -> ev.Draft:
        """Lock the session (no new questions) or close it (no questions, votes or answers)."""
        if not isinstance(on, bool):
            raise InvalidState("`on` must be true or false.", code="invalid_value")
        kind = {"locked": ev.SESSION_LOCKED, "closed": ev.SESSION_CLOSED}[flag]
        return ev.Draft(kind, {"on": on})

    def require_questions_open(self) -> None:
        """Refuse new questions in a locked or closed session."""
        self.require_open()
        if self.locked:
            raise InvalidState("The session takes no new questions now.", code="session_locked")

    def change_settings(self, fields: dict[str, object]) -> ev.Draft:
        """Change anonymous questions, the word filter or the stream (see session_settings)."""
        return session_settings.change(self.settings, fields)

    def require_name_unless_anonymous(self, name: object) -> None:
        """Refuse a question without a name when the session allows no anonymous ones."""
        if not self.settings.anonymous and not (isinstance(name, str) and name.strip()):
            raise InvalidState(
                "This session takes questions with a name only.", code="name_required"
            )

    def member_joined(self, data: dict[str, str]) -> ev.Draft:
        """A member came in through their link: recorded once per session (the report
        lists who took part), else DomainError `no_change`."""
        if data["member"] in self.members_present:
            raise DomainError("This member is already recorded.", "no_change")
        return ev.Draft(ev.MEMBER_JOINED, data)

    def require_open(self) -> None:
        """Refuse participant actions in a closed session."""
        if self.closed:
            raise InvalidState("The session is closed.", code="session_closed")

    def set_premoderation(self, on: object) -> ev.Draft:
        """Turn pre-moderation of new questions on or off."""
        if not isinstance(on, bool):
            raise InvalidState("`on` must be true or false.", code="invalid_value")
        return ev.Draft(ev.PREMODERATION_SET, {"on": on})

    def start_stream(self, source: object) -> ev.Draft:
        """A publisher went live (`source`: "whip" for an encoder, "browser" for the camera page)."""
        if self.stream_status == "live":
            raise InvalidState("The stream is already live.", code="stream_live")
        if source not in ("whip", "browser"):
            raise InvalidState("`source` must be whip or browser.", code="invalid_value")
        return ev.Draft(ev.STREAM_STARTED, {"source": source})

    def stop_stream(self, reason: object) -> ev.Draft:
        """The publisher went away (stopped, lost, or the server restarted)."""
        if self.stream_status != "live":
            raise InvalidState("The stream is not live.", code="stream_offline")
        return ev.Draft(ev.STREAM_STOPPED, {"reason": str(reason)[:60]})

    def create_poll(self, fields: dict[str, object]) -> ev.Draft:
        """Prepare a poll, attached to an agenda item (`item`) or to the whole session."""
        item = fields.get("item")
        item_id = None if item is None else self.agenda.item(item).id  # not_found
        return self.polls.create(
            fields.get("kind"),
            fields.get("text"),
            fields.get("options"),
            fields.get("max_choices"),
            fields.get("scale"),
            item_id,
            fields.get("hide_results", False),
        )

    def move(self, draft: ev.Draft) -> ev.Draft:
        """An agenda move (`Agenda.step`, `Agenda.goto`) with the new item's scene applied.

        What the scene does is decided here and stored in the event, so replaying the log
        gives the same state even after the scene is planned differently: the poll the
        previous item's scene ran closes if still open, the new scene's poll opens, the
        screen shows that poll or none, and a break scene starts the break.
        """
        item = self.agenda.item(draft.data["item_id"])
        scene = scene_of(item)
        polls = self.polls.polls
        previous = self.show.poll
        close = [
            p
            for p in (previous,)
            if p in polls and p != scene.poll and polls[p].status == PollStatus.OPEN
        ]
        opened = []
        poll = scene.poll if scene.poll in polls else None
        if poll is not None and polls[poll].status != PollStatus.OPEN:
            opened.append(poll)
        shown = poll if scene.screen == ScreenMode.POLL else None
        on_screen = self.polls.on_screen
        applied = {
            "screen": scene.screen.value,
            "stream": scene.stream.value,
            "slate_audio": scene.slate_audio.value,
            "poll": poll,
            "close": close,
            "open": opened,
            "show": shown if shown != on_screen else None,
            "unshow": on_screen if on_screen is not None and shown != on_screen else None,
            "break_minutes": (
                min(item.minutes or DEFAULT_BREAK_MINUTES, 180)
                if scene.screen == ScreenMode.BREAK
                else None
            ),
        }
        return ev.Draft(draft.type, {**draft.data, "scene": applied})

    def set_scene(self, item: object, fields: object) -> ev.Draft:
        """Plan an item's scene; `fields` None goes back to the default for its kind. The
        scene's poll must be one of the item's polls or a poll of the whole session."""
        target = self.agenda.item(item)

        def poll_ok(poll_id: int) -> None:
            poll = self.polls.get(poll_id)  # not_found
            if poll.item_id not in (None, target.id):
                raise InvalidState("That poll belongs to another item.", code="invalid_value")

        scene = None if fields is None else read_scene(fields, poll_ok)
        return self.agenda.set_scene(target.id, scene)

    def revise_agenda(self, items: tuple[AgendaItem, ...]) -> ev.Draft:
        """The organiser's new agenda; items that questions or polls belong to stay."""
        in_use = {q.item_id for q in self.board.questions.values() if q.item_id}
        in_use |= {p.item_id for p in self.polls.polls.values() if p.item_id}
        return self.agenda.revise(items, in_use)

    def apply(self, event: ev.Event) -> Applied:
        """Fold the next event into the state; events must come in `seq` order."""
        if event.seq != self.seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.seq}")
        self.seq = event.seq
        kind = event.type.split(".", 1)[0]
        if kind in ("question", "vote"):
            return Applied(event, questions=self.board.apply(event))
        if kind == "poll":
            return Applied(event, polls=self.polls.apply(event))
        if event.type == ev.AGENDA_MOVED:
            return self._apply_move(event)
        if kind == "show":
            self.show.apply(event)
            return Applied(event, show=True)
        if kind == "stage":
            self.stage.apply(event)
            return Applied(event, stage=True)
        if kind == "hand":
            self.hands.apply(event)
            return Applied(event, hands=True)
        if kind == "attendance":
            self.attendance.apply(event)
            return Applied(event, attendance=True)
        if event.type == ev.SESSION_SCRUBBED:
            return Applied(event, reset=True)
        if event.type == ev.MEMBER_JOINED:
            data = event.data
            self.members_present[data["member"]] = {
                "name": data.get("name", ""),
                "organisation": data.get("organisation", ""),
                "at": event.at,
            }
            return Applied(event)
        if event.type == ev.MEMBER_REVOKED:
            return Applied(event, revoked_member=event.data["member"])
        if event.type == ev.PREMODERATION_SET:
            self.premoderation = bool(event.data["on"])
            return Applied(event, settings=True)
        if event.type == ev.SETTINGS_CHANGED:
            self.settings = session_settings.apply(self.settings, event.data)
            return Applied(event, settings=True)
        if event.type == ev.SESSION_LOCKED:
            self.locked = bool(event.data["on"])
            return Applied(event, settings=True)
        if event.type == ev.SESSION_CLOSED:
            self.closed = bool(event.data["on"])
            return Applied(event, settings=True)
        if event.type == ev.CODE_CHANGED:
            self.join_code = event.data["join_code"]
            return Applied(event, settings=True)
        if event.type == ev.KEY_ROTATED:
            self.key_version += 1
            return Applied(event, settings=True)
        if kind == "stream":
            # The stream status is part of the session view (`session` message).
            self.stream_status = "live" if event.type == ev.STREAM_STARTED else "offline"
            self.stream_since = event.at
            return Applied(event, settings=True)
        self.agenda.apply(event)
        if event.type in (ev.AGENDA_REVISED, ev.ITEM_SCENE):
            self.session = replace(self.session, items=self.agenda.items)
        return Applied(event, agenda=True)

    def _apply_move(self, event: ev.Event) -> Applied:
        self.agenda.apply(event)
        scene = event.data.get("scene")
        if scene is None:  # a move logged before scenes existed
            return Applied(event, agenda=True)
        changed: list[int] = []
        steps = [
            *((ev.POLL_CLOSED, pid) for pid in scene["close"]),
            *((ev.POLL_OPENED, pid) for pid in scene["open"]),
            *([(ev.POLL_UNSHOWN, scene["unshow"])] if scene["unshow"] is not None else []),
            *([(ev.POLL_SHOWN, scene["show"])] if scene["show"] is not None else []),
        ]
        for kind, poll_id in steps:
            # The same fold as the poll's own event, at this event's seq and time.
            part = ev.Event(event.session_id, event.seq, kind, {"id": poll_id}, event.at)
            changed += [pid for pid in self.polls.apply(part) if pid not in changed]
        if scene["break_minutes"] is not None:
            self.agenda.current_break = Break(event.at, scene["break_minutes"])
        self.show.apply(event)
        return Applied(event, agenda=True, polls=changed, show=True)
