"""The two ways a command is committed, chosen once by whether the store is shared.

- `ApplyThenAppend` (embedded store, written by this process alone): apply the event at
  once, so the next command decides against it, then append; if the append fails the
  session is rebuilt from the store, so memory never keeps what the store does not have.
- `AppendThenApply` (shared store, appended to by other processes too): the commands of
  a session that arrive while its append is under way are decided one after another
  (each folded at once, so the next decides against it) and appended together, only if
  the log still ends where the state did; publish and answer only after the append. If
  the append fails, or conflicts with another process's, the session is folded again
  from the log before anything is answered (and decided again after a conflict), so
  memory never keeps what the log does not have, and no change is published before it
  is stored. (A snapshot built while an append is under way, for a client joining then,
  reflects its batch; if that append fails the snapshot showed changes that were not
  stored, as with the embedded store.)
"""

from __future__ import annotations

import asyncio
import contextlib
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


@dataclass(slots=True)
class _Waiting:
    """A command of a shared-store session waiting for its batch."""

    decide: Decide
    key: str | None
    fence: Fence
    answer: asyncio.Future[Outcome]

    def succeed(self, outcome: Outcome) -> None:
        if not self.answer.done():
            self.answer.set_result(outcome)

    def fail(self, exc: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


class CommitStrategy(Protocol):
    """Commits one decided event of one session, and follows what others commit."""

    async def commit(self, session_id: str, decide: Decide, key: str | None = None) -> Outcome:
        """Decide against the session's state, store the event, apply and publish it; or,
        when a change under `key` is already committed, that change's outcome."""

    def on_remote_event(self, event: ev.Event) -> None:
        """An event another process committed (seen on the shared log's tail)."""

    async def catch_up(self, session_id: str) -> None:
        """Apply what the shared log has that this process has not seen yet (for a check
        that must not act on memory a moment behind the log)."""

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

    async def catch_up(self, session_id: str) -> None:
        """Memory is the log here: nothing to catch up."""

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
        self._queues: dict[str, list[_Waiting]] = {}  # commands waiting for the next batch
        self._draining: set[str] = set()  # sessions whose batches are being committed
        # Sessions whose memory may hold decided events the log does not (a batch whose
        # append failed, or is under way), with the last seq memory and log share: folded
        # again from the log before the next batch.
        self._dirty: dict[str, int] = {}
        self._ignored: set[str] = set()  # tail events passed over while a session was dirty

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
        # Commands that arrive while the session's append is under way wait, and are then
        # decided one after another and appended together: one round trip for all.
        waiting = _Waiting(decide, key, fence, asyncio.get_running_loop().create_future())
        queue = self._queues.setdefault(session_id, [])
        queue.append(waiting)
        if len(queue) == 1 and session_id not in self._draining:
            self._draining.add(session_id)
            self._spawn(self._drain(session_id))
        return await waiting.answer

    async def _drain(self, session_id: str) -> None:
        try:
            while batch := self._queues.pop(session_id, None):
                async with self._locks.setdefault(session_id, asyncio.Lock()):
                    try:
                        await self._commit_batch(session_id, batch)
                    except BaseException as exc:  # never leave a caller waiting
                        for waiting in batch:
                            waiting.fail(exc if isinstance(exc, Exception) else _unsaved())
                        if not isinstance(exc, Exception):
                            raise
        finally:
            self._draining.discard(session_id)

    async def _commit_batch(self, session_id: str, batch: list[_Waiting]) -> None:
        """Decide each command against the state its predecessors in the batch leave, fold
        it at once (so the next one sees it), append all in one call; publish and answer
        only after the append. If the append fails, memory is rebuilt from the log. A batch
        of one has no successor to show its fold to: `_commit_one` folds it after."""
        service = self.service
        if len(batch) == 1:
            if session_id in self._dirty:
                await self._reset(session_id)  # StoreError while the store is away
            await self._commit_one(session_id, batch[0])
            return
        todo = batch
        for _ in range(MAX_CONFLICTS):
            if session_id in self._dirty:
                await self._reset(session_id)  # StoreError while the store is away
            decided: list[tuple[_Waiting, ev.Event, Change]] = []
            keys: set[str] = set()
            later: list[_Waiting] = []
            state = service.state(session_id)
            now = time.monotonic()
            for waiting in todo:
                if self._settled(session_id, waiting, now):
                    continue
                if waiting.key is not None and waiting.key in keys:
                    later.append(waiting)  # its twin in this batch answers it next round
                    continue
                try:
                    draft = waiting.decide(state)
                except Exception as exc:
                    waiting.fail(exc)
                    continue
                event = service.next_event(state, draft, waiting.key)
                self._dirty.setdefault(session_id, state.seq)  # ahead of the log till stored
                decided.append((waiting, event, service.fold(state, event)))
                if waiting.key is not None:
                    keys.add(waiting.key)
            if not decided:
                todo = later
                if not todo:
                    return
                continue
            events = [event for _, event, _ in decided]
            deadline = min(w.fence.local for w, _, _ in decided)
            fences = [w.fence.store for w, _, _ in decided if w.fence.store]
            try:
                await service.store.append(events, deadline, min(fences) if fences else None)
            except SeqConflict:
                # The client library retries after a lost reply, so the conflict may be
                # this very batch, stored by the first attempt.
                if not await self._stored_already(events):
                    await self._reset(session_id)
                    todo = [w for w, _, _ in decided] + later
                    continue
            except (StoreUnavailable, OSError) as exc:
                log.warning("append of %d events of %s failed: %s", len(events), session_id, exc)
                await self._reset_or_mark(session_id)  # before the answers: nothing kept
                for waiting, _, _ in decided:
                    waiting.fail(_unsaved())
                todo = later
                if not todo:
                    return
                continue
            del self._dirty[session_id]
            if session_id in self._ignored:  # another process appended meanwhile
                self._ignored.discard(session_id)
                self._spawn(self._locked(session_id, self.catch_up))
            recent = self._recent.setdefault(session_id, {})
            for waiting, event, change in decided:
                recent[event.seq] = change
                recent.pop(event.seq - RECENT_OWN, None)
                service.committed(event, change)
                waiting.succeed(Outcome(event, change))
            todo = later
            if not todo:
                return
        for waiting in todo:
            waiting.fail(StoreError("The session is too busy right now; please try again.", "busy"))

    def _settled(self, session_id: str, waiting: _Waiting, now: float) -> bool:
        """Whether the command needs no decision: its caller gave up, it is past its fence
        (answered: never stored), or a change was already committed under its key (an
        earlier attempt whose answer was lost: answered as it was)."""
        if waiting.answer.done():
            return True
        if now >= waiting.fence.local:
            waiting.fail(_unsaved())
            return True
        done = self.service.done_before(session_id, waiting.key)
        if done is not None:
            waiting.succeed(done)
            return True
        return False

    async def _commit_one(self, session_id: str, waiting: _Waiting) -> None:
        """A batch of one: decide, append, and fold only once it is stored. Memory is then
        never ahead of the log, so when another process appended first (a conflict) what
        it appended is read and applied, instead of the whole log being folded again to
        undo a fold made ahead of its append: under a stream of changes a process that
        appends now and then (an attendance peak) would otherwise refold thousands of
        events, its event loop held for as long, at every conflict."""
        service = self.service
        for _ in range(MAX_CONFLICTS):
            if self._settled(session_id, waiting, time.monotonic()):
                return
            state = service.state(session_id)
            try:
                event = service.next_event(state, waiting.decide(state), waiting.key)
            except Exception as exc:
                waiting.fail(exc)
                return
            try:
                await service.store.append(
                    [event], waiting.fence.local, waiting.fence.store or None
                )
            except SeqConflict:
                if not await self._stored_already([event]):
                    await self._catch_up_or_fail(session_id)
                    continue
            except (StoreUnavailable, OSError) as exc:
                # Nothing was folded, so nothing is undone; had Redis stored it after all
                # (protocol 5.1), the tail brings it like any other process's change.
                log.warning("append of 1 event of %s failed: %s", session_id, exc)
                waiting.fail(_unsaved())
                return
            # The tail may have brought this very event while its append was answered.
            change = self.apply_committed(event) or self._recent[session_id][event.seq]
            waiting.succeed(Outcome(event, change))
            return
        waiting.fail(StoreError("The session is too busy right now; please try again.", "busy"))

    async def _reset(self, session_id: str) -> None:
        """Fold the session again from the log up to the last seq memory and log shared
        (dropping the decided events the log does not have), then apply and publish what
        the log has after it."""
        shared = self._dirty.get(session_id)
        if shared is None:
            return
        try:
            service = self.service
            service.states[session_id] = await service.rebuild(session_id, upto=shared)
            del self._dirty[session_id]
            self._ignored.discard(session_id)
            await self.catch_up(session_id)
        except (StoreUnavailable, OSError) as exc:
            self._dirty.setdefault(session_id, shared)
            raise _unsaved() from exc

    async def _reset_or_mark(self, session_id: str) -> None:
        try:
            await self._reset(session_id)
        except StoreError:
            log.warning("%s is folded again when the store answers", session_id)
            self._spawn(self._heal(session_id))

    async def _heal(self, session_id: str) -> None:
        """Fold a session whose batch failed again once the store answers, even if no
        command comes meanwhile (the tail's events are passed over until then)."""
        while session_id in self._dirty:
            await asyncio.sleep(0.5)
            with contextlib.suppress(StoreError):
                await self._locked(session_id, self._reset)

    async def _locked(
        self, session_id: str, work: Callable[[str], Coroutine[Any, Any, None]]
    ) -> None:
        async with self._locks.setdefault(session_id, asyncio.Lock()):
            try:
                await work(session_id)
            except (StoreUnavailable, OSError) as exc:
                log.warning("could not follow the log of %s: %s", session_id, exc)

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
            if session_id in self._dirty:
                await self._reset(session_id)  # decided against the log, not a failed batch
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
        if event.session_id in self._dirty:
            # Memory holds a batch not yet stored: folded again from the log if its append
            # fails, else this event is read from the log after it.
            self._ignored.add(event.session_id)
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
        self._dirty.pop(session_id, None)
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

    async def _stored_already(self, events: list[ev.Event]) -> bool:
        try:
            found = await self.service.store.load_events(events[0].session_id, events[0].seq - 1)
        except (StoreUnavailable, OSError) as exc:
            raise _unsaved() from exc
        return found[: len(events)] == events
