"""What a session's connections have been sent: the ring of changes and the lanes.

Every accepted change is kept in the room's ring, encoded once per audience (votes and
poll answers as their values, to be merged). A **lane** is a group of connections that
have been sent the same changes, up to its `sent_seq`; flushing a lane writes it what the
ring holds after that, with runs of votes and answers merged into one `counts` message,
exactly what a client resuming from the same seq is replayed.

A big session's participants are split into `LANES` lanes by the hash of their
connection, and the hub flushes one lane at a time, in turn, over the coalescing
interval. Each connection still hears of a vote within one interval, but the server
writes to a tenth of the sockets every tenth of the interval instead of to all of them
at once, so the last of 10,000 sockets is no longer written a whole fan-out (70 ms on
this machine) after the first, and the event loop is never held for that long.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, takewhile
from typing import Any

from websockets.asyncio.server import ServerConnection

from companion.realtime.protocol import encode
from companion.services.projection import Change

LANES = 10  # lanes of a session's participants and screens
# The ring keeps at least this many changes whatever COMPANION_REPLAY_EVENTS says: a lane
# that waits for its turn is replayed from it (1,000 votes/s fill this in five seconds).
RING_MIN = 5000


def spread(ws: object) -> int:
    """A connection's hash, mixed, to share connections evenly among groups: an object's
    hash is its address, and addresses step by the object's size, so taken as they are
    they would fill only a few of the groups."""
    return hash(ws) * 0x9E3779B97F4A7C15 >> 32


@dataclass(slots=True)
class Entry:
    """One change in the ring: its message per audience, or the values it merges."""

    seq: int
    public: str | None
    moderator: str | None
    vote: tuple[int, int] | None
    tally: tuple[int, dict[str, Any], dict[str, Any]] | None = None


@dataclass(slots=True)
class Coalesced:
    """Votes and poll answers merged: the latest count per question and the latest
    results per poll, and the seq of the last change they include."""

    votes: dict[int, int] = field(default_factory=dict)
    tallies: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    seq: int = 0

    def add(self, entry: Entry) -> None:
        """Take in one vote or poll answer."""
        if entry.vote is not None:
            self.votes[entry.vote[0]] = entry.vote[1]
        if entry.tally is not None:
            poll, public, moderator = entry.tally
            self.tallies[poll] = (public, moderator)
        self.seq = entry.seq

    def __bool__(self) -> bool:
        return bool(self.votes or self.tallies)

    def payload(self, moderator: bool) -> str:
        """The `counts` message for one audience (results differ only while hidden)."""
        body: dict[str, Any] = {
            "type": "counts",
            "counts": {str(q): n for q, n in self.votes.items()},
        }
        if self.tallies:
            body["tallies"] = {str(p): t[moderator] for p, t in self.tallies.items()}
        return encode(body, seq=self.seq)


def replay(ring: deque[Entry], after: int, moderator: bool, upto: int | None = None) -> list[str]:
    """The messages of the changes after seq `after` (up to `upto`), in order, for one
    audience, votes and answers between two other changes merged into one `counts`."""
    newer = list(takewhile(lambda entry: entry.seq > after, reversed(ring)))
    out: list[str] = []
    merged = Coalesced()
    for entry in reversed(newer):
        if upto is not None and entry.seq > upto:
            break
        if entry.vote is not None or entry.tally is not None:
            merged.add(entry)
            continue
        if merged:
            out.append(merged.payload(moderator))
            merged = Coalesced()
        payload = entry.moderator if moderator else entry.public
        if payload is not None:
            out.append(payload)
    if merged:
        out.append(merged.payload(moderator))
    return out


@dataclass(eq=False, slots=True)
class Lane:
    """Connections flushed together: what they were last sent, and when."""

    sent_seq: int
    sockets: set[ServerConnection] = field(default_factory=set)
    sent_at: float = 0.0  # monotonic time of the last write (for the heartbeat)
    presence_round: int = 0  # the room's last participants' presence this lane was sent


class Audience:
    """The connections of one audience of a room (participants and screens, or
    moderators), split into lanes; added to, removed from and iterated like a set."""

    def __init__(self, lanes: int, seq: int) -> None:
        self.lanes = [Lane(seq) for _ in range(lanes)]

    def lane_of(self, ws: object) -> Lane:
        """The lane a connection is (or would be) in."""
        return self.lanes[(spread(ws) >> 8) % len(self.lanes)]

    def add(self, ws: ServerConnection) -> None:
        """Add a connection to its lane."""
        self.lane_of(ws).sockets.add(ws)

    def update(self, sockets: Iterable[ServerConnection]) -> None:
        """Add connections."""
        for ws in sockets:
            self.add(ws)

    def discard(self, ws: ServerConnection) -> None:
        """Remove a connection if it is here."""
        self.lane_of(ws).sockets.discard(ws)

    def difference_update(self, sockets: Iterable[ServerConnection]) -> None:
        """Remove connections."""
        for ws in sockets:
            self.discard(ws)

    def clear(self) -> None:
        """Remove every connection."""
        for lane in self.lanes:
            lane.sockets.clear()

    def __contains__(self, ws: object) -> bool:
        return ws in self.lane_of(ws).sockets

    def __iter__(self) -> Iterator[ServerConnection]:
        return chain.from_iterable(lane.sockets for lane in self.lanes)

    def __len__(self) -> int:
        return sum(len(lane.sockets) for lane in self.lanes)

    def __bool__(self) -> bool:
        return any(lane.sockets for lane in self.lanes)


@dataclass(slots=True)
class Delivery:
    """A room's changes in `seq` order: the last accepted, those that arrived early, the
    ring, and the seq of the last change with a message for each audience."""

    accepted_seq: int
    ring: deque[Entry]
    waiting: dict[int, Change] = field(default_factory=dict)
    last_public: int = 0
    last_moderator: int = 0
