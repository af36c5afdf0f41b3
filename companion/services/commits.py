"""The two ways a command is committed, chosen once by whether the store is shared.

- `ApplyThenAppend` (embedded store, written by this process alone): apply the event at
  once, so the next command decides against it, then append; if the append fails the
  session is rebuilt from the store, so memory never keeps what the store does not have.
- `AppendThenApply` (shared store, appended to by other processes too): decide against
  the latest state and append only if the log still ends where that state does; on a
  conflict catch up from the log and decide again; apply only after the append, so
  memory always equals the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from companion.backends.base import SeqConflict, StoreUnavailable
from companion.domain import events as ev
from companion.domain.errors import DomainError
from companion.domain.session_state import SessionState
from companion.services.projection import Change

if TYPE_CHECKING:
    from companion.services.sessions import SessionService

log = logging.getLogger(__name__)

MAX_CONFLICTS = 20  # shared stores: retries when another process appended first
RECENT_OWN = 256  # shared stores: changes kept to answer our own commands
# Shared stores: every command is answered within ANSWER_SECONDS, however the store hangs;
# the store refuses to run an append later than FENCE_SECONDS after the command began, so
# `store_unavailable` means "not stored" unless the store ran it in time and its answer
# then took more than ANSWER_SECONDS - FENCE_SECONDS to arrive (docs/protocol.md).
ANSWER_SECONDS = 1.6
FENCE_SECONDS = 0.8


@dataclass(frozen=True, slots=True)
class Fence:
    """A forwarded command's fence: as a local monotonic instant, and in the shared
    store's clock as the forwarding process fixed it (passed to the append unchanged)."""

    local: float
    store: int


# Set while the session's writer runs a command another process forwarded to it
# (companion.services.session_writers): its fence replaces started + FENCE_SECONDS.
FORWARDED_FENCE: ContextVar[Fence | None] = ContextVar("forwarded_fence", default=None)

Decide = Callable[[SessionState], ev.Draft]
Rewrite = Callable[[list[ev.Event]], list[ev.Event]]
# An event whose rewrite leaves memory behind the log: every process rebuilds the session
# from the rewritten log (the event says whose data went only in the log itself).
REBUILDS = frozenset({ev.SESSION_SCRUBBED})


class StoreError(DomainError):
    """The change could not be stored; it was not applied."""

    code = "store_unavailable"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: the committed event and the change sent to clients."""

    event: ev.Event
    change: Change


def _unsaved() -> StoreError:
    return StoreError("The change could not be saved; please try again.")


class CommitStrategy(Protocol):
    """Commits one decided event of one session, and follows what others commit."""

    async def commit(self, session_id: str, decide: Decide, key: str | None = None) -> Outcome:
        """Decide against the session's state, store the event, apply and publish it; or,
        when a change under `key` is already committed, that change's outcome."""

    def on_remote_event(self, event: ev.Event) -> None:
        """An event another process committed (seen on the shared log's tail)."""

    async def rewrite(self, session_id: str, decide: Decide, rewrite: Rewrite) -> Outcome:
        """Commit the decided event together with a rewrite of the session's stored log
        (`Store.replace_log`): both are stored, or neither."""


async def _replace(
    service: SessionService, state: SessionState, event: ev.Event, rewrite: Rewrite
) -> None:
    """Store `rewrite(log) + [event]` if the stored log ends where the event was decided.

    Against `event.seq - 1`, not `state.seq`: on a shared store the tail may apply another
    process's event to the state while the log is read, and the event would then repeat
    a seq; the conflict is caught here (or by the store) and the caller decides again."""
    decided_at = event.seq - 1
    old = await service.store.load_events(state.session.id)
    if (old[-1].seq if old else 0) != decided_at:
        raise SeqConflict(old[-1].seq if old else 0)
    new = rewrite(old)
    if [e.seq for e in new] != [e.seq for e in old]:
        raise ValueError("a rewrite must keep every event and its seq")
    await service.store.replace_log([*new, event], decided_at)


async def _after_replace(service: SessionService, state: SessionState, event: ev.Event) -> Change:
    """Bring memory to the rewritten log: fold the event, or rebuild the session."""
    if event.type not in REBUILDS:
        change = service.fold(state, event)
    else:
        service.states[event.session_id] = await service.rebuild(event.session_id, upto=event.seq)
        change = Change(event.session_id, event.seq, None, None, reset=True)
    service.committed(event, change)
    return change


