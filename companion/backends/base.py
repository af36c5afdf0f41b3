"""The two backend interfaces: a durable store and an event bus.

The application services talk only to these protocols; `companion.backends.open_store`
picks the store from its URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from companion.domain.access import SessionAccess
from companion.domain.events import Event
from companion.domain.members import NetworkMember
from companion.domain.organisers import AuditEntry, OneTimeLink, Organiser, Signin


class StoreUnavailable(Exception):
    """The store could not take or give data; nothing was acknowledged."""


class TooLate(StoreUnavailable):
    """An append's deadline passed before the store ran it; nothing was stored."""


class SeqConflict(StoreUnavailable):
    """An append did not follow the stored log (another writer, or an earlier failure)."""

    def __init__(self, last_seq: int) -> None:
        super().__init__(f"event out of sequence: the log ends at {last_seq}")
        self.last_seq = last_seq


class StoreURLError(ValueError):
    """A store URL names no store this installation knows, or is malformed for its store."""


class Tail(Protocol):
    """Follows a shared store's event logs: what other processes committed, in order."""

    def start(
        self,
        positions: dict[str, int],
        on_event: Callable[[Event], None],
        on_state: Callable[[bool], None] | None = None,
        together: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        """Deliver every event after these seqs (session id -> last seq already applied);
        `on_state` learns when the store stops and starts answering; the events of one
        read are delivered inside `together()`."""

    def follow(self, session_id: str, seq: int) -> None:
        """Also follow a session made after `start` (from the editor), after `seq`."""

    async def fresh(self) -> None:
        """Return once what was stored before the call is handed on, or soon after (a
        latency bound, for the hub's flush: not a promise)."""

    async def caught_up(self, session_id: str) -> None:
        """Return once this session's events stored before the call are handed on (or at
        once if the store does not answer): a snapshot then shows every change acked."""

    async def stop(self) -> None:
        """Stop following."""


@dataclass(frozen=True, slots=True)
class PresenceShare:
    """One process's part of a session's presence, sent to the store now and then."""

    session_id: str
    full: bool  # `people` is everyone here (else only who came, moved or left)
    people: dict[str, str | None]  # participant -> where and when they joined; None: left
    moderators: int
    screens: int
    viewers: int
    withdraw: bool = False  # nobody is here any longer: take this process's part away
    identities: dict[str, int] | None = None  # address digest -> fresh identities since


@dataclass(frozen=True, slots=True)
class SessionPresence:
    """A session's presence over every live process: distinct participants, connections
    and viewers summed, fresh identities given out, and which process records peaks."""

    room: int
    remote: int
    moderators: int
    screens: int
    viewers: int
    new_identities: int
    most_from_one_address: int
    leader: bool  # this process is the one that records the session's attendance peaks
    resend: bool = False  # this process's part had lapsed and was not taken: send it all


class PresenceBoard(Protocol):
    """Where processes on a shared store put their parts of each session's presence: each
    part lives while its process renews it, so a dead process's people drop out."""

    async def share(self, shares: list[PresenceShare]) -> list[SessionPresence]:
        """Store these parts (and renew this process's others) and merge each session's
        presence over every live process; one round trip."""


class CommandReader(Protocol):
    """Reads the command streams of the sessions this process writes."""

    async def connect(self) -> None:
        """Connect (the connection shows the other processes this one is alive)."""

    async def read(self, sessions: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(session id, command) forwarded to these sessions and delivered to no writer
        before, in order (blocks a while)."""

    async def close(self) -> None:
        """Disconnect."""


class WriterBoard(Protocol):
    """Where the processes of a shared store hand each session's client commands to the
    session's one writer (`companion.services.session_writers`; on Redis
    `companion.backends.redis_writers`)."""

    process: str

    async def fence(self, deadline: float) -> int:
        """A local monotonic deadline in the store's clock; TooLate once it has passed."""

    def local_fence(self, microseconds: int) -> float:
        """A fence in the store's clock as a local monotonic instant."""

    async def leases(self, session_ids: list[str], ttl: float, dead: str = "") -> dict[str, str]:
        """Renew or take each session's writer lease (also from the `dead` process); who
        holds each."""

    async def alive(self, process: str) -> bool:
        """Whether `process` is still connected to the store."""

    async def release(self, session_ids: list[str]) -> None:
        """Give these leases up, if held."""

    async def forward(self, session_id: str, commands: list[dict[str, Any]]) -> None:
        """Hand commands to the session's writer, in this order, in one call."""

    async def reply(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        """Answer forwarded commands (by the process that forwarded them), together."""

    def replies(self) -> AsyncIterator[list[dict[str, Any]] | bool]:
        """The answers to this process's forwarded commands."""

    def reader(self) -> CommandReader:
        """A reader of command streams, on a connection of its own."""


class VersionConflict(StoreUnavailable):
    """The programme changed since it was read (another organiser or process saved first)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"the programme is at version {version}")
        self.version = version


class Store(Protocol):
    """Durable state: the programme, session secrets and each session's event log."""

    shared: bool
    """Whether other processes append to the same logs (Redis). A shared log decides
    who commits by the append, so commands are published only once appended, and memory
    is folded again from the log when an append fails; `tail()` follows it."""

    def tail(self) -> Tail | None:
        """A follower of the logs other processes append to; None when nobody else does."""

    def writer_board(self, process: str) -> WriterBoard | None:
        """Where process `process` takes session writer leases and forwards client
        commands to the writers (`companion.services.session_writers`); None when alone."""

    def presence_board(self, process: str) -> PresenceBoard | None:
        """Where process `process` shares presence with the others; None when alone."""

    async def open(self) -> None:
        """Connect and create what is missing."""

    async def close(self) -> None:
        """Flush and release resources."""

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        """Replace the programme and add secrets for new sessions, atomically."""

    async def load_programme(self) -> dict[str, Any] | None:
        """The stored programme, or None when nothing was imported."""

    async def load_programme_versioned(self) -> tuple[dict[str, Any] | None, int]:
        """The stored programme and its version (0 before anything was saved)."""

    async def programme_version(self) -> int:
        """The version of the stored programme; each save adds one."""

    async def replace_programme(
        self, data: dict[str, Any], access: list[SessionAccess], expected_version: int
    ) -> int:
        """Save the programme (and secrets of new sessions) only if it is still at
        `expected_version`, atomically; returns the new version or raises VersionConflict."""

    async def load_access(self) -> list[SessionAccess]:
        """The secrets of every session."""

    async def update_access(self, access: SessionAccess) -> None:
        """Replace one session's join code and moderator token: the copy of the latest
        secrets for readers that do not fold the logs (the logs' events are the truth)."""

    async def append(
        self, events: list[Event], deadline: float | None = None, fence: int | None = None
    ) -> None:
        """Store events durably; returns only once they survive a crash of this process.

        With a `deadline` (a `time.monotonic()` instant) the store does not begin to store
        them after it: the append is refused with TooLate and nothing is stored. So a caller
        that stops waiting a little after its deadline knows the events cannot land later,
        unless the store wrote them in time and only its answer was late. A shared store
        takes the deadline as `fence` too, already in its own clock (a command forwarded by
        another process, whose fence that process fixed): then `fence` is the one kept.
        """

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """A session's events with seq > after_seq, in order."""

    async def replace_log(self, events: list[Event], expected_last: int) -> None:
        """Replace one session's whole log by `events` — the same seqs rewritten, and one
        or more new events after `expected_last` — if the stored log still ends at
        `expected_last`; atomically, else SeqConflict and nothing changed. What it
        replaced is gone from the store, not kept beside it (companion.domain.retention)."""

    async def compact(self) -> None:
        """Make the store drop from its files what `replace_log` replaced, where it
        keeps such history (Redis's append-only file)."""

    # -- organisers (companion.services.organisers) ----------------------------------------
    async def add_organiser(self, organiser: Organiser) -> bool:
        """Create an account; False (and nothing stored) when the email is taken."""

    async def save_organiser(self, organiser: Organiser) -> None:
        """Replace an existing account (its email does not change)."""

    async def get_organiser(self, organiser_id: str) -> Organiser | None:
        """An account by id."""

    async def find_organiser(self, email: str) -> Organiser | None:
        """An account by its normalised email."""

    async def list_organisers(self) -> list[Organiser]:
        """Every account, by email (for copying an installation)."""

    async def add_membership(self, network_id: str, organiser_id: str) -> None:
        """Make an organiser a member of a network (idempotent)."""

    async def remove_membership(self, network_id: str, organiser_id: str) -> None:
        """End a membership (idempotent)."""

    async def memberships(self, organiser_id: str) -> set[str]:
        """The networks an organiser belongs to."""

    async def network_members(self, network_id: str) -> set[str]:
        """The organisers (ids) of a network."""

    async def put_link(self, link: OneTimeLink) -> None:
        """Keep a one-time link until it is taken or expires."""

    async def take_link(self, token_hash: str, now: float) -> OneTimeLink | None:
        """Remove and return a link that has not expired; atomic, so it works only once."""

    async def put_signin(self, signin: Signin) -> None:
        """Keep a sign-in session until it expires or is deleted."""

    async def get_signin(self, id_hash: str, now: float) -> Signin | None:
        """A sign-in session that has not expired."""

    async def delete_signin(self, id_hash: str) -> None:
        """End a sign-in session (sign out)."""

    async def count_failure(self, key: str, window: float, now: float) -> int:
        """Count one failure against `key`; the failures in the current window, this one included."""

    async def clear_failures(self, key: str) -> None:
        """Forget the failures of `key` (after a successful sign-in)."""

    async def renew_lease(self, name: str, owner: str, ttl: float) -> None:
        """Hold the lease `name` for `owner` for `ttl` more seconds (taking it if free).
        A process proves it is alive by renewing; its leases lapse when it dies."""

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take `name` for `ttl` seconds if nobody holds it; True for the one caller of
        several (in any process) that got it. A claim is not renewed: it lapses."""

    async def lease_owner(self, name: str) -> str | None:
        """Who holds the lease `name` now; None when nobody renewed it in time."""

    async def append_audit(self, entry: AuditEntry) -> None:
        """Record an audit entry of a network."""

    async def load_audit(self, network_id: str, limit: int = 500) -> list[AuditEntry]:
        """A network's most recent audit entries, newest first."""

    # -- a network's member list (companion.services.members) -----------------------------
    async def load_members(self, network_id: str) -> list[NetworkMember]:
        """Every member of a network, in no particular order."""

    async def get_member(self, network_id: str, member_id: str) -> NetworkMember | None:
        """One member of a network."""

    async def save_members(self, members: list[NetworkMember]) -> None:
        """Add or replace these members (and the index of their links' digests), all or
        none: a link whose digest a member no longer carries stops opening anything."""

    async def delete_member(self, network_id: str, member_id: str) -> bool:
        """Remove a member and their link; False when there was none."""

    async def member_by_token(self, token_hash: str) -> NetworkMember | None:
        """The member whose current link has this digest."""


class Bus(Protocol):
    """Delivers committed changes to this process's subscribers (the realtime hub).

    Other processes learn of changes by following the shared log (`RedisTail`), not
    through the bus, so a change is published once per process that applies it.
    """

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Call `callback` with every published item, in publish order."""

    def publish(self, item: Any) -> None:
        """Hand an item to all subscribers."""
