"""Use cases of live sessions: load, ask, vote, moderate, run the agenda.

Every command follows one path: decide with the domain rules against the in-memory
state, apply the event (so the next command sees it), append it to the store, and only
after the commit publish the change and acknowledge. If the store fails, the session
is rebuilt from the store so memory never keeps what the disk does not have.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from companion.backends.base import Bus, SeqConflict, Store, StoreUnavailable
from companion.domain import access as access_rules
from companion.domain import events as ev
from companion.domain.access import SessionAccess
from companion.domain.errors import DomainError, NotFound
from companion.domain.programme import Programme
from companion.domain.session_state import SessionState
from companion.domain.word_filter import WordFilter
from companion.programme_file import programme_from_data, programme_to_data
from companion.services.projection import Change, project

log = logging.getLogger(__name__)

RECENT_CHANGES = 5000
MAX_CONFLICTS = 20  # shared stores: retries when another process appended first
RECENT_OWN = 256  # shared stores: changes kept to answer our own commands

Decide = Callable[[SessionState], ev.Draft]

# Moderator actions by protocol name: each takes the state and the message's fields.
MODERATOR_ACTIONS: dict[str, Callable[[SessionState, dict[str, Any]], ev.Draft]] = {
    "question.approve": lambda s, m: s.board.approve(m.get("question")),
    "question.hide": lambda s, m: s.board.hide(m.get("question")),
    "question.edit": lambda s, m: s.board.edit(m.get("question"), m.get("text")),
    "question.merge": lambda s, m: s.board.merge(m.get("question"), m.get("into")),
    "question.highlight": lambda s, m: s.board.highlight(m.get("question")),
    "question.unhighlight": lambda s, m: s.board.unhighlight(m.get("question")),
    "question.answer": lambda s, m: s.board.answer(m.get("question")),
    "agenda.next": lambda s, m: s.agenda.step(+1),
    "agenda.prev": lambda s, m: s.agenda.step(-1),
    "agenda.goto": lambda s, m: s.agenda.goto(m.get("item")),
    "timer.start": lambda s, m: s.agenda.start_timer(),
    "timer.pause": lambda s, m: s.agenda.pause_timer(),
    "timer.extend": lambda s, m: s.agenda.extend_timer(m.get("minutes")),
    "item.status": lambda s, m: s.agenda.set_status(m.get("item"), m.get("status")),
    "break.start": lambda s, m: s.agenda.start_break(m.get("minutes"), m.get("message", "")),
    "break.end": lambda s, m: s.agenda.end_break(),
    "session.premoderation": lambda s, m: s.set_premoderation(m.get("on")),
    "session.lock": lambda s, m: s.set_flag("locked", m.get("on")),
    "session.close": lambda s, m: s.set_flag("closed", m.get("on")),
    "poll.create": lambda s, m: s.create_poll(m),
    "poll.open": lambda s, m: s.polls.open(m.get("poll")),
    "poll.close": lambda s, m: s.polls.close(m.get("poll")),
    "poll.hide_results": lambda s, m: s.polls.set_hide_results(m.get("poll"), m.get("hide")),
    "poll.show": lambda s, m: s.polls.show(m.get("poll")),
    "poll.unshow": lambda s, m: s.polls.unshow(m.get("poll")),
}


class StoreError(DomainError):
    """The change could not be stored; it was not applied."""

    code = "store_unavailable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: the committed event and the change sent to clients."""

    event: ev.Event
    change: Change


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
        self.programme = Programme()
        self.access: dict[str, SessionAccess] = {}
        self.by_code: dict[str, str] = {}
        self.states: dict[str, SessionState] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.broken: set[str] = set()  # sessions whose memory may be ahead of the store
        self._recent: dict[str, dict[int, Change]] = {}  # shared stores: seq -> change
        self._tasks: set[asyncio.Task[None]] = set()

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
        data = await self.store.load_programme()
        self.programme = programme_from_data(data) if data else Programme()
        self.access = {a.session_id: a for a in await self.store.load_access()}
        self.by_code = {a.join_code: a.session_id for a in self.access.values()}
        self.states = {}
        for _, _, _, session in self.programme.sessions():
            if session.id in self.access:
                self.states[session.id] = await self._rebuild(session.id, prime, recent)

    async def _rebuild(
        self,
        session_id: str,
        prime: Callable[[Change], None] | None,
        recent: int = RECENT_CHANGES,
    ) -> SessionState:
        found = self.programme.find_session(session_id)
        assert found is not None
        state = SessionState(found[3])
        access = self.access.get(session_id)
        state.join_code = access.join_code if access else None
        events = await self.store.load_events(session_id)
        first_primed = len(events) - recent
        for i, event in enumerate(events):
            if prime is not None and i >= first_primed:
                was_public = self._public_flags(state, event.type, event.data)
                prime(project(state, state.apply(event), was_public))
            else:
                state.apply(event)
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
        self, session_id: str, participant: str, where: str, text: object, name: object
    ) -> Outcome:
        """A participant asks a question under the current agenda item.

        It is held for moderation when the session pre-moderates or the word filter matches.
        """
        held_by_filter = self.word_filter.matches(text) or self.word_filter.matches(name)
        return await self.execute(
            session_id,
            lambda s: (
                s.require_questions_open()
                or s.board.ask(
                    text,
                    name,
                    participant,
                    where,
                    s.agenda.current,
                    s.premoderation or held_by_filter,
                )
            ),
        )

    async def vote(self, session_id: str, participant: str, question: object) -> Outcome:
        """A participant casts or withdraws a vote."""
        return await self.execute(
            session_id, lambda s: s.require_open() or s.board.vote(question, participant)
        )

    async def answer_poll(
        self, session_id: str, participant: str, poll: object, answer: object
    ) -> Outcome:
        """A participant answers a poll, or changes their answer while it is open."""
        return await self.execute(
            session_id, lambda s: s.require_open() or s.polls.answer(poll, participant, answer)
        )

    async def record_attendance(self, session_id: str, room: int, remote: int) -> Outcome:
        """Record a new attendance peak; DomainError `no_change` when it is not higher."""
        return await self.execute(session_id, lambda s: s.attendance.record(room, remote))

    async def rotate_moderator_token(self, session_id: str) -> str:
        """A new moderator token; every link and console with the old one stops working."""
        self.state(session_id)
        old = self.access[session_id]
        fresh = replace(old, moderator_token=access_rules.new_moderator_token())
        await self._store_access(fresh, old.join_code)
        await self.execute(session_id, lambda s: ev.Draft(ev.KEY_ROTATED, {}))
        return fresh.moderator_token

    async def regenerate_join_code(self, session_id: str) -> str:
        """A new join code (the old one stops opening the session); joined people stay."""
        self.state(session_id)
        old = self.access[session_id]
        code = access_rules.new_join_code()
        while code in self.by_code:
            code = access_rules.new_join_code()
        await self._store_access(replace(old, join_code=code), old.join_code)
        await self.execute(session_id, lambda s: ev.Draft(ev.CODE_CHANGED, {"join_code": code}))
        return code

    async def _store_access(self, fresh: SessionAccess, old_code: str) -> None:
        try:
            await self.store.update_access(fresh, old_code)
        except (StoreUnavailable, OSError) as exc:
            raise StoreError("The change could not be saved; please try again.") from exc
        self._set_access(fresh)

    def _set_access(self, fresh: SessionAccess) -> None:
        old = self.access.get(fresh.session_id)
        if old is not None and self.by_code.get(old.join_code) == fresh.session_id:
            del self.by_code[old.join_code]
        self.access[fresh.session_id] = fresh
        self.by_code[fresh.join_code] = fresh.session_id
        state = self.states.get(fresh.session_id)
        if state is not None:
            state.join_code = fresh.join_code

    def _follow_access(self, event: ev.Event) -> None:
        # Another process changed a session's secrets: take them from the store.
        if event.type in (ev.CODE_CHANGED, ev.KEY_ROTATED):
            task = asyncio.get_running_loop().create_task(self._reload_access(event.session_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reload_access(self, session_id: str) -> None:
        try:
            for access in await self.store.load_access():
                if access.session_id == session_id:
                    self._set_access(access)
        except (StoreUnavailable, OSError):
            log.warning("could not reload the secrets of %s", session_id)

    async def moderate(self, session_id: str, action: str, fields: dict[str, Any]) -> Outcome:
        """Run a moderator action by its protocol name."""
        rule = MODERATOR_ACTIONS.get(action)
        if rule is None:
            raise DomainError(f"Unknown moderator action {action!r}.", code="unknown_type")
        return await self.execute(session_id, lambda s: rule(s, fields))

    async def execute(self, session_id: str, decide: Decide) -> Outcome:
        """Decide, apply, store, then publish one event of one session."""
        if getattr(self.store, "shared", False):
            return await self._execute_shared(session_id, decide)
        if session_id in self.broken:
            await self._recover(session_id)
            if session_id in self.broken:
                raise StoreError("The session cannot be saved right now; please try again.")
        state = self.state(session_id)
        draft = decide(state)
        event = ev.Event(session_id, state.seq + 1, draft.type, draft.data, self.clock())
        was_public = self._public_flags(state, draft.type, draft.data)
        change = project(state, state.apply(event), was_public)
        try:
            await self.store.append([event])
        except (StoreUnavailable, OSError) as exc:
            log.error("store failed for %s seq %s: %s", session_id, event.seq, exc)
            await self._recover(session_id, state)
            raise StoreError("The change could not be saved; please try again.") from exc
        self.bus.publish(change)
        return Outcome(event, change)

    # -- shared stores (several processes append to one log) ------------------------------
    async def _execute_shared(self, session_id: str, decide: Decide) -> Outcome:
        # Another process may append first: decide against the latest state, append only if
        # the log still ends where that state does (the store checks), else catch up and
        # decide again. Applying only after the append keeps memory equal to the log.
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            for _ in range(MAX_CONFLICTS):
                state = self.state(session_id)
                draft = decide(state)
                event = ev.Event(session_id, state.seq + 1, draft.type, draft.data, self.clock())
                try:
                    await self.store.append([event])
                except SeqConflict:
                    await self._catch_up_or_fail(session_id)
                    # The client library retries after a lost reply or a timeout, so the
                    # conflict may be this very event, stored by the first attempt.
                    mine = self._recent.get(session_id, {}).get(event.seq)
                    if mine is not None and await self._stored_already(event):
                        return Outcome(event, mine)
                    continue
                except (StoreUnavailable, OSError) as exc:
                    raise StoreError("The change could not be saved; please try again.") from exc
                # The log ended at state.seq, so only the tail can have applied anything
                # meanwhile, and then only this very event.
                change = self.apply_committed(event) or self._recent[session_id][event.seq]
                return Outcome(event, change)
        raise StoreError("The session is too busy right now; please try again.", "busy")

    async def _stored_already(self, event: ev.Event) -> bool:
        try:
            found = await self.store.load_events(event.session_id, event.seq - 1)
        except (StoreUnavailable, OSError) as exc:
            raise StoreError("The change could not be saved; please try again.") from exc
        return bool(found) and found[0] == event

    async def _catch_up_or_fail(self, session_id: str) -> None:
        try:
            await self.catch_up(session_id)
        except (StoreUnavailable, OSError) as exc:
            raise StoreError("The change could not be saved; please try again.") from exc

    def apply_committed(self, event: ev.Event) -> Change | None:
        """Fold an event that is already in the shared log (from this or another process).

        Returns the published change, or None when the event was already applied. A gap
        (an event ahead of the state) is left to `catch_up`, which reads the log.
        """
        state = self.states.get(event.session_id)
        if state is None or event.seq != state.seq + 1:
            return None
        was_public = self._public_flags(state, event.type, event.data)
        change = project(state, state.apply(event), was_public)
        recent = self._recent.setdefault(event.session_id, {})
        recent[event.seq] = change
        recent.pop(event.seq - RECENT_OWN, None)
        self._follow_access(event)
        self.bus.publish(change)
        return change

    def on_remote_event(self, event: ev.Event) -> None:
        """An event seen on the shared log's tail; applies it, or catches up on a gap."""
        state = self.states.get(event.session_id)
        if state is None or event.seq <= state.seq:
            return
        if event.seq == state.seq + 1:
            self.apply_committed(event)
        else:
            asyncio.get_running_loop().create_task(self.catch_up(event.session_id))

    async def catch_up(self, session_id: str) -> None:
        """Apply every event of the shared log that this process has not applied yet."""
        state = self.state(session_id)
        for event in await self.store.load_events(session_id, state.seq):
            self.apply_committed(event)

    async def _recover(self, session_id: str, failed_state: SessionState | None = None) -> None:
        # Later commands may already have applied on top of the failed one; one lock keeps
        # concurrent failures from rebuilding the same state twice.
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            if failed_state is not None and self.states.get(session_id) is not failed_state:
                return  # already rebuilt since that state was used
            if failed_state is None and session_id not in self.broken:
                return
            self.broken.add(session_id)
            try:
                self.states[session_id] = await self._rebuild(session_id, None)
            except Exception:
                # Memory may hold a change the store refused: refuse commands until a
                # rebuild from the store succeeds.
                log.exception("could not rebuild %s from the store", session_id)
            else:
                self.broken.discard(session_id)

    @staticmethod
    def _public_flags(state: SessionState, kind: str, data: dict[str, Any]) -> dict[int, bool]:
        if not kind.startswith("question."):
            return {}
        ids = [data.get("id"), data.get("into"), state.board.highlighted]
        questions = state.board.questions
        return {qid: questions[qid].is_public for qid in ids if qid in questions}
