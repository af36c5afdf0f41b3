"""One writer per session when several processes share the store (Redis).

The process holding a session's writer lease decides and appends that session's client
commands; the other processes forward a command (who sent it, the message, its fence) to
the writer through the store and relay the writer's answer, exactly what a local commit
would have answered, within the same ANSWER_SECONDS. So the session's appends come from
one process, one after another, and no longer conflict and retry between processes (each
extra process made every vote slower). The append keeps its conflict check, so a lease
handed over while its old holder still runs a command never stores two events at one seq;
a request key still makes a retried change at most once, on whichever writer it lands.

A forwarded command's fence is fixed by the forwarding process in the store's clock and
given to the append unchanged: a command the writer reaches after its fence is answered
`store_unavailable` without running, and the store refuses an append after it, so
`store_unavailable` keeps meaning "not stored" (docs/protocol.md 5.1).

Changes made outside a client's WebSocket (organiser pages, stream state, attendance
peaks, retention) stay with the process that makes them: rare, and the append's conflict
check orders them with the writer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from companion.backends.base import StoreUnavailable, TooLate, WriterBoard
from companion.domain.errors import DomainError
from companion.services.commands import (
    COMMANDS,
    MODERATOR,
    Ack,
    Caller,
    Command,
    Decide,
    Message,
)
from companion.services.commits import (
    ANSWER_SECONDS,
    FENCE_SECONDS,
    FORWARDED_FENCE,
    Fence,
    StoreError,
)
from companion.services.request_keys import request_key
from companion.services.sessions import SessionService

log = logging.getLogger(__name__)

LEASE_SECONDS = 2.0  # a dead writer's sessions are taken over within about this long
RENEW_SECONDS = 0.5
# Who holds a lease is taken as known for this long after asking (this process's own
# lease: short of its expiry, so the holder seldom runs a command after losing it; that
# is safe anyway, by the append's seq check, but costs a conflict).
OWN_TRUSTED = LEASE_SECONDS - 0.5
OTHER_TRUSTED = 1.0
WANTED_SECONDS = 30.0  # a session's lease is kept this long after its last command
# A forwarded command unanswered this long has its writer checked: a killed writer's
# lease is taken over then, not when it lapses.
SUSPECT_SECONDS = 0.3
FORWARD_BATCH = 200  # commands forwarded in one Redis call, at most


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The member a forwarded command came from, as the forwarding process admitted it
    (its role, and for a moderator the key's revocation, were checked there)."""

    session_id: str
    participant: str | None
    where: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A command waiting for its batch to be forwarded (`fence`: local monotonic)."""

    command: dict[str, Any]
    fence: float
    sent: asyncio.Future[None]


def _unsaved() -> StoreError:
    return StoreError("The change could not be saved; please try again.")


class SessionWriters:
    """Runs each client command on its session's writer: here, or forwarded to it."""

    def __init__(self, service: SessionService, board: WriterBoard) -> None:
        self.service = service
        self.board = board
        self.process = board.process
        # session id -> (holder, local monotonic instant the lease was last asked)
        self.holders: dict[str, tuple[str, float]] = {}
        self.reading: set[str] = set()  # the sessions whose commands this process runs
        self.wanted: dict[str, float] = {}  # session id -> last command, local monotonic
        self.forwarded = 0  # commands sent to another process's writer
        self.batches = 0  # the Redis calls that sent them
        self.executed = 0  # commands run here for another process
        self.listening = False  # whether the writers' answers reach this process
        self._asking: dict[str, asyncio.Future[str]] = {}
        self._checked: dict[str, float] = {}  # writer process -> last liveness check
        self._answers: dict[str, list[dict[str, Any]]] = {}  # to send, by process
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._outbox: dict[str, list[_Outgoing]] = {}  # session id -> next batch to forward
        self._sending: set[str] = set()  # sessions whose batches are being forwarded
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._held = asyncio.Event()
        self._stopping = False
        # Awaited before a reading command is answered here (`Tail.caught_up`): it then
        # shows every change acked before it, though the writer acked it elsewhere.
        self.caught_up: Callable[[str], Awaitable[None]] | None = None

    def start(self) -> None:
        """Keep leases, read the commands forwarded here, take the answers to ours."""
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._keep_leases()),
            loop.create_task(self._run_forwarded()),
            loop.create_task(self._take_replies()),
        ]

    async def stop(self) -> None:
        """Stop, and give up the leases held, so other processes write at once."""
        # The flag too: redis-py can swallow the cancellation of a read that was timing
        # out and retry it, and a loop would then go on (companion.backends.redis.RedisTail).
        self._stopping = True
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        held = [sid for sid, (holder, _) in self.holders.items() if holder == self.process]
        with contextlib.suppress(StoreUnavailable, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self.board.release(held)

    # -- a client's command ----------------------------------------------------------
    async def run(self, command: Command, member: Caller, message: Message) -> Ack:
        """The command's ack fields, from the session's writer (DomainError as a local
        commit would raise it; `store_unavailable` when no answer came in time)."""
        assert command.decide is not None
        if command.reads:
            if self.caught_up is not None:
                await self.caught_up(member.session_id)
            return await command.decide(self.service, member, message)
        started = time.monotonic()
        session_id = member.session_id
        self.service.state(session_id)  # an unknown session is refused here, not forwarded
        self.wanted[session_id] = started
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                holder = await self._holder(session_id)
        except (StoreUnavailable, OSError, TimeoutError) as exc:
            raise _unsaved() from exc
        if holder == self.process or not self.listening:
            # Without this process's answer channel (Redis just came back) a forwarded
            # command could be stored and its answer lost: commit here instead, which the
            # append's conflict check orders with the writer's appends.
            return await self._decided(command.decide, member, message)
        try:
            return await self._forward(holder, member, message, started)
        except StoreError:
            # No answer: the writer may have stored it and died before answering. A keyed
            # change this process's tail has seen stored is answered as its retry would be.
            if self._stored(command, member, message):
                return await command.decide(self.service, member, message)
            raise

    def _stored(self, command: Command, member: Caller, message: Message) -> bool:
        sender = "moderator" if command.senders == MODERATOR else member.participant or ""
        try:
            key = request_key(sender, command.type, message.get("key"))
        except DomainError:
            return False
        return self.service.keys.find(member.session_id, key) is not None

    async def _holder(self, session_id: str) -> str:
        known = self.holders.get(session_id)
        if known is not None:
            holder, asked = known
            trusted = OWN_TRUSTED if holder == self.process else OTHER_TRUSTED
            if time.monotonic() - asked < trusted:
                return holder
        asking = self._asking.get(session_id)
        if asking is None:  # one question for the commands that arrive meanwhile
            asking = self._asking[session_id] = asyncio.get_running_loop().create_future()
            try:
                await self._ask([session_id])
                asking.set_result(self.holders[session_id][0])
            except BaseException as exc:
                asking.set_exception(StoreUnavailable(str(exc)))
                asking.exception()  # retrieved, whoever else waits or not
                raise
            finally:
                del self._asking[session_id]
        return await asyncio.shield(asking)

    async def _forward(self, holder: str, member: Caller, message: Message, started: float) -> Ack:
        request = next(self._ids)
        waiting = self._waiting[request] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout_at(_loop_time(started + ANSWER_SECONDS)):
                fence = await self.board.fence(started + FENCE_SECONDS)
                command = {
                    "p": self.process,
                    "i": request,
                    "u": member.participant,
                    "w": member.where,
                    "n": member.name,
                    "m": message,
                    "f": fence,
                }
                await self._send(member.session_id, command, started + FENCE_SECONDS)
                await asyncio.wait({waiting}, timeout=SUSPECT_SECONDS)
                if not waiting.done():
                    await self._check_writer(member.session_id, holder)
                answer = await waiting
        except (StoreUnavailable, OSError, TimeoutError) as exc:
            log.debug("no answer from the writer %s of %s: %s", holder, member.session_id, exc)
            raise _unsaved() from None
        finally:
            del self._waiting[request]
        if "error" in answer:
            raise DomainError(answer["message"], answer["error"])
        ack: Ack = answer["ack"]
        return ack

    async def _send(self, session_id: str, command: dict[str, Any], fence: float) -> None:
        """Add a command to the session's stream. The commands forwarded to a session while
        its previous batch is on its way go in the next one: one Redis call for all, and
        one read, append and answer message for them on the writer."""
        sent = asyncio.get_running_loop().create_future()
        queue = self._outbox.setdefault(session_id, [])
        queue.append(_Outgoing(command, fence, sent))
        if len(queue) == 1 and session_id not in self._sending:
            self._sending.add(session_id)
            self._spawn(self._send_batches(session_id))
        await sent

    async def _send_batches(self, session_id: str) -> None:
        try:
            while queue := self._outbox.pop(session_id, None):
                if len(queue) > FORWARD_BATCH:
                    self._outbox[session_id], queue = queue[FORWARD_BATCH:], queue[:FORWARD_BATCH]
                now = time.monotonic()
                batch = []
                for outgoing in queue:
                    if outgoing.sent.done():
                        continue  # its caller gave up: not sent
                    if now >= outgoing.fence:
                        outgoing.sent.set_exception(TooLate("Past its fence before it was sent."))
                    else:
                        batch.append(outgoing)
                if not batch:
                    continue
                try:
                    await self.board.forward(session_id, [o.command for o in batch])
                except BaseException as exc:  # each caller answers store_unavailable
                    for outgoing in batch:
                        if not outgoing.sent.done():
                            outgoing.sent.set_exception(StoreUnavailable(str(exc)))
                    if not isinstance(exc, Exception):
                        raise
                    if not isinstance(exc, (StoreUnavailable, OSError)):
                        log.exception("forwarding to the writer of %s", session_id)
                    continue
                self.forwarded += len(batch)
                self.batches += 1
                for outgoing in batch:
                    if not outgoing.sent.done():
                        outgoing.sent.set_result(None)
        finally:
            self._sending.discard(session_id)
            for outgoing in self._outbox.pop(session_id, []):  # cancelled meanwhile
                if not outgoing.sent.done():
                    outgoing.sent.set_exception(StoreUnavailable("not forwarded"))

    async def _check_writer(self, session_id: str, holder: str) -> None:
        """No answer yet: if the writer's process is gone (killed), take its lease now,
        rather than when it lapses; this process then runs the commands it never read
        (this one included)."""
        now = time.monotonic()
        if now - self._checked.get(holder, 0.0) < SUSPECT_SECONDS:
            return  # asked just now, for another command
        self._checked[holder] = now
        try:
            if await self.board.alive(holder):
                return
            log.warning("the writer %s of %s is gone: taking over", holder, session_id)
            await self._ask([session_id], dead=holder)
        except (StoreUnavailable, OSError) as exc:
            log.warning("could not check the writer of %s: %s", session_id, exc)

    async def _take_replies(self) -> None:
        async for answers in self.board.replies():
            if self._stopping:
                break
            if isinstance(answers, bool):
                self.listening = answers
                continue
            for answer in answers:
                waiting = self._waiting.get(answer.get("i", 0))
                if waiting is not None and not waiting.done():
                    waiting.set_result(answer)

    # -- the writer ------------------------------------------------------------------
    async def _run_forwarded(self) -> None:
        reader = self.board.reader()
        delay = 0.2
        try:
            while True:
                try:
                    await reader.connect()  # named: tells the others this process lives
                    break
                except (StoreUnavailable, OSError) as exc:
                    log.warning("forwarded commands: %s; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
            while not self._stopping:
                if not self.reading:
                    self._held.clear()
                    await self._held.wait()
                    continue
                try:
                    commands = await reader.read(sorted(self.reading))
                    delay = 0.2
                except (StoreUnavailable, OSError) as exc:
                    log.warning("forwarded commands: %s; retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                by_session: dict[str, list[dict[str, Any]]] = {}
                for session_id, command in commands:
                    by_session.setdefault(session_id, []).append(command)
                for session_id, batch in by_session.items():
                    self.wanted[session_id] = time.monotonic()
                    self._spawn(self._execute(session_id, batch))
        finally:
            await reader.close()

    async def _execute(self, session_id: str, batch: list[dict[str, Any]]) -> None:
        """Run the commands read together for a session (decided one after another and
        appended together) and answer them together: one message per forwarding process."""
        # In the order forwarded: each task reaches the session's commit queue before the
        # next starts, and the queue is first come, first served.
        answers = await asyncio.gather(*(self._answer(session_id, c) for c in batch))
        for command, answer in zip(batch, answers, strict=True):
            if answer is None:
                continue
            # The answers ready in this turn of the loop go out together.
            if not self._answers:
                asyncio.get_running_loop().call_soon(lambda: self._spawn(self._send_answers()))
            self._answers.setdefault(str(command["p"]), []).append(answer)

    async def _answer(self, session_id: str, command: dict[str, Any]) -> dict[str, Any] | None:
        request = command.get("i")
        try:
            return {"i": request, "ack": await self._decide(session_id, command)}
        except DomainError as exc:
            return {"i": request, "error": exc.code, "message": exc.message}
        except Exception:
            log.exception("a forwarded command of %s failed", session_id)
            return None  # the forwarding process answers store_unavailable when it gives up

    async def _send_answers(self) -> None:
        answers, self._answers = self._answers, {}
        try:
            await self.board.reply(answers)
        except (StoreUnavailable, OSError) as exc:
            lost = sum(len(batch) for batch in answers.values())
            log.warning("could not answer %d forwarded commands: %s", lost, exc)

    async def _decide(self, session_id: str, command: dict[str, Any]) -> Ack:
        message: Message = command["m"]
        fence = Fence(self.board.local_fence(int(command["f"])), int(command["f"]))
        if time.monotonic() >= fence.local:
            raise _unsaved()  # past its fence: never run (the forwarder may have answered)
        # Delivered to this process alone (the stream's consumer group), so it is run once
        # even if the lease moved meanwhile: the append's seq check orders it with the
        # new writer's.
        rule = COMMANDS.get(message.get("type", ""))
        if rule is None or rule.decide is None or rule.reads:
            raise DomainError("That cannot be forwarded.", "bad_message")
        who = Forwarded(session_id, command.get("u"), command.get("w"), command.get("n"))
        FORWARDED_FENCE.set(fence)  # this task's own context
        self.executed += 1
        return await self._decided(rule.decide, who, message)

    async def _decided(self, decide: Decide, who: Caller, message: Message) -> Ack:
        """The command decided here, where a refusal stands only against the log as Redis has it: this
        process may not have applied another's latest changes yet (a question just asked
        through the previous writer; its tail reads at a pace), and a change is checked
        against the log when appended, a refusal never. So on a refusal it catches up and
        decides once more."""
        try:
            return await decide(self.service, who, message)
        except StoreError:
            raise
        except DomainError:
            if self.caught_up is None:
                raise
            await self.caught_up(who.session_id)
            return await decide(self.service, who, message)

    # -- leases ----------------------------------------------------------------------
    async def _keep_leases(self) -> None:
        failing = False
        while not self._stopping:
            await asyncio.sleep(RENEW_SECONDS)
            now = time.monotonic()
            for session_id in [s for s, t in self.wanted.items() if now - t > WANTED_SECONDS]:
                del self.wanted[session_id]
            idle = [
                sid
                for sid, (holder, _) in self.holders.items()
                if holder == self.process and sid not in self.wanted
            ]
            try:
                await self.board.release(idle)
                for session_id in idle:
                    self._lose(session_id)
                await self._ask([s for s in self.wanted if s in self.service.states])
                if failing:
                    log.warning("session writer leases kept again")
                failing = False
            except (StoreUnavailable, OSError) as exc:
                if not failing:
                    log.warning("session writer leases not renewed: %s", exc)
                failing = True
            except Exception:
                log.exception("session writer leases")

    async def _ask(self, session_ids: list[str], dead: str = "") -> None:
        if not session_ids:
            return
        asked = time.monotonic()
        leases = await self.board.leases(session_ids, LEASE_SECONDS, dead)
        for session_id, holder in leases.items():
            self.holders[session_id] = (holder, asked)
            if holder != self.process:
                self.reading.discard(session_id)
            elif session_id not in self.reading:
                log.info("writing session %s", session_id)
                self.reading.add(session_id)
                self._held.set()

    def _lose(self, session_id: str) -> None:
        self.holders.pop(session_id, None)
        self.reading.discard(session_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # held until done, so it is not collected mid-way
        task.add_done_callback(self._tasks.discard)


def _loop_time(monotonic: float) -> float:
    """A `time.monotonic()` instant on the event loop's clock (asyncio.timeout_at)."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic - time.monotonic())
