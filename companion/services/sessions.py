"""Use cases of live sessions: load, ask, vote, moderate, run the agenda.

Every command follows one path: decide with the domain rules against the in-memory
state, commit the event, and only after the commit publish the change and acknowledge.
How the commit orders applying and appending depends on whether other processes share
the store (`companion/services/commits.py`); memory never keeps what the store does not
have.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from companion.backends.base import Bus, Store, StoreUnavailable
from companion.domain import access as access_rules
from companion.domain import events as ev
from companion.domain import retention
from companion.domain.access import SessionAccess
from companion.domain.errors import DomainError, NotFound
from companion.domain.programme import AgendaItem, Programme
from companion.domain.programme_codec import programme_from_data, programme_to_data
from companion.domain.programme_edits import with_items
from companion.domain.session_state import SessionState
from companion.domain.word_filter import WordFilter
from companion.services.commands import MODERATOR_ACTIONS
from companion.services.commits import (
    AppendThenApply,
    ApplyThenAppend,
    CommitStrategy,
    Decide,
    Outcome,
    StoreError,
)
from companion.services.projection import Change, project
from companion.services.request_keys import KEY_FIELD, RecentKeys, request_key

log = logging.getLogger(__name__)

RECENT_CHANGES = 5000
CONSOLE = "moderator console"  # who, in the audit, when a console changes access
ACCESS_COPY_SECONDS = 5.0
AUDIT_WAIT_SECONDS = 0.3  # the answer waits this long for the audit entry, no longer

__all__ = ["MODERATOR_ACTIONS", "Decide", "Outcome", "SessionService", "StoreError"]


class SessionService:
    """All live sessions of this process, over one store and one bus."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: Callable[[], float] = time.time,
        word_filter: WordFilter | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.word_filter = word_filter or WordFilter(())
        self._stored_programme = Programme()
        self._live_programme: tuple[tuple[tuple[str, int], ...] | None, Programme] = (
            None,
            Programme(),
        )
        self.programme_version = 0
        self._reload_lock = asyncio.Lock()
        # Called with (session id, seq) for each session a programme reload adds, so the
        # realtime layer opens a room for it and the Redis tail follows its log.
        self.on_session_added: list[Callable[[str, int], None]] = []
        # Called with a session id when an edit makes a running session members-only, so
        # the realtime layer and the stream cut off who is there from afar without a
        # member's link (every process reloads the programme, each cuts its own).
        self.on_members_only: list[Callable[[str], None]] = []
        # Called with (network id, who, what, detail) after a new moderator link or join
        # code, so the network's audit names every access change, from a console too.
        self.audit_access: Callable[[str, str, str, str], Awaitable[None]] | None = None
        self.access: dict[str, SessionAccess] = {}
        self.by_code: dict[str, str] = {}
        self.states: dict[str, SessionState] = {}
        self.commits: CommitStrategy = (
            AppendThenApply(self) if store.shared else ApplyThenAppend(self)
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.keys = RecentKeys()  # keyed changes, so a client's retry is not made twice

    # -- loading ---------------------------------------------------------------------
    async def import_programme(self, programme: Programme) -> list[SessionAccess]:
        """Store a programme and give its new sessions codes and moderator tokens."""
        existing = {a.session_id: a for a in await self.store.load_access()}
        codes = {a.join_code for a in existing.values()}
        fresh = []
        for _, _, _, session in programme.sessions():
            if session.id in existing:
                continue
            code = access_rules.new_join_code()
            while code in codes:
                code = access_rules.new_join_code()
            codes.add(code)
            fresh.append(SessionAccess(session.id, code, access_rules.new_moderator_token()))
        await self.store.save_programme(programme_to_data(programme), fresh)
        return [*existing.values(), *fresh]

    async def load(
        self, prime: Callable[[Change], None] | None = None, recent: int = RECENT_CHANGES
    ) -> None:
        """Load the programme and rebuild every session's state from its event log.

        `prime` receives the changes of each session's most recent events, so that the
        realtime layer can replay them to clients that reconnect after a restart.
        """
        data, self.programme_version = await self.store.load_programme_versioned()
        self.programme = programme_from_data(data) if data else Programme()
        self.access = {a.session_id: a for a in await self.store.load_access()}
        self.states = {}
        for _, _, _, session in self.programme.sessions():
            if session.id in self.access:
                self.states[session.id] = await self.rebuild(session.id, prime, recent)
        # A deleted session keeps its secrets and log (nothing is lost) but its code opens
        # nothing.
        self.by_code = {
            a.join_code: a.session_id for a in self.access.values() if a.session_id in self.states
        }

    @property
    def programme(self) -> Programme:
        """The programme with every session's agenda as it is now (after live edits).

        The store keeps each session's agenda as planned when the session was made; the
        organiser's later edits are `agenda.revised` events in the session's log.
        """
        live = {sid: state.agenda.items for sid, state in self.states.items()}
        key = tuple((sid, id(items)) for sid, items in live.items())
        if key != self._live_programme[0]:
            # The cached programme holds the item tuples, so their ids stay unique.
            self._live_programme = (key, with_items(self._stored_programme, live))
        return self._live_programme[1]

    @programme.setter
    def programme(self, programme: Programme) -> None:
        self._stored_programme = programme
        self._live_programme = (None, programme)

    async def reload_programme(self) -> None:
        """Take the stored programme after an edit (here or in another process).

        New sessions get a state, deleted ones leave memory; running sessions keep their
        state and take the new title, description, track and moderator.
        """
        async with self._reload_lock:  # one at a time, so an older read never wins
            await self._reload_programme()

    async def _reload_programme(self) -> None:
        data, version = await self.store.load_programme_versioned()
        access = {a.session_id: a for a in await self.store.load_access()}
        self.programme = programme_from_data(data) if data else Programme()
        self.access = access
        wanted = {
            row[3].id: row[3] for row in self._stored_programme.sessions() if row[3].id in access
        }
        added: list[str] = []
        closed: list[str] = []  # sessions made members-only by this change
        for session_id, session in wanted.items():
            state = self.states.get(session_id)
            if state is None:
                self.states[session_id] = await self.rebuild(session_id, None)
                added.append(session_id)
            else:
                if session.members_only and not state.session.members_only:
                    closed.append(session_id)
                state.session = replace(session, items=state.agenda.items)
        for session_id in [sid for sid in self.states if sid not in wanted]:
            del self.states[session_id]
        self.by_code = {a.join_code: sid for sid, a in access.items() if sid in self.states}
        self.programme_version = version
        for session_id in added:
            for listener in self.on_session_added:
                listener(session_id, self.states[session_id].seq)
        for session_id in closed:
            for cut in self.on_members_only:
                cut(session_id)

    async def revise_agenda(
        self, session_id: str, edit: Callable[[tuple[AgendaItem, ...]], tuple[AgendaItem, ...]]
    ) -> Outcome:
        """Change a session's agenda (live or not) as an event of the session.

        `edit` gets the agenda as it is when the change is decided (again after a conflict
        with another process) and returns the new one.
        """
        return await self.execute(session_id, lambda s: s.revise_agenda(edit(s.agenda.items)))

    async def rebuild(
        self,
        session_id: str,
        prime: Callable[[Change], None] | None = None,
        recent: int = RECENT_CHANGES,
        upto: int | None = None,
    ) -> SessionState:
        """A session's state folded from its stored log (up to seq `upto`, else whole)."""
        found = self.programme.find_session(session_id)
        assert found is not None
        state = SessionState(found[3])
        access = self.access.get(session_id)
        state.join_code = access.join_code if access else None
        events = await self.store.load_events(session_id)
        if upto is not None:
            events = [e for e in events if e.seq <= upto]
        self.keys.forget(session_id)
        first_primed = len(events) - recent
        for i, event in enumerate(events):
            self.keys.remember(event)
            if prime is not None and i >= first_primed:
                prime(self.fold(state, event))
            else:
                state.apply(event)
            if access is not None:
                access = self._secrets_after(access, event)
        if access is not None:
            self._set_access(access)  # the log's latest secrets win over the table's copy
        state.join_code = access.join_code if access else None
        return state

    # -- queries ---------------------------------------------------------------------
    def session_by_code(self, code: object) -> str:
        """The session a join code opens, or NotFound."""
        normal = access_rules.normalise_code(code)
        session_id = self.by_code.get(normal) if normal else None
        if session_id is None:
            raise NotFound("No session has that code.", code="unknown_code")
        return session_id

    def state(self, session_id: object) -> SessionState:
        """The live state of a session, or NotFound."""
        state = self.states.get(session_id) if isinstance(session_id, str) else None
        if state is None:
            raise NotFound("No such session.", code="unknown_session")
        return state

    def is_moderator(self, session_id: object, token: object) -> bool:
        """Whether `token` is the moderator token of that session, compared in constant time."""
        access = self.access.get(session_id) if isinstance(session_id, str) else None
        if access is None or not isinstance(token, str) or not token:
            return False
        # Tokens are ASCII; JSON can carry lone surrogates, which a strict encode refuses.
        return hmac.compare_digest(
            token.encode("utf-8", "replace"), access.moderator_token.encode()
        )

    def check_moderator(self, session_id: object, token: object) -> str:
        """The session id when `token` is its moderator token.

        NotFound (`unknown_session`) for an unknown session, else DomainError `forbidden`.
        The one check behind the console's WebSocket, the report and the stream routes.
        """
        self.state(session_id)
        if not self.is_moderator(session_id, token):
            raise DomainError("The moderator token is not valid for this session.", "forbidden")
        assert isinstance(session_id, str)
        return session_id

    # -- commands --------------------------------------------------------------------
    async def ask(
        self,
        session_id: str,
        participant: str,
        where: str,
        text: object,
        name: object,
        key: object = None,
    ) -> Outcome:
        """A participant asks a question under the current agenda item.

        It is held for moderation when the session pre-moderates or the word filter (the
        installation's list and the session's own words, unless the session turned it
        off) matches; a session may refuse questions without a name. `key`: see
        `request_keys`.
        """

        def decide(s: SessionState) -> ev.Draft:
            s.require_questions_open()
            s.require_name_unless_anonymous(name)
            held = s.premoderation or s.settings.held(self.word_filter, text, name)
            return s.board.ask(text, name, participant, where, s.agenda.current, held)

        return await self.execute(
            session_id,
            decide,
            request_key(participant, "ask", key),
        )

    async def vote(
        self,
        session_id: str,
        participant: str,
        question: object,
        key: object = None,
        where: str | None = None,
    ) -> Outcome:
        """A participant casts or withdraws a vote (a retry under the same `key` does neither
        again); `where` is the voter's audience, for the fairness figures."""

        def decide(s: SessionState) -> ev.Draft:
            s.require_open()
            return s.board.vote(question, participant, where)

        return await self.execute(session_id, decide, request_key(participant, "vote", key))

    async def answer_poll(
        self, session_id: str, participant: str, poll: object, answer: object, key: object = None
    ) -> Outcome:
        """A participant answers a poll, or changes their answer while it is open."""

        def decide(s: SessionState) -> ev.Draft:
            s.require_open()
            return s.polls.answer(poll, participant, answer)

        return await self.execute(session_id, decide, request_key(participant, "poll.answer", key))

    # -- the participant's own data (companion.domain.retention) -------------------------
    def my_data(self, session_id: str, participant: str) -> dict[str, Any]:
        """What this participant has sent in the session, as the session holds it now."""
        state = self.state(session_id)
        return {
            "questions": [
                {
                    "id": q.id,
                    "text": q.text,
                    "name": q.name,
                    "where": q.where,
                    "status": q.status.value,
                    "withdrawn": q.withdrawn,
                    "asked_at": q.asked_at,
                }
                for q in state.board.asked_by(participant)
            ],
            "votes": state.board.voted_by(participant),
            "answers": [
                {"poll": poll, "answer": answer}
                for poll, answer in state.polls.answers_of(participant).items()
            ],
            "hand": self._my_hand(state, participant),
        }

    @staticmethod
    def _my_hand(state: SessionState, participant: str) -> dict[str, Any] | None:
        """The participant's live raised hand ("Jag vill prata"), as they sent it."""
        hand = state.hands.of(participant)
        if hand is None:
            return None
        return {
            "id": hand.id,
            "name": hand.name,
            "topic": hand.topic,
            "status": hand.status.value,
            "raised_at": hand.raised_at,
        }

    async def withdraw(
        self, session_id: str, participant: str, question: object, key: object = None
    ) -> Outcome:
        """The asker takes their question back: hidden for everyone, for good."""
        return await self.execute(
            session_id,
            lambda s: s.board.withdraw(question, participant),
            request_key(participant, "question.withdraw", key),
        )

    async def unname(self, session_id: str, participant: str, question: object) -> Outcome:
        """The asker's name comes off their question, in the stored log too."""
        chosen: list[int] = []

        def decide(s: SessionState) -> ev.Draft:
            draft = s.board.unname(question, participant)
            chosen[:] = [draft.data["id"]]
            return draft

        return await self.commits.rewrite(
            session_id, decide, lambda events: retention.without_name(events, chosen[0])
        )

    async def forget(self, session_id: str, participant: str) -> retention.Removal:
        """Unlink a participant id from everything in the session's log: their questions,
        votes and answers stay, under labels nothing else holds (a device forgotten)."""
        return await self._scrub(session_id, participant)

    async def scrub(self, session_id: str) -> retention.Removal:
        """Take every piece of personal data out of the session's log (retention)."""
        return await self._scrub(session_id, None)

    async def _scrub(self, session_id: str, participant: str | None) -> retention.Removal:
        removed = retention.Removal()

        def rewrite(events: list[ev.Event]) -> list[ev.Event]:
            nonlocal removed
            new, removed = retention.scrub(events, participant)
            return new

        scope = retention.ALL if participant is None else retention.PARTICIPANT
        await self.commits.rewrite(
            session_id, lambda s: ev.Draft(ev.SESSION_SCRUBBED, {"scope": scope}), rewrite
        )
        return removed

    async def record_attendance(self, session_id: str, room: int, remote: int) -> Outcome:
        """Record a new attendance peak; DomainError `no_change` when it is not higher."""
        return await self.execute(session_id, lambda s: s.attendance.record(room, remote))

    async def rotate_moderator_token(self, session_id: str, by: str = CONSOLE) -> str:
        """A new moderator token; every link and console with the old one stops working.

        The rotation is one event that carries the new token, so it is stored whole or not
        at all, and every process takes the token from the log. Clients never see event
        data (they get projections), so only the console that asked learns it, in its ack.
        """
        self.state(session_id)
        token = access_rules.new_moderator_token()
        await self.execute(
            session_id, lambda s: ev.Draft(ev.KEY_ROTATED, {"moderator_token": token})
        )
        self._copy_access(session_id)
        await self._audit(session_id, by, "session.moderator_link", session_id)
        return token

    async def regenerate_join_code(self, session_id: str, by: str = CONSOLE) -> str:
        """A new join code (the old one stops opening the session); joined people stay."""
        self.state(session_id)
        code = access_rules.new_join_code()
        while code in self.by_code:
            code = access_rules.new_join_code()
        await self.execute(session_id, lambda s: ev.Draft(ev.CODE_CHANGED, {"join_code": code}))
        self._copy_access(session_id)
        await self._audit(session_id, by, "session.join_code", f"{session_id}: {code}")
        return code

    async def _audit(self, session_id: str, who: str, what: str, detail: str) -> None:
        # The change itself is committed; its audit entry is written beside it. The
        # answer waits for it only briefly, so a hung store cannot hold the answer back.
        task = asyncio.get_running_loop().create_task(
            self._write_audit(session_id, who, what, detail)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.wait({task}, timeout=AUDIT_WAIT_SECONDS)

    async def _write_audit(self, session_id: str, who: str, what: str, detail: str) -> None:
        found = self.programme.find_session(session_id)
        if self.audit_access is None or found is None:
            return
        try:
            await self.audit_access(found[0].id, who, what, detail)
        except (StoreUnavailable, OSError) as exc:  # the change itself is committed
            log.warning("could not audit %s of %s: %s", what, session_id, exc)

    def _copy_access(self, session_id: str) -> None:
        # The access table is a copy for readers that do not fold the logs (an import
        # choosing fresh codes); the committed event is the truth, so this runs after the
        # answer, and a failure changes nothing that matters and is only logged.
        task = asyncio.get_running_loop().create_task(self._write_access(session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_access(self, session_id: str) -> None:
        try:
            async with asyncio.timeout(ACCESS_COPY_SECONDS):
                # The latest secrets when it runs, so copies that finish out of order agree.
                access = self.access[session_id]
                await self.store.update_access(access)
        except (StoreUnavailable, OSError, TimeoutError) as exc:
            log.warning("the access table of %s lags its log: %s", session_id, exc)

    @staticmethod
    def _secrets_after(access: SessionAccess, event: ev.Event) -> SessionAccess:
        """A session's secrets once `event` is committed (a new code or moderator token)."""
        if event.type == ev.CODE_CHANGED:
            return replace(access, join_code=event.data["join_code"])
        if event.type == ev.KEY_ROTATED and "moderator_token" in event.data:
            return replace(access, moderator_token=event.data["moderator_token"])
        return access  # a rotation logged before tokens were in events: the table has it

    def _set_access(self, fresh: SessionAccess) -> None:
        old = self.access.get(fresh.session_id)
        if old is not None and self.by_code.get(old.join_code) == fresh.session_id:
            del self.by_code[old.join_code]
        self.access[fresh.session_id] = fresh
        self.by_code[fresh.join_code] = fresh.session_id
        state = self.states.get(fresh.session_id)
        if state is not None:
            state.join_code = fresh.join_code

    async def moderate(self, session_id: str, action: str, fields: dict[str, Any]) -> Outcome:
        """Run a moderator action by its protocol name."""
        rule = MODERATOR_ACTIONS.get(action)
        if rule is None:
            raise DomainError(f"Unknown moderator action {action!r}.", code="unknown_type")
        key = request_key("moderator", action, fields.get("key"))
        return await self.execute(session_id, lambda s: rule(s, fields), key)

    async def execute(self, session_id: str, decide: Decide, key: str | None = None) -> Outcome:
        """Decide, store, then publish one event of one session.

        With a `key` (`request_key`) already used by a committed change, nothing is
        decided: the outcome is that change's, so a client's retry is not made twice.
        """
        return await self.commits.commit(session_id, decide, key)

    def on_remote_event(self, event: ev.Event) -> None:
        """An event another process committed to the shared log (from the tail)."""
        self.commits.on_remote_event(event)

    # -- the steps the commit strategies share ------------------------------------------
    def next_event(self, state: SessionState, draft: ev.Draft, key: str | None) -> ev.Event:
        """The decided draft as the session's next event, with its request key."""
        data = draft.data if key is None else {**draft.data, KEY_FIELD: key}
        return ev.Event(state.session.id, state.seq + 1, draft.type, data, self.clock())

    def done_before(self, session_id: str, key: str | None) -> Outcome | None:
        """The outcome of the committed change made under `key`, to answer a retry with.

        Its change carries nothing to send (clients had it when it was made) except, for a
        vote, the question's count now, for the ack."""
        event = self.keys.find(session_id, key)
        if event is None:
            return None
        vote = None
        if event.type in (ev.VOTE_CAST, ev.VOTE_WITHDRAWN):
            question = self.state(session_id).board.questions.get(event.data["id"])
            vote = (event.data["id"], question.votes if question else 0)
        return Outcome(event, Change(session_id, event.seq, None, None, vote=vote))

    def fold(self, state: SessionState, event: ev.Event) -> Change:
        """Apply an event to the state; the change it makes for clients."""
        was_public = self._public_flags(state, event.type, event.data)
        return project(state, state.apply(event), was_public)

    def committed(self, event: ev.Event, change: Change) -> None:
        """What follows a commit: the session's secrets follow it, then every client learns."""
        access = self.access.get(event.session_id)
        if access is not None and event.type in (ev.CODE_CHANGED, ev.KEY_ROTATED):
            self._set_access(self._secrets_after(access, event))
            if event.type == ev.KEY_ROTATED and "moderator_token" not in event.data:
                self._reload_access(event.session_id)
        self.keys.remember(event)
        self.bus.publish(change)

    def _reload_access(self, session_id: str) -> None:
        # A process of the earlier version rotated the key (the table first, then an event
        # without the token), e.g. during a rolling upgrade: take the key from the table.
        async def reload() -> None:
            try:
                for access in await self.store.load_access():
                    if access.session_id == session_id:
                        self._set_access(access)
            except (StoreUnavailable, OSError) as exc:
                log.warning("could not reload the secrets of %s: %s", session_id, exc)

        task = asyncio.get_running_loop().create_task(reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _public_flags(state: SessionState, kind: str, data: dict[str, Any]) -> dict[int, bool]:
        if not kind.startswith("question."):
            return {}
        ids = [data.get("id"), data.get("into"), state.board.highlighted]
        questions = state.board.questions
        return {qid: questions[qid].is_public for qid in ids if qid in questions}