class ApplyThenAppend:
    """The embedded store's order: apply, append, and rebuild the session if that fails."""

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self.broken: set[str] = set()  # sessions whose memory may be ahead of the store
        self._locks: dict[str, asyncio.Lock] = {}
        self._rewriting: dict[str, asyncio.Event] = {}  # set when the rewrite is done

    async def commit(self, session_id: str, decide: Decide, key: str | None = None) -> Outcome:
        """Decide, apply, append; publish once the store has it."""
        service = self.service
        while (rewriting := self._rewriting.get(session_id)) is not None:
            await rewriting.wait()  # decided against the rewritten log, not the old one
        if session_id in self.broken:
            await self._recover(session_id)
            if session_id in self.broken:
                raise StoreError("The session cannot be saved right now; please try again.")
        done = service.done_before(session_id, key)
        if done is not None:
            return done
        state = service.state(session_id)
        event = service.next_event(state, decide(state), key)
        change = service.fold(state, event)
        try:
            await service.store.append([event])
        except (StoreUnavailable, OSError) as exc:
            log.error("store failed for %s seq %s: %s", session_id, event.seq, exc)
            await self._recover(session_id, state)
            raise _unsaved() from exc
        service.committed(event, change)
        return Outcome(event, change)

    def on_remote_event(self, event: ev.Event) -> None:
        """Nobody else appends to an embedded store: nothing to follow."""

    async def rewrite(self, session_id: str, decide: Decide, rewrite: Rewrite) -> Outcome:
        """Hold the session's new commands, let the appends under way land (the store runs
        jobs in order), then rewrite the log and append the event in one transaction."""
        service = self.service
        while (rewriting := self._rewriting.get(session_id)) is not None:
            await rewriting.wait()
        state = service.state(session_id)
        done = self._rewriting[session_id] = asyncio.Event()
        try:
            event = service.next_event(state, decide(state), None)
            try:
                await _replace(service, state, event, rewrite)
            except (StoreUnavailable, OSError) as exc:
                log.error("could not rewrite the log of %s: %s", session_id, exc)
                raise _unsaved() from exc
            return Outcome(event, await _after_replace(service, state, event))
        finally:
            del self._rewriting[session_id]
            done.set()

    async def _recover(self, session_id: str, failed_state: SessionState | None = None) -> None:
        # Later commands may already have applied on top of the failed one; one lock keeps
        # concurrent failures from rebuilding the same state twice.
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            states = self.service.states
            if failed_state is not None and states.get(session_id) is not failed_state:
                return  # already rebuilt since that state was used
            if failed_state is None and session_id not in self.broken:
                return
            self.broken.add(session_id)
            try:
                states[session_id] = await self.service.rebuild(session_id)
            except Exception:
                # Memory may hold a change the store refused: refuse commands until a
                # rebuild from the store succeeds.
                log.exception("could not rebuild %s from the store", session_id)
            else:
                self.broken.discard(session_id)


