"""The live state of one session: its questions, its running agenda and its settings.

Folding a session's events in order with `apply` rebuilds exactly this state, which is
how a restarted server picks up where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from companion.domain import events as ev
from companion.domain.agenda import Agenda
from companion.domain.errors import InvalidState
from companion.domain.programme import Session
from companion.domain.questions import QuestionBoard


@dataclass(slots=True)
class Applied:
    """What one event changed, for the projection that tells clients."""

    event: ev.Event
    questions: list[int] = field(default_factory=list)
    agenda: bool = False
    settings: bool = False


class SessionState:
    """Everything that changes during one session, at one `seq`."""

    def __init__(self, session: Session, premoderation: bool = False) -> None:
        self.session = session
        self.seq = 0
        self.premoderation = premoderation
        self.board = QuestionBoard()
        self.agenda = Agenda(items=session.items)
        # Live-stream status; offline until a publisher goes live (the stream issue adds that).
        self.stream_status = "offline"
        self.stream_since: float | None = None

    def set_premoderation(self, on: object) -> ev.Draft:
        """Turn pre-moderation of new questions on or off."""
        if not isinstance(on, bool):
            raise InvalidState("`on` must be true or false.", code="invalid_value")
        return ev.Draft(ev.PREMODERATION_SET, {"on": on})

    def apply(self, event: ev.Event) -> Applied:
        """Fold the next event into the state; events must come in `seq` order."""
        if event.seq != self.seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.seq}")
        self.seq = event.seq
        kind = event.type.split(".", 1)[0]
        if kind in ("question", "vote"):
            return Applied(event, questions=self.board.apply(event))
        if event.type == ev.PREMODERATION_SET:
            self.premoderation = bool(event.data["on"])
            return Applied(event, settings=True)
        self.agenda.apply(event)
        return Applied(event, agenda=True)
