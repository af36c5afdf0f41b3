"""Fan-out of committed changes to the connections of each session.

One payload is encoded per audience (public, moderators) and written to every socket
with `websockets.broadcast`, which does not yield per client. Vote counts and poll
tallies are coalesced and flushed a few times a second as one `counts` message (the
latest value per question and per poll wins). Changes are delivered in
`seq` order, kept in a ring for resuming clients, and a socket whose write buffer grows
past a limit is closed with a reason instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import ServerConnection

from companion.realtime.protocol import encode
from companion.services.projection import Change

log = logging.getLogger(__name__)

SLOW_CLOSE_CODE = 4008
REVOKE_GRACE = 0.5  # seconds a revoked console keeps its socket, refused, for its last ack


@dataclass(eq=False, slots=True)
class Member:
    """One joined connection."""

    ws: ServerConnection
    session_id: str
    role: str  # participant | moderator | screen
    participant: str | None = None
    where: str | None = None
    name: str | None = None

    @property
    def is_moderator(self) -> bool:
        """Whether this connection may moderate."""
        return self.role == "moderator"


@dataclass(slots=True)
class _Entry:
    seq: int
    public: str | None
    moderator: str | None
    vote: tuple[int, int] | None
    tally: tuple[int, dict[str, Any], dict[str, Any]] | None = None


@dataclass(slots=True)
class _Pending:
    """Coalesced changes not sent yet: the latest vote count per question and the latest
    results per poll, and the seq of the last change they include."""

    votes: dict[int, int] = field(default_factory=dict)
    tallies: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    seq: int = 0

    def add(self, item: Change | _Entry) -> None:
        """Take in one coalesced change (live) or ring entry (replay)."""
        if item.vote is not None:
            self.votes[item.vote[0]] = item.vote[1]
        if item.tally is not None:
            poll, public, moderator = item.tally
            self.tallies[poll] = (public, moderator)
        self.seq = item.seq

    def __bool__(self) -> bool:
        return bool(self.votes or self.tallies)

    def payloads(self) -> tuple[str, str]:
        """The `counts` message for participants and screens, and the one for moderators."""
        counts = {str(q): n for q, n in self.votes.items()}
        if not self.tallies:
            payload = encode({"type": "counts", "counts": counts}, seq=self.seq)
            return payload, payload
        # Results differ by audience only while a poll's results are hidden.
        public = {str(p): pub for p, (pub, _) in self.tallies.items()}
        moderator = {str(p): mod for p, (_, mod) in self.tallies.items()}
        return (
            encode({"type": "counts", "counts": counts, "tallies": public}, seq=self.seq),
            encode({"type": "counts", "counts": counts, "tallies": moderator}, seq=self.seq),
        )


@dataclass(slots=True)
class Room:
    """The connections and delivery state of one session."""

    session_id: str
    sent_seq: int
    public: set[ServerConnection] = field(default_factory=set)
    moderators: set[ServerConnection] = field(default_factory=set)
    people: dict[str, list[Any]] = field(default_factory=dict)  # participant -> [where, n]
    screens: int = 0
    viewers: int = 0  # open live-stream (WHEP) viewers, set by companion.media
    ring: deque[_Entry] = field(default_factory=deque)
    accepted_seq: int = 0
    waiting: dict[int, Change] = field(default_factory=dict)
    pending: _Pending = field(default_factory=_Pending)
    presence_dirty: bool = False
    public_presence_due: bool = False
    public_presence_at: float = 0.0
    # Attendance: the highest numbers seen by this process, and the last ones reported.
    peak: tuple[int, int] = (0, 0)
    peak_reported: tuple[int, int] = (0, 0)
    peak_reported_at: float = float("-inf")

    def presence(self) -> dict[str, int]:
        """Distinct participants in the room and remote, moderator and screen connections."""
        room = sum(1 for where, _ in self.people.values() if where == "room")
        return {
            "room": room,
            "remote": len(self.people) - room,
            "moderators": len(self.moderators),
            "screens": self.screens,
            "viewers": self.viewers,
        }


class Hub:
    """Delivers changes to every joined connection, per session."""

    def __init__(
        self,
        coalesce_seconds: float = 0.1,
        send_buffer_limit: int = 1 << 20,
        replay_events: int = 5000,
    ) -> None:
        self.rooms: dict[str, Room] = {}
        self.replay_events = replay_events
        self.coalesce_seconds = coalesce_seconds
        self.send_buffer_limit = send_buffer_limit
        self._task: asyncio.Task[None] | None = None
        self.messages_sent = 0
        self.store_available = True
        self.presence_seconds = 1.0
        self.revoked: set[ServerConnection] = set()  # moderator sockets whose key was rotated
        # Called with (session id, peak in room, peak remote) when this process sees a new
        # attendance peak; the realtime server records it as an event.
        self.on_peak: Callable[[str, int, int], None] | None = None
        self.peak_interval = 2.0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the periodic flush of coalesced counts and presence."""
        self._task = asyncio.get_running_loop().create_task(self._flush_forever())

    async def stop(self) -> None:
        """Stop flushing."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def ensure_room(self, session_id: str, seq: int) -> Room:
        """The room of a session, created at `seq` (everything up to it already sent)."""
        room = self.rooms.get(session_id)
        if room is None:
            room = Room(session_id, sent_seq=seq, accepted_seq=seq)
            room.ring = deque(maxlen=self.replay_events)
            self.rooms[session_id] = room
        return room

    def set_viewers(self, session_id: str, viewers: int) -> None:
        """The number of live-stream viewers; sent with the next presence message."""
        room = self.rooms.get(session_id)
        if room is not None and room.viewers != viewers:
            room.viewers = viewers
            room.presence_dirty = True

    # -- changes in ------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Take a committed change (from the bus); delivers it in seq order."""
        room = self.rooms.get(change.session_id)
        if room is None:
            room = self.ensure_room(change.session_id, change.seq - 1)
        if change.seq <= room.accepted_seq:
            return  # already delivered
        room.waiting[change.seq] = change
        while (nxt := room.waiting.pop(room.accepted_seq + 1, None)) is not None:
            self._accept(room, nxt)

    def _accept(self, room: Room, change: Change) -> None:
        room.accepted_seq = change.seq
        if change.vote is not None or change.tally is not None:
            room.ring.append(_Entry(change.seq, None, None, change.vote, change.tally))
            room.pending.add(change)
            return
        self._flush_counts(room)  # earlier coalesced changes go first: seq order holds
        seq = change.seq
        public = encode(change.public, seq=seq) if change.public is not None else None
        moderator = encode(change.moderator, seq=seq) if change.moderator is not None else None
        room.ring.append(_Entry(seq, public, moderator, None))
        if public is not None:
            self._send(room.public, public)
        if moderator is not None:
            self._send(room.moderators, moderator)
        room.sent_seq = seq
        if change.revoke_moderators:
            # Old moderator links stop working at once: every console must rejoin with the
            # new key. They are refused from now on, and closed a moment later so that the
            # console that rotated the key still gets its ack (with the new key) first:
            # with a shared store this process may apply the event before the append returns.
            loop = asyncio.get_running_loop()
            for ws in list(room.moderators):
                room.moderators.discard(ws)
                self.revoked.add(ws)
                loop.call_later(REVOKE_GRACE, self._close_revoked, ws)

    # -- flushing --------------------------------------------------------------------
    async def _flush_forever(self) -> None:
        # A fixed rate while flushes are cheap; when one flush takes longer than half the
        # interval, the next waits as long as it took, so flushing never takes more than
        # half of the loop and votes and joins still get their turn under overload.
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self.coalesce_seconds
            await asyncio.sleep(max(0.0, due - loop.time()))
            started = loop.time()
            try:
                self.flush()
            except Exception:  # never let one bad flush stop all future ones
                log.exception("flush failed")
            finished = loop.time()
            due = max(due, finished + (finished - started) - self.coalesce_seconds)

    def flush(self) -> None:
        """Send coalesced counts and changed presence of every room."""
        for room in self.rooms.values():
            self._flush_counts(room)
            if room.presence_dirty:
                room.presence_dirty = False
                room.public_presence_due = True
                presence = room.presence()
                room.peak = (
                    max(room.peak[0], presence["room"]),
                    max(room.peak[1], presence["remote"]),
                )
                payload = encode({"type": "presence", **presence}, seq=room.sent_seq)
                self._send(room.moderators, payload)
            # Everyone else hears of joins and leaves at a slower pace: while a crowd joins,
            # a presence message to all per tick would cost more than the joins.
            now = time.monotonic()
            if room.public_presence_due and now - room.public_presence_at >= self.presence_seconds:
                room.public_presence_due = False
                room.public_presence_at = now
                payload = encode({"type": "presence", **room.presence()}, seq=room.sent_seq)
                self._send(room.public, payload)
            self._report_peak(room)

    def _report_peak(self, room: Room) -> None:
        # A new peak is reported at once, then at most every `peak_interval` seconds, so a
        # crowd joining costs a handful of events and the final peak still arrives.
        if self.on_peak is None or room.peak == room.peak_reported:
            return
        now = time.monotonic()
        if now - room.peak_reported_at < self.peak_interval:
            return
        room.peak_reported, room.peak_reported_at = room.peak, now
        self.on_peak(room.session_id, *room.peak)

    def _flush_counts(self, room: Room) -> None:
        if not room.pending:
            return
        public, moderator = room.pending.payloads()
        room.sent_seq = room.pending.seq
        room.pending = _Pending()
        self._send(room.public, public)
        self._send(room.moderators, moderator)

    def _send(self, sockets: set[ServerConnection], payload: str) -> None:
        if not sockets:
            return
        limit = self.send_buffer_limit
        slow = [ws for ws in sockets if _buffered(ws) > limit]
        for ws in slow:
            sockets.discard(ws)
            asyncio.get_running_loop().create_task(
                ws.close(SLOW_CLOSE_CODE, "too slow: reconnect to resume")
            )
        broadcast(sockets, payload)
        self.messages_sent += len(sockets)

    # -- members ---------------------------------------------------------------------
    def join(self, member: Member, since: int | None, snapshot: Any) -> int:
        """Register a connection and bring it up to date; returns the number replayed.

        Runs without awaiting, so no change can slip between catching up and joining.
        `snapshot` is called to build a full snapshot when replay is not possible;
        returns -1 in that case.
        """
        room = self.rooms[member.session_id]
        replayed = self._catch_up(room, member, since, snapshot)
        if member.is_moderator:
            room.moderators.add(member.ws)
        else:
            room.public.add(member.ws)
        if member.role == "screen":
            room.screens += 1
        elif member.participant is not None:
            entry = room.people.setdefault(member.participant, [member.where, 0])
            entry[0] = member.where
            entry[1] += 1
        room.presence_dirty = True
        return replayed

    def leave(self, member: Member) -> None:
        """Unregister a connection."""
        room = self.rooms.get(member.session_id)
        if room is None:
            return
        (room.moderators if member.is_moderator else room.public).discard(member.ws)
        if member.role == "screen":
            room.screens = max(0, room.screens - 1)
        elif member.participant is not None:
            entry = room.people.get(member.participant)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del room.people[member.participant]
        room.presence_dirty = True

    def _catch_up(self, room: Room, member: Member, since: int | None, snapshot: Any) -> int:
        ws = member.ws
        if since is not None and since == room.sent_seq:
            return 0
        first = room.ring[0].seq if room.ring else room.sent_seq + 1
        if since is None or since > room.sent_seq or since + 1 < first:
            broadcast([ws], encode(snapshot(), seq=room.sent_seq))
            return -1
        out: list[str] = []
        pending = _Pending()  # coalesced exactly like the live flush
        for entry in room.ring:
            if entry.seq <= since or entry.seq > room.sent_seq:
                continue
            if entry.vote is not None or entry.tally is not None:
                pending.add(entry)
                continue
            if pending:
                out.append(pending.payloads()[member.is_moderator])
                pending = _Pending()
            payload = entry.moderator if member.is_moderator else entry.public
            if payload is not None:
                out.append(payload)
        if pending:
            out.append(pending.payloads()[member.is_moderator])
        for payload in out:
            broadcast([ws], payload)
        return len(out)

    def _close_revoked(self, ws: ServerConnection) -> None:
        self.revoked.discard(ws)
        asyncio.get_running_loop().create_task(ws.close(4003, "moderator key changed"))

    def store_state(self, available: bool) -> None:
        """Tell every client whether the shared store answers (pages show "reconnecting")."""
        self.store_available = available
        payload = encode({"type": "status", "store": "ok" if available else "unavailable"})
        for room in self.rooms.values():
            self._send(room.public, payload)
            self._send(room.moderators, payload)

    def connections(self) -> Iterable[ServerConnection]:
        """Every joined connection, for shutdown."""
        for room in self.rooms.values():
            yield from room.public
            yield from room.moderators


def _buffered(ws: ServerConnection) -> int:
    transport = ws.transport
    return transport.get_write_buffer_size() if transport is not None else 0
