"""Raised hands and the stage: a participant asks to speak, the moderator invites them.

A hand is raised with an optional topic; the moderator sees the queue in the order the
hands were raised and invites one onto the stage, mutes or ends them; the participant
lowers their hand or leaves the stage. At most MAX_ON_STAGE are on stage at once. Being
on stage is what lets a participant's browser publish its microphone (companion.media):
the participant's token alone carries no such right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from companion.domain import events as ev
from companion.domain.errors import InvalidState, InvalidText, NotFound
from companion.domain.questions import clean_name

MAX_TOPIC_CHARS = 120  # a line the moderator reads at a glance
MAX_ON_STAGE = 2  # more voices at once than a room can follow
# Why a speaker's page cannot send their microphone: the browser refused it, there is none,
# or it failed otherwise. The moderator sees it beside the hand.
MIC_PROBLEMS = frozenset({"denied", "missing", "failed"})


class HandStatus(StrEnum):
    RAISED = "raised"  # waiting in the queue
    ON_STAGE = "on_stage"  # invited: may publish their microphone


@dataclass(slots=True)
class Hand:
    """One live raised hand (a lowered or ended hand leaves the queue)."""

    id: int
    participant: str
    name: str | None
    where: str
    topic: str
    raised_at: float
    status: HandStatus = HandStatus.RAISED
    muted: bool = False
    invited_at: float | None = None
    mic: str | None = None  # a MIC_PROBLEMS the speaker's page reported, or None


def clean_topic(topic: object) -> str:
    """The optional topic: one line, trimmed, at most MAX_TOPIC_CHARS ('' for none)."""
    if topic is None:
        return ""
    if not isinstance(topic, str):
        raise InvalidText("The topic must be text.")
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidText("The topic contains characters that are not valid text.") from None
    topic = " ".join(topic.split())
    if len(topic) > MAX_TOPIC_CHARS:
        raise InvalidText(
            f"The topic is longer than {MAX_TOPIC_CHARS} characters.", code="text_too_long"
        )
    return topic


@dataclass(slots=True)
class HandQueue:
    """The live hands of one session, in the order they were raised."""

    hands: dict[int, Hand] = field(default_factory=dict)
    last_id: int = 0
    turns: dict[str, int] = field(default_factory=dict)  # speaking turns per audience

    def of(self, participant: str) -> Hand | None:
        """The participant's live hand, if any."""
        return next((h for h in self.hands.values() if h.participant == participant), None)

    def on_stage(self) -> list[Hand]:
        return [h for h in self.hands.values() if h.status == HandStatus.ON_STAGE]

    def may_publish(self, participant: str) -> bool:
        """Whether the participant is on stage now (invited, not ended, not left)."""
        hand = self.of(participant)
        return hand is not None and hand.status == HandStatus.ON_STAGE

    def raise_hand(self, participant: str, where: str, name: object, topic: object) -> ev.Draft:
        """A participant asks to speak; one live hand per participant."""
        clean = clean_name(name)
        text = clean_topic(topic)
        if self.of(participant) is not None:
            raise InvalidState("Your hand is already raised.", code="hand_raised")
        data = {
            "id": self.last_id + 1,
            "participant": participant,
            "name": clean,
            "where": where,
            "topic": text,
        }
        return ev.Draft(ev.HAND_RAISED, data)

    def lower(self, participant: str) -> ev.Draft:
        """The participant lowers their hand, or leaves the stage."""
        hand = self.of(participant)
        if hand is None:
            raise NotFound("Your hand is not raised.")
        return ev.Draft(ev.HAND_LOWERED, {"id": hand.id})

    def _get(self, hand: object) -> Hand:
        if not isinstance(hand, int) or isinstance(hand, bool) or hand not in self.hands:
            raise NotFound("No such raised hand.")
        return self.hands[hand]

    def invite(self, hand: object) -> ev.Draft:
        """The moderator invites a raised hand onto the stage."""
        found = self._get(hand)
        if found.status == HandStatus.ON_STAGE:
            raise InvalidState("Already on stage.", code="on_stage")
        if len(self.on_stage()) >= MAX_ON_STAGE:
            raise InvalidState(
                f"At most {MAX_ON_STAGE} are on stage at once; end one first.",
                code="on_stage_full",
            )
        return ev.Draft(ev.HAND_INVITED, {"id": found.id})

    def mute(self, hand: object, on: object) -> ev.Draft:
        """The moderator mutes (or unmutes) someone on stage."""
        found = self._get(hand)
        if not isinstance(on, bool):
            raise InvalidState("`on` must be true or false.", code="invalid_value")
        if found.status != HandStatus.ON_STAGE:
            raise InvalidState("Not on stage.", code="not_on_stage")
        return ev.Draft(ev.HAND_MUTED, {"id": found.id, "on": on})

    def report_mic(self, participant: str, problem: object) -> ev.Draft:
        """The speaker's page says their microphone fails (or works again), so the
        moderator knows why the room hears nothing."""
        hand = self.of(participant)
        if hand is None or hand.status != HandStatus.ON_STAGE:
            raise InvalidState("You are not on stage.", code="not_on_stage")
        if problem is not None and problem not in MIC_PROBLEMS:
            raise InvalidState(
                "`problem` must be denied, missing, failed or null.", code="invalid_value"
            )
        return ev.Draft(ev.HAND_MIC, {"id": hand.id, "problem": problem})

    def end(self, hand: object) -> ev.Draft:
        """The moderator ends someone's turn on stage, or declines a raised hand."""
        return ev.Draft(ev.HAND_ENDED, {"id": self._get(hand).id})

    def apply(self, event: ev.Event) -> None:
        """Fold a hand event in."""
        data = event.data
        if event.type == ev.HAND_RAISED:
            hand_id = int(data["id"])
            self.hands[hand_id] = Hand(
                hand_id, data["participant"], data["name"], data["where"], data["topic"], event.at
            )
            self.last_id = max(self.last_id, hand_id)
            return
        hand = self.hands.get(int(data["id"]))
        if hand is None:
            return
        if event.type == ev.HAND_INVITED:
            hand.status = HandStatus.ON_STAGE
            hand.invited_at = event.at
            self.turns[hand.where] = self.turns.get(hand.where, 0) + 1
        elif event.type == ev.HAND_MUTED:
            hand.muted = bool(data["on"])
        elif event.type == ev.HAND_MIC:
            hand.mic = data["problem"]
        elif event.type in (ev.HAND_LOWERED, ev.HAND_ENDED):
            del self.hands[hand.id]
