"""Messages from the moderator to the speaker's stage monitor ("Dags att runda av").

Each message stays on the stage monitor until a moderator dismisses it. Only moderator
connections (the console and the stage monitor, which joins with the moderator key) are
told: participants and the big screen never see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from companion.domain import events as ev
from companion.domain.errors import InvalidState, InvalidText, NotFound

MAX_STAGE_CHARS = 120  # a line or two a speaker reads at a glance, from five metres
MAX_SHOWN = 3  # more at once would not fit the monitor at that size; dismiss one first


@dataclass(frozen=True, slots=True)
class StageMessage:
    """One message on the stage monitor."""

    id: int
    text: str
    sent_at: float


@dataclass(slots=True)
class StageBoard:
    """The messages shown on the stage monitor now."""

    shown: dict[int, StageMessage] = field(default_factory=dict)
    last_id: int = 0

    def send(self, text: object) -> ev.Draft:
        """Show a message; trimmed, one line, at most MAX_STAGE_CHARS."""
        if not isinstance(text, str):
            raise InvalidText("The message must be text.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidText("The message contains characters that are not valid text.") from None
        text = " ".join(text.split())
        if not text:
            raise InvalidText("The message is empty.", code="text_empty")
        if len(text) > MAX_STAGE_CHARS:
            raise InvalidText(
                f"The message is longer than {MAX_STAGE_CHARS} characters.", code="text_too_long"
            )
        if len(self.shown) >= MAX_SHOWN:
            raise InvalidState(
                f"At most {MAX_SHOWN} messages are shown at once; dismiss one first.",
                code="stage_full",
            )
        return ev.Draft(ev.STAGE_MESSAGE_SENT, {"id": self.last_id + 1, "text": text})

    def dismiss(self, message: object) -> ev.Draft:
        """Take a message off the stage monitor."""
        if not isinstance(message, int) or isinstance(message, bool) or message not in self.shown:
            raise NotFound("No such message on the stage monitor.")
        return ev.Draft(ev.STAGE_MESSAGE_DISMISSED, {"id": message})

    def apply(self, event: ev.Event) -> None:
        """Fold a stage event in."""
        if event.type == ev.STAGE_MESSAGE_SENT:
            message_id = int(event.data["id"])
            self.shown[message_id] = StageMessage(message_id, event.data["text"], event.at)
            self.last_id = max(self.last_id, message_id)
        elif event.type == ev.STAGE_MESSAGE_DISMISSED:
            self.shown.pop(int(event.data["id"]), None)
