"""Every client message type of the realtime protocol, declared once.

A row names the type, who may send it, the participant rate bucket it spends from, the
service call that decides it and what its ack carries. The realtime server's parsing,
role checks, rate limits and dispatch derive from this table, and so do the tests that
hold docs/protocol.md to it. To add a message type: a row here, the domain rule it calls,
and its section in docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from companion.domain import events as ev
from companion.services.request_keys import request_key

if TYPE_CHECKING:
    from companion.domain.session_state import SessionState
    from companion.services.sessions import Outcome, SessionService

Message = dict[str, Any]
Ack = dict[str, Any]
Rule = Callable[["SessionState", Message], ev.Draft]


class Role(StrEnum):
    """Who a connection joined as."""

    PARTICIPANT = "participant"
    MODERATOR = "moderator"
    SCREEN = "screen"


class Bucket(StrEnum):
    """A participant's own rate limit in a session; a refused request gives its token back."""

    QUESTIONS = "questions"
    VOTES = "votes"
    ANSWERS = "answers"  # poll answers: the vote limits, in a bucket of their own
    # Changes to one's own questions and forgetting the device (log rewrites, which cost
    # more than an append): the question limits, in a bucket of their own.
    OWN_DATA = "changes"


class Caller(Protocol):
    """The joined connection a message comes from (the realtime server's member)."""

    @property
    def session_id(self) -> str: ...
    @property
    def participant(self) -> str | None: ...
    @property
    def where(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...


Decide = Callable[["SessionService", Caller, Message], Awaitable[Ack]]

ANYONE = frozenset(Role)
PARTICIPANT = frozenset({Role.PARTICIPANT})
MODERATOR = frozenset({Role.MODERATOR})


@dataclass(frozen=True, slots=True)
class Command:
    """One client message type.

    `decide` runs it and returns the ack's fields beyond `type` and `re`, which `acks`
    names; `None` means the connection itself answers (`join` with `welcome`, `ping`
    with `pong`). `rule` is the domain rule of a moderator action, by itself. A command
    that only `reads` is answered by the process its client is on; the others change the
    session, and on a shared store run on the session's writer (`session_writers`).
    """

    type: str
    senders: frozenset[Role]
    decide: Decide | None = None
    acks: tuple[str, ...] = ()
    bucket: Bucket | None = None
    rule: Rule | None = None
    reads: bool = False


async def _ask(service: SessionService, who: Caller, m: Message) -> Ack:
    name = m.get("name", who.name)  # absent: the name given at join
    outcome = await service.ask(
        who.session_id,
        who.participant or "",
        who.where or "remote",
        m.get("text"),
        name,
        m.get("key"),
    )
    return {"question": outcome.event.data["id"], "status": outcome.event.data["status"]}


async def _vote(service: SessionService, who: Caller, m: Message) -> Ack:
    outcome = await service.vote(
        who.session_id, who.participant or "", m.get("question"), m.get("key"), who.where
    )
    question, votes = outcome.change.vote or (0, 0)
    return {"question": question, "voted": outcome.event.type == ev.VOTE_CAST, "votes": votes}


async def _answer(service: SessionService, who: Caller, m: Message) -> Ack:
    outcome = await service.answer_poll(
        who.session_id, who.participant or "", m.get("poll"), m.get("answer"), m.get("key")
    )
    return {"poll": outcome.event.data["id"], "answer": outcome.event.data["answer"]}


async def _my_data(service: SessionService, who: Caller, m: Message) -> Ack:
    return {"data": service.my_data(who.session_id, who.participant or "")}


async def _withdraw(service: SessionService, who: Caller, m: Message) -> Ack:
    outcome = await service.withdraw(
        who.session_id, who.participant or "", m.get("question"), m.get("key")
    )
    return {"question": outcome.event.data["id"]}


async def _unname(service: SessionService, who: Caller, m: Message) -> Ack:
    outcome = await service.unname(who.session_id, who.participant or "", m.get("question"))
    return {"question": outcome.event.data["id"]}


async def _forget(service: SessionService, who: Caller, m: Message) -> Ack:
    removed = await service.forget(who.session_id, who.participant or "")
    return {"questions": removed.questions, "votes": removed.votes, "answers": removed.answers}


async def _raise_hand(service: SessionService, who: Caller, m: Message) -> Ack:
    participant = who.participant or ""
    name = m.get("name", who.name)  # absent: the name given at join

    def decide(s: SessionState) -> ev.Draft:
        s.require_open()
        return s.hands.raise_hand(participant, who.where or "remote", name, m.get("topic"))

    key = request_key(participant, "hand.raise", m.get("key"))
    outcome = await service.execute(who.session_id, decide, key)
    return {"hand": outcome.event.data["id"]}


async def _lower_hand(service: SessionService, who: Caller, m: Message) -> Ack:
    participant = who.participant or ""
    key = request_key(participant, "hand.lower", m.get("key"))
    outcome = await service.execute(who.session_id, lambda s: s.hands.lower(participant), key)
    return {"hand": outcome.event.data["id"]}


async def _report_mic(service: SessionService, who: Caller, m: Message) -> Ack:
    participant = who.participant or ""
    problem = m.get("problem")
    await service.execute(who.session_id, lambda s: s.hands.report_mic(participant, problem))
    return {}


async def _rotate_key(service: SessionService, who: Caller, m: Message) -> Ack:
    return {"moderator_token": await service.rotate_moderator_token(who.session_id)}


async def _new_code(service: SessionService, who: Caller, m: Message) -> Ack:
    return {"join_code": await service.regenerate_join_code(who.session_id)}


def _new_poll(outcome: Outcome) -> Ack:
    return {"poll": outcome.event.data["id"]}  # so a console knows which new poll is its own


def moderator_action(
    kind: str, rule: Rule, ack: Callable[[Outcome], Ack] | None = None, acks: tuple[str, ...] = ()
) -> Command:
    """A moderator action decided by one domain rule over the session's state."""

    async def decide(service: SessionService, who: Caller, m: Message) -> Ack:
        key = request_key("moderator", kind, m.get("key"))  # the moderators share keys
        outcome = await service.execute(who.session_id, lambda state: rule(state, m), key)
        return ack(outcome) if ack is not None else {}

    return Command(kind, MODERATOR, decide, acks, rule=rule)


TABLE = (
    Command("join", ANYONE),
    Command("ping", ANYONE),
    Command("ask", PARTICIPANT, _ask, ("question", "status"), Bucket.QUESTIONS),
    Command("vote", PARTICIPANT, _vote, ("question", "voted", "votes"), Bucket.VOTES),
    Command("poll.answer", PARTICIPANT, _answer, ("poll", "answer"), Bucket.ANSWERS),
    # The participant's own data ("Mina uppgifter"): see it, withdraw or unname a question,
    # forget this device.
    Command("me.data", PARTICIPANT, _my_data, ("data",), Bucket.VOTES, reads=True),
    Command("question.withdraw", PARTICIPANT, _withdraw, ("question",), Bucket.OWN_DATA),
    Command("question.unname", PARTICIPANT, _unname, ("question",), Bucket.OWN_DATA),
    Command(
        "participant.forget",
        PARTICIPANT,
        _forget,
        ("questions", "votes", "answers"),
        Bucket.OWN_DATA,
    ),
    # Asking to speak on stage (companion.domain.hands): raise a hand with an optional
    # topic; lower it, or leave the stage.
    Command("hand.raise", PARTICIPANT, _raise_hand, ("hand",), Bucket.QUESTIONS),
    Command("hand.lower", PARTICIPANT, _lower_hand, ("hand",), Bucket.OWN_DATA),
    # The speaker's page tells the moderator that their microphone fails, or works again.
    Command("hand.mic", PARTICIPANT, _report_mic, (), Bucket.OWN_DATA),
    moderator_action("question.approve", lambda s, m: s.board.approve(m.get("question"))),
    moderator_action("question.hide", lambda s, m: s.board.hide(m.get("question"))),
    moderator_action("question.hide_asker", lambda s, m: s.board.hide_asker(m.get("question"))),
    moderator_action("question.edit", lambda s, m: s.board.edit(m.get("question"), m.get("text"))),
    moderator_action(
        "question.merge", lambda s, m: s.board.merge(m.get("question"), m.get("into"))
    ),
    moderator_action("question.highlight", lambda s, m: s.board.highlight(m.get("question"))),
    moderator_action("question.unhighlight", lambda s, m: s.board.unhighlight(m.get("question"))),
    moderator_action("question.answer", lambda s, m: s.board.answer(m.get("question"))),
    # A move applies the new item's scene in the same event (`SessionState.move`).
    moderator_action("agenda.next", lambda s, m: s.move(s.agenda.step(+1))),
    moderator_action("agenda.prev", lambda s, m: s.move(s.agenda.step(-1))),
    moderator_action("agenda.goto", lambda s, m: s.move(s.agenda.goto(m.get("item")))),
    moderator_action("scene.set", lambda s, m: s.set_scene(m.get("item"), m.get("scene"))),
    moderator_action("show.screen", lambda s, m: s.show.set_screen(m.get("screen"))),
    moderator_action("show.stream", lambda s, m: s.show.set_stream(m.get("stream"))),
    moderator_action("show.slate_audio", lambda s, m: s.show.set_slate_audio(m.get("audio"))),
    moderator_action("timer.start", lambda s, m: s.agenda.start_timer()),
    moderator_action("timer.pause", lambda s, m: s.agenda.pause_timer()),
    moderator_action("timer.extend", lambda s, m: s.agenda.extend_timer(m.get("minutes"))),
    moderator_action(
        "item.status", lambda s, m: s.agenda.set_status(m.get("item"), m.get("status"))
    ),
    moderator_action(
        "break.start", lambda s, m: s.agenda.start_break(m.get("minutes"), m.get("message", ""))
    ),
    moderator_action("break.end", lambda s, m: s.agenda.end_break()),
    moderator_action("session.premoderation", lambda s, m: s.set_premoderation(m.get("on"))),
    moderator_action("session.lock", lambda s, m: s.set_flag("locked", m.get("on"))),
    moderator_action("session.close", lambda s, m: s.set_flag("closed", m.get("on"))),
    Command("session.rotate_key", MODERATOR, _rotate_key, ("moderator_token",)),
    Command("session.new_code", MODERATOR, _new_code, ("join_code",)),
    moderator_action("poll.create", lambda s, m: s.create_poll(m), _new_poll, ("poll",)),
    moderator_action("poll.open", lambda s, m: s.polls.open(m.get("poll"))),
    moderator_action("poll.close", lambda s, m: s.polls.close(m.get("poll"))),
    moderator_action(
        "poll.hide_results", lambda s, m: s.polls.set_hide_results(m.get("poll"), m.get("hide"))
    ),
    moderator_action("poll.show", lambda s, m: s.polls.show(m.get("poll"))),
    moderator_action("poll.unshow", lambda s, m: s.polls.unshow(m.get("poll"))),
    moderator_action("hand.invite", lambda s, m: s.hands.invite(m.get("hand"))),
    moderator_action("hand.mute", lambda s, m: s.hands.mute(m.get("hand"), m.get("on"))),
    moderator_action("hand.end", lambda s, m: s.hands.end(m.get("hand"))),
    moderator_action("stage.send", lambda s, m: s.stage.send(m.get("text"))),
    moderator_action("stage.dismiss", lambda s, m: s.stage.dismiss(m.get("message"))),
)

COMMANDS: dict[str, Command] = {command.type: command for command in TABLE}
assert len(COMMANDS) == len(TABLE), "a message type is declared twice"
CLIENT_TYPES = frozenset(COMMANDS)
# The moderator actions that are one domain rule, by protocol name.
MODERATOR_ACTIONS: dict[str, Rule] = {c.type: c.rule for c in TABLE if c.rule is not None}