class AppendThenApply:
    """The shared store's order: append if the log still ends here, else catch up and retry."""

    def __init__(self, service: SessionService) -> None:
        self.service = service
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent: dict[str, dict[int, Change]] = {}  # seq -> change, to answer our own
        self._tasks: set[asyncio.Task[None]] = set()
        self._rebuilt: dict[str, int] = {}  # session id -> seq of the last rewrite folded

    async def commit(self, session_id: str, decide: Decide, key: str | None = None) -> Outcome:
        """Decide against the latest state, append, then apply and publish: answered within
        ANSWER_SECONDS, waiting for the session's lock included."""
        started = time.monotonic()
        fence = FORWARDED_FENCE.get() or Fence(started + FENCE_SECONDS, 0)
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                return await self._commit(session_id, decide, key, fence)
        except TimeoutError:
            log.warning("the store did not answer in time for %s", session_id)
            raise _unsaved() from None

    async def _commit(
        self, session_id: str, decide: Decide, key: str | None, fence: Fence
    ) -> Outcome:
        service = self.service
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            for _ in range(MAX_CONFLICTS):
                # After a conflict the log may hold this very change, made by an earlier
                # attempt whose answer was lost: its key says so.
                done = service.done_before(session_id, key)
                if done is not None:
                    return done
                state = service.state(session_id)
                event = service.next_event(state, decide(state), key)
                try:
                    await service.store.append([event], fence.local, fence.store or None)
                except SeqConflict:
                    await self._catch_up_or_fail(session_id)
                    # The client library retries after a lost reply or a timeout, so the
                    # conflict may be this very event, stored by the first attempt.
                    mine = self._recent.get(session_id, {}).get(event.seq)
                    if mine is not None and await self._stored_already(event):
                        return Outcome(event, mine)
                    continue
                except (StoreUnavailable, OSError) as exc:
                    raise _unsaved() from exc
                # The log ended at state.seq, so only the tail can have applied anything
                # meanwhile, and then only this very event.
                change = self.apply_committed(event) or self._recent[session_id][event.seq]
                return Outcome(event, change)
        raise StoreError("The session is too busy right now; please try again.", "busy")

    def apply_committed(self, event: ev.Event) -> Change | None:
        """Fold an event that is already in the shared log (from this or another process).

        Returns the published change, or None when the event was already applied. A gap
        (an event ahead of the state) is left to `catch_up`, which reads the log.
        """
        state = self.service.states.get(event.session_id)
        if state is None or event.seq != state.seq + 1:
            return None
        change = self.service.fold(state, event)
        recent = self._recent.setdefault(event.session_id, {})
        recent[event.seq] = change
        recent.pop(event.seq - RECENT_OWN, None)
        self.service.committed(event, change)
        return change

    async def rewrite(self, session_id: str, decide: Decide, rewrite: Rewrite) -> Outcome:
        """Under the session's lock, rewrite the log and append the event if the log still
        ends where this process's state does; else catch up and try again."""
        service = self.service
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            for _ in range(MAX_CONFLICTS):
                state = service.state(session_id)
                event = service.next_event(state, decide(state), None)
                try:
                    await _replace(service, state, event, rewrite)
                except SeqConflict:
                    await self._catch_up_or_fail(session_id)
                    continue
                except (StoreUnavailable, OSError) as exc:
                    log.error("could not rewrite the log of %s: %s", session_id, exc)
                    raise _unsaved() from exc
                if event.type in REBUILDS:
                    await self._fold_rewritten(session_id, event.seq)
                    return Outcome(event, Change(session_id, event.seq, None, None, reset=True))
                change = self.apply_committed(event) or self._recent[session_id][event.seq]
                return Outcome(event, change)
        raise StoreError("The session is too busy right now; please try again.", "busy")

    def on_remote_event(self, event: ev.Event) -> None:
        """Apply an event from the tail, or catch up from the log on a gap."""
        state = self.service.states.get(event.session_id)
        if state is None or event.seq <= state.seq:
            return
        if event.type in REBUILDS:
            self._spawn(self._rebuild(event.session_id, event.seq))
        elif event.seq == state.seq + 1:
            self.apply_committed(event)
        else:
            self._spawn(self.catch_up(event.session_id))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # held until done, so it is not collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _rebuild(self, session_id: str, seq: int) -> None:
        """Another process rewrote the log (seen on the tail): fold it again."""
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            if self._rebuilt.get(session_id, 0) >= seq:
                return  # this process rewrote it, or rebuilt past it already
            try:
                await self._fold_rewritten(session_id, seq)
            except (StoreUnavailable, OSError) as exc:
                log.error("could not rebuild %s after its log was rewritten: %s", session_id, exc)

    async def _fold_rewritten(self, session_id: str, seq: int) -> None:
        # Memory is folded again from the rewritten log up to its event; clients get a
        # reset at that seq (nothing kept for replay before it), then the events after it.
        service = self.service
        service.states[session_id] = await service.rebuild(session_id, upto=seq)
        self._rebuilt[session_id] = seq
        marker = ev.Event(session_id, seq, ev.SESSION_SCRUBBED, {}, service.clock())
        service.committed(marker, Change(session_id, seq, None, None, reset=True))
        await self.catch_up(session_id)

    async def catch_up(self, session_id: str) -> None:
        """Apply every event of the shared log that this process has not applied yet."""
        state = self.service.state(session_id)
        for event in await self.service.store.load_events(session_id, state.seq):
            if event.type in REBUILDS and self._rebuilt.get(session_id, 0) < event.seq:
                await self._fold_rewritten(session_id, event.seq)
                return
            self.apply_committed(event)

    async def _catch_up_or_fail(self, session_id: str) -> None:
        try:
            await self.catch_up(session_id)
        except (StoreUnavailable, OSError) as exc:
            raise _unsaved() from exc

    async def _stored_already(self, event: ev.Event) -> bool:
        try:
            found = await self.service.store.load_events(event.session_id, event.seq - 1)
        except (StoreUnavailable, OSError) as exc:
            raise _unsaved() from exc
        return bool(found) and found[0] == event
