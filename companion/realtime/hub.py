"""Fan-out of committed changes to the connections of each session.

One payload is encoded and framed per audience (public, moderators) and the same bytes
are written to every socket without yielding (`companion.realtime.framing`). Vote counts and poll
tallies are coalesced and flushed a few times a second as one `counts` message (the
latest value per question and per poll wins). Changes are delivered in
`seq` order, kept in a ring for resuming clients, and a socket whose write buffer grows
past a limit (its transport's high-water mark, so no socket is inspected per message) is
closed with a reason (and reset if it does not take the close) instead of slowing the
others or holding memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection

from companion.realtime.delivery import (
    LANES,
    RING_MIN,
    Audience,
    Delivery,
    Entry,
    Lane,
    replay,
    spread,
)
from companion.realtime.framing import OPEN, fan_out
from companion.realtime.heap import HeapTrimmer
from companion.realtime.presence import AttendancePeak, Presence
from companion.realtime.protocol import encode
from companion.realtime.revocation import Revocations
from companion.services.projection import Change

log = logging.getLogger(__name__)

SLOW_CLOSE_CODE = 4008
KEEPALIVE_CLOSE_CODE = 1011
PING_FRAME = b"\x89\x00"  # an unmasked ping frame without payload, the same for everyone
# A page pings after 3 s without a message (static/js/live.js), about 50 µs of the server's
# time per ping; an unasked `pong` to a room quiet for this long costs one write instead.
HEARTBEAT_SECONDS = 2.5
LANES_FROM = 1000  # connections in a session from which its lanes take turns
# A keepalive round pings everyone in this many slices spread over its interval, so the
# pongs of 10,000 clients come back as a trickle, not as a burst that delays a flush.
KEEPALIVE_SLICES = 20
HEARTBEAT = encode({"type": "pong"})
RESYNC_CLOSE_CODE = 1012  # "service restart": the client reconnects and resumes
# Requested kernel send buffer of a joined connection; Linux doubles it for bookkeeping.
KERNEL_SEND_BUFFER = 128 * 1024
CUT_GRACE = 2.0  # seconds a client over the send-buffer limit has to take its close frame


@dataclass(eq=False, slots=True)
class Member:
    """One joined connection."""

    ws: ServerConnection
    session_id: str
    role: str  # participant | moderator | screen
    participant: str | None = None
    where: str | None = None
    name: str | None = None
    member_id: str | None = None  # a network member who came through their personal link

    @property
    def is_moderator(self) -> bool:
        """Whether this connection may moderate."""
        return self.role == "moderator"


@dataclass(slots=True)
class Room:
    """The connections of one session, with its delivery state, presence and peak."""

    session_id: str
    delivery: Delivery
    public: Audience  # participants and screens, in LANES lanes
    moderators: Audience  # one lane: a few consoles, sent every change at once
    by_member: dict[str, set[ServerConnection]] = field(default_factory=dict)
    guests: set[ServerConnection] = field(default_factory=set)  # remote, not as a member
    presence: Presence = field(default_factory=Presence)
    peak: AttendancePeak = field(default_factory=AttendancePeak)
    turn: int = 0  # the public lane the next tick flushes, in a big room
    presence_round: int = 0  # participants' presence messages so far
    public_presence: dict[str, Any] = field(default_factory=dict)  # the latest of them
    moderator_presence: dict[str, Any] | None = None  # not sent to moderators yet

    def audience_of(self, member: Member) -> Audience:
        """The audience a member's connection belongs to."""
        return self.moderators if member.is_moderator else self.public

    def counts(self) -> dict[str, int]:
        """Distinct participants in the room and remote, moderator and screen connections."""
        return self.presence.counts(len(self.moderators))


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
        self.cut_grace = CUT_GRACE
        self._slow: list[ServerConnection] = []  # passed their high-water mark, to be cut
        self._holding = 0  # inside `together`: events wait for its end
        self._held: dict[str, Room] = {}  # rooms with events waiting for `together`'s end
        self._ticks = 0  # flush ticks so far: LANES of them make one coalescing interval
        self._closing: set[asyncio.Task[None]] = set()  # closes of cut clients, under way
        self.heap = HeapTrimmer()
        self._task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self.keepalive_seconds = 20.0
        self.messages_sent = 0
        self.store_available = True
        self.presence_seconds = 1.0
        # Moderator connections whose key was rotated, members' whose link was revoked.
        self.revoked = Revocations()
        # Called with (session id, peak in room, peak remote) when this process sees a new
        # attendance peak; the realtime server records it as an event.
        self.on_peak: Callable[[str, int, int], None] | None = None
        # Awaited before each whole-interval flush: on a shared store, has the tail read
        # the log's latest (`Tail.fresh`), so a vote stored just before the flush is in it
        # in every process.
        self.before_flush: Callable[[], Awaitable[None]] | None = None
        self.peak_interval = 2.0
        # Called with a session id for the fresh-identity counts moderators see with
        # presence (companion.realtime.admission).
        self.identities: Callable[[str], dict[str, int]] | None = None
        self.last_change = time.monotonic()  # when any session last changed
        # From this many connections in a session, its participants' lanes are flushed one
        # per tick, in turn, and its events wait for their lane's turn (at most
        # `coalesce_seconds`) to go out with the counts in one write per socket: at 10,000
        # sockets a write to each is about 70 ms of the core (companion.realtime.delivery).
        self.lanes_from = LANES_FROM
        # Several processes on one store: rooms count the session's presence, merged by
        # the store (companion.realtime.presence_sync), not this process's alone.
        self.shared_presence = False

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the periodic flush of coalesced counts and presence, and the keepalive."""
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._flush_forever())
        self._keepalive_task = loop.create_task(self._keepalive_forever())

    async def stop(self) -> None:
        """Stop flushing and pinging."""
        for task in (self._task, self._keepalive_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def ensure_room(self, session_id: str, seq: int) -> Room:
        """The room of a session, created at `seq` (everything up to it already sent)."""
        room = self.rooms.get(session_id)
        if room is None:
            ring: deque[Entry] = deque(maxlen=max(self.replay_events, RING_MIN))
            delivery = Delivery(seq, ring, last_public=seq, last_moderator=seq)
            room = self.rooms[session_id] = Room(
                session_id, delivery, Audience(LANES, seq), Audience(1, seq)
            )
            room.presence.shared = self.shared_presence
        return room

    def set_viewers(self, session_id: str, viewers: int) -> None:
        """The number of live-stream viewers; sent with the next presence message."""
        room = self.rooms.get(session_id)
        if room is not None:
            room.presence.set_viewers(viewers)

    def session_viewers(self, session_id: str) -> int | None:
        """The session's live-stream viewers over every process, when this process knows
        them (it shares presence of the session); None otherwise."""
        room = self.rooms.get(session_id)
        if room is None or room.presence.merged is None or not room.presence.published:
            return None
        return room.presence.merged.viewers

    # -- changes in ------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Take a committed change (from the bus); delivers it in seq order."""
        self.last_change = time.monotonic()
        room = self.rooms.get(change.session_id)
        if room is None:
            room = self.ensure_room(change.session_id, change.seq - 1)
        delivery = room.delivery
        if change.seq <= delivery.accepted_seq:
            return  # already delivered
        if change.reset and change.seq > delivery.accepted_seq + 1:
            # The log was rewritten while this process lagged behind it: the changes before
            # the rewrite will not come (memory was folded again from the new log), so
            # every client of the room reconnects and gets a snapshot.
            for seq in [s for s in delivery.waiting if s < change.seq]:
                del delivery.waiting[seq]
            delivery.accepted_seq = change.seq - 1
            for ws in [*room.public, *room.moderators]:
                self._resync(ws)
        delivery.waiting[change.seq] = change
        while (nxt := delivery.waiting.pop(delivery.accepted_seq + 1, None)) is not None:
            self._accept(room, nxt)

    def _accept(self, room: Room, change: Change) -> None:
        delivery = room.delivery
        if change.vote is not None or change.tally is not None:
            delivery.accepted_seq = change.seq
            delivery.ring.append(Entry(change.seq, None, None, change.vote, change.tally))
            return
        immediate = change.revoke_moderators or change.revoke_member is not None or change.reset
        if immediate:
            # Everything before goes out first, in order: after a reset the ring holds
            # nothing older, and revoked connections must still get what came before.
            self._flush_all(room)
        seq = change.seq
        public = encode(change.public, seq=seq) if change.public is not None else None
        moderator = encode(change.moderator, seq=seq) if change.moderator is not None else None
        if change.reset:
            # The log was rewritten without personal data: nothing sent before is replayed
            # (a client resuming from before this change gets a snapshot instead).
            delivery.ring.clear()
        delivery.accepted_seq = seq
        delivery.ring.append(Entry(seq, public, moderator, None))
        if public is not None:
            delivery.last_public = seq
        if moderator is not None:
            delivery.last_moderator = seq
        if self._holding and not immediate:
            self._held[room.session_id] = room
        else:
            self._flush_out(room, moderator is not None, immediate or not self._is_big(room))
        if change.revoke_moderators:
            # Old moderator links stop working at once: every console must rejoin with the
            # new key (see companion.realtime.revocation).
            revoked = list(room.moderators)
            room.moderators.clear()
            self.revoked.revoke(revoked)
        if change.revoke_member is not None:
            # The member's link no longer stands: their pages here are refused and closed
            # (and must rejoin, which the store refuses).
            cut = room.by_member.pop(change.revoke_member, set())
            room.public.difference_update(cut)
            self.revoked.revoke(cut, "member link revoked")

    def members_only(self, session_id: str) -> None:
        """The session became members-only: who follows it from afar without a member's
        link is refused and closed, as a revoked member is."""
        room = self.rooms.get(session_id)
        if room is None:
            return
        cut = set(room.guests)
        room.guests.clear()
        room.public.difference_update(cut)
        self.revoked.revoke(cut, "members only")

    # -- flushing --------------------------------------------------------------------
    async def _flush_forever(self) -> None:
        # While a room is big, a tick every LANES-th of the coalescing interval: its
        # participants get one lane flushed per tick, everything else is flushed every
        # LANES ticks; without one, one flush per interval does it all. A tick to thousands
        # of sockets can take a good part of its time; after it the loop rests at least a
        # third of its length, so flushing takes at most three quarters of the core and
        # votes and joins still get their turn, while the rate falls only when the core is
        # really short.
        loop = asyncio.get_running_loop()
        offset, offset_read = wall_offset(loop)
        due = loop.time() + self.coalesce_seconds
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            big = any(self._is_big(room) for room in self.rooms.values())
            # Before whole-interval flushes (a lane's turn goes on at its own pace).
            if self.before_flush is not None and (not big or (self._ticks + 1) % LANES == 0):
                await self.before_flush()
            started = loop.time()
            try:
                if big:
                    self.tick()
                else:
                    self._ticks = 0
                    self.flush()
            except Exception:  # never let one bad flush stop all future ones
                log.exception("flush failed")
            interval = self.coalesce_seconds / (LANES if big else 1)
            if started - offset_read > 60:  # the wall clock may have been set meanwhile
                offset, offset_read = wall_offset(loop)
            # Lanes are one process's own cycle (an event reaches its last lane one cycle
            # later whatever the phase), so only whole-interval flushes keep to the clock.
            due = next_flush(due, started, loop.time(), interval, None if big else offset)

    def tick(self) -> None:
        """One tick of the flush loop: in each big room the next participants' lane; every
        LANES ticks (one coalescing interval) moderators, presence and small rooms."""
        self._ticks += 1
        whole = self._ticks % LANES == 0
        for room in self.rooms.values():
            if not self._is_big(room):
                if whole:
                    self._flush_room(room)
                continue
            if whole:
                self._presence(room)
                self._flush_lane(room, room.moderators.lanes[0], moderator=True)
                self._report_peak(room)
            self._flush_lane(room, room.public.lanes[room.turn], moderator=False)
            room.turn = (room.turn + 1) % LANES

    def _is_big(self, room: Room) -> bool:
        return len(room.public) + len(room.moderators) >= self.lanes_from

    def flush(self) -> None:
        """Send every room's connections what waits for them (coalesced counts, events,
        changed presence): to each socket in one write, however many messages that is."""
        for room in self.rooms.values():
            self._flush_room(room)

    def _flush_room(self, room: Room) -> None:
        self._presence(room)
        self._flush_all(room)
        self._report_peak(room)

    def _flush_all(self, room: Room) -> None:
        self._flush_out(room, True, True)

    def _flush_out(self, room: Room, moderators: bool, public: bool) -> None:
        """Write the moderators' lane, every public lane, or both, what waits for them."""
        if moderators:
            self._flush_lane(room, room.moderators.lanes[0], moderator=True)
        if public:
            for lane in room.public.lanes:
                self._flush_lane(room, lane, moderator=False)

    def _presence(self, room: Room) -> None:
        """Take in changed presence: for moderators now, for everyone else at a slower pace
        (while a crowd joins, a presence message to all per interval would cost more than
        the joins)."""
        presence = room.presence
        if presence.changed:
            presence.changed = False
            presence.public_due = True
            numbers = room.counts()
            room.peak.see(numbers["room"], numbers["remote"])
            body: dict[str, Any] = {"type": "presence", **numbers}
            if room.moderators:
                identities = self._identities(room)
                if identities is not None:
                    body["identities"] = identities
            room.moderator_presence = body
        now = time.monotonic()
        if presence.public_due and now - presence.public_at >= self.presence_seconds:
            presence.public_due = False
            presence.public_at = now
            room.presence_round += 1
            room.public_presence = {"type": "presence", **room.counts()}

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Events accepted inside go out at its end, in one write per connection: the
        events another process stored, read from the log together (four questions asked
        at once on four processes are one write to each socket, not four)."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            if not self._holding:
                held, self._held = self._held, {}
                for room in held.values():
                    # As each event would have been: moderators at once, everyone else at
                    # once unless the room is big (its lanes get them at their turn).
                    self._flush_out(room, True, not self._is_big(room))

    def _flush_lane(self, room: Room, lane: Lane, moderator: bool) -> None:
        """Write a lane what the ring holds after its `sent_seq`, then presence due to it,
        or a heartbeat to a lane quiet for a while, in one write per socket."""
        delivery = room.delivery
        out: list[str] = []
        if lane.sent_seq < delivery.accepted_seq:
            ring = delivery.ring
            if ring and lane.sent_seq + 1 < ring[0].seq:
                # The lane waited longer than the ring reaches back (the loop was stalled
                # for seconds): its connections reconnect and resume or get a snapshot.
                for ws in list(lane.sockets):
                    self._resync(ws)
            else:
                out = replay(ring, lane.sent_seq, moderator)
            lane.sent_seq = delivery.accepted_seq
        if moderator:
            if room.moderator_presence is not None:
                out.append(encode(room.moderator_presence, seq=lane.sent_seq))
                room.moderator_presence = None
        elif lane.presence_round < room.presence_round:
            lane.presence_round = room.presence_round
            out.append(encode(room.public_presence, seq=lane.sent_seq))
        now = time.monotonic()
        if out:
            self._send(lane.sockets, *out)
            lane.sent_at = now
        elif now - lane.sent_at >= HEARTBEAT_SECONDS:
            self._send(lane.sockets, HEARTBEAT)
            lane.sent_at = now

    def _identities(self, room: Room) -> dict[str, int] | None:
        merged = room.presence.merged
        if merged is not None:  # shared: every process's, from the store
            return {
                "new": merged.new_identities,
                "most_from_one_address": merged.most_from_one_address,
            }
        return self.identities(room.session_id) if self.identities is not None else None

    async def _keepalive_forever(self) -> None:
        while True:
            try:
                await self.keepalive()
            except Exception:  # never let one bad round stop the keepalive
                log.exception("keepalive failed")
                await asyncio.sleep(self.keepalive_seconds)

    async def keepalive(self) -> None:
        """One round: ping every joined connection once, and close those that sent nothing
        for two rounds; the round lasts one keepalive interval.

        One pre-built ping frame for everyone instead of the library's keepalive, which
        runs a task and a ping future per connection (about 6 % of the core at 3,000
        connections). A pong, like anything else a client sends, marks it heard
        (`admission.guarded_connection`); one that has not answered the last ping is gone.
        The pings go out in KEEPALIVE_SLICES slices spread over the interval: all at once,
        10,000 clients' pongs arrived together and their reading delayed the next flush
        by tens of milliseconds every round.
        """
        loop = asyncio.get_running_loop()
        step = self.keepalive_seconds / KEEPALIVE_SLICES
        due = loop.time()
        for part in range(KEEPALIVE_SLICES):
            # A connection's slice follows from its hash, so nothing of a closed connection
            # is held between slices (a round lasts the whole interval), and one that
            # joined mid-round is pinged when its slice comes.
            deadline = time.monotonic() - 2 * self.keepalive_seconds
            for room in list(self.rooms.values()):
                for sockets in (room.public, room.moderators):
                    for ws in [w for w in sockets if spread(w) % KEEPALIVE_SLICES == part]:
                        if getattr(ws, "heard", deadline) < deadline:
                            sockets.discard(ws)
                            self._cut(ws, KEEPALIVE_CLOSE_CODE, "keepalive ping timeout")
                        elif ws.protocol.state is OPEN:
                            ws.transport.write(PING_FRAME)
            due += step
            await asyncio.sleep(max(0.0, due - loop.time()))

    def _report_peak(self, room: Room) -> None:
        # A new peak is reported at once, then at most every `peak_interval` seconds, so a
        # crowd joining costs a handful of events and the final peak still arrives. Shared,
        # one process (the store's choice) records the session's peak.
        if self.on_peak is None or not room.presence.leader:
            return
        peak = room.peak.due(time.monotonic(), self.peak_interval)
        if peak is not None:
            self.on_peak(room.session_id, *peak)

    def _send(self, sockets: Collection[ServerConnection], *payloads: str) -> None:
        messages = list(payloads)
        if messages:
            fan_out(sockets, messages)
            self.messages_sent += len(sockets) * len(messages)

    def paused(self, ws: ServerConnection) -> None:
        """A connection's transport passed its high-water mark (the send-buffer limit).

        Called from inside a write, often in the middle of a fan-out over the very set the
        connection is in, so it is only noted here and cut right after.
        """
        if not self._slow:
            asyncio.get_running_loop().call_soon(self._cut_slow)
        self._slow.append(ws)

    def _cut_slow(self) -> None:
        slow, self._slow = self._slow, []
        for ws in slow:
            for room in self.rooms.values():
                if ws in room.public or ws in room.moderators:
                    room.public.discard(ws)
                    room.moderators.discard(ws)
                    self._cut(ws, SLOW_CLOSE_CODE, "too slow: reconnect to resume")
                    break

    def _cut(self, ws: ServerConnection, code: int, reason: str) -> None:
        # The close frame is queued behind everything the client has not read, and
        # `close()` then waits for the buffer to drain, which a client that never reads
        # never lets happen (nor does the keepalive ping, which waits the same way). So a
        # client that has not finished closing after a short grace is aborted: the
        # transport drops its buffer at once and the memory is returned.
        loop = asyncio.get_running_loop()
        task = loop.create_task(ws.close(code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        loop.call_later(self.cut_grace, self._abort, ws)

    def _resync(self, ws: ServerConnection) -> None:
        task = asyncio.get_running_loop().create_task(ws.close(RESYNC_CLOSE_CODE, "reconnect"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _abort(self, ws: ServerConnection) -> None:
        transport = ws.transport
        if transport is None:
            return
        # Also when the transport is closing: a graceful close still waits for the buffer
        # to drain. Aborting a transport whose connection is gone does nothing.
        # Linger 0: the kernel discards what the client never read and resets the
        # connection, instead of keeping an orphaned socket that probes a closed window
        # for minutes.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()  # drops the transport's buffer now
        self.heap.soon()

    # -- members ---------------------------------------------------------------------
    def join(self, member: Member, since: int | None, snapshot: Any) -> int:
        """Register a connection and bring it up to date; returns the number replayed.

        Runs without awaiting, so no change can slip between catching up and joining.
        `snapshot` is called to build a full snapshot when replay is not possible;
        returns -1 in that case.
        """
        room = self.rooms[member.session_id]
        _bound_kernel_buffer(member.ws)
        audience = room.audience_of(member)
        lane = audience.lane_of(member.ws)
        last_event = (
            room.delivery.last_moderator if member.is_moderator else room.delivery.last_public
        )
        if last_event > lane.sent_seq:
            # Those already in the lane get the events that waited for its turn (the
            # newcomer replays them): after that only counts, which are values, not steps,
            # lie between the lane and the newest change.
            self._flush_lane(room, lane, member.is_moderator)
        replayed = self._catch_up(room, member, since, snapshot, lane.sent_seq)
        audience.add(member.ws)
        if member.member_id is not None:
            room.by_member.setdefault(member.member_id, set()).add(member.ws)
        elif member.role == "participant" and member.where == "remote":
            room.guests.add(member.ws)
        room.presence.arrive(member.role, member.participant, member.where)
        return replayed

    def sent_seq(self, member: Member) -> int:
        """The seq of the last change sent to a connection (its lane's)."""
        return self.rooms[member.session_id].audience_of(member).lane_of(member.ws).sent_seq

    def leave(self, member: Member) -> None:
        """Unregister a connection."""
        room = self.rooms.get(member.session_id)
        if room is None:
            return
        room.audience_of(member).discard(member.ws)
        room.guests.discard(member.ws)
        if member.member_id is not None:
            sockets = room.by_member.get(member.member_id)
            if sockets is not None:
                sockets.discard(member.ws)
                if not sockets:
                    del room.by_member[member.member_id]
        room.presence.leave(member.role, member.participant)

    def _catch_up(
        self, room: Room, member: Member, since: int | None, snapshot: Any, sent_seq: int
    ) -> int:
        """Bring a joining connection to its lane's `sent_seq`: nothing (it has seen that
        much), a replay from the ring, or a snapshot."""
        ws, delivery = member.ws, room.delivery
        if since is not None and sent_seq <= since <= delivery.accepted_seq:
            # Beyond the lane there are only counts (see join), and the lane's next turn
            # sends their latest values.
            return 0
        if since is None or since > sent_seq or since + 1 < self._oldest_resumable(room):
            fan_out((ws,), [encode(snapshot(), seq=sent_seq)])
            return -1
        out = replay(delivery.ring, since, member.is_moderator, upto=sent_seq)
        if out:
            fan_out((ws,), out)
        return len(out)

    def _oldest_resumable(self, room: Room) -> int:
        """The first seq a client can resume from: the ring's last `replay_events`."""
        ring = room.delivery.ring
        if not ring:
            return room.delivery.accepted_seq + 1
        if self.replay_events <= 0:
            return ring[-1].seq + 1
        return ring[max(0, len(ring) - self.replay_events)].seq

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


def next_flush(
    due: float, started: float, finished: float, interval: float, offset: float | None = None
) -> float:
    """When the flush after one that was due at `due` and ran from `started` to `finished`
    is due: at the fixed rate, but never before a rest of a third of the flush's length
    (and a tenth of the interval), so flushing takes at most three quarters of the loop.

    With the wall clock's `offset` to the loop's clock, the fixed rate keeps to the wall
    clock's multiples of `interval`: every process of a deployment (on one machine, or on
    machines that keep time) then flushes at the same moments, and a change they all
    learnt of before a flush reaches every screen and phone in the room together, where
    each process's own phase would show it one process after another, the last up to a
    whole interval late. Rounded to the nearest multiple, a late start or a preempted
    clock reading never costs a whole interval; after a flush that ran long the next one
    is as soon as its rest allows, and the one after it is back on the clock.
    """
    rest = max((finished - started) / 3, interval / 10)
    step = due + interval
    if offset is not None:
        step = round((step + offset) / interval) * interval - offset
    return max(step, finished + rest)


def wall_offset(loop: asyncio.AbstractEventLoop) -> tuple[float, float]:
    """The wall clock's time minus the loop's, read where the two readings were closest
    (a process preempted between them would be off by as long), and when it was read."""
    best = (math.inf, 0.0)
    for _ in range(5):
        before = loop.time()
        wall = time.time()
        after = loop.time()
        best = min(best, (after - before, wall - (before + after) / 2))
    return best[1], loop.time()


def _bound_kernel_buffer(ws: ServerConnection) -> None:
    # Linux grows a socket's send buffer up to net.ipv4.tcp_wmem's maximum (4 MiB by
    # default) for a client that does not read, on top of what waits in the transport. A
    # fixed size bounds that kernel memory per connection and lets a stalled client reach
    # the send-buffer limit, and be cut, after a predictable amount of data.
    transport = ws.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)
