"""The two backend interfaces: a durable store and an event bus.

The application services talk only to these protocols; `companion.backends.open_store`
picks the store from its URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from companion.domain.access import SessionAccess
from companion.domain.events import Event


class StoreUnavailable(Exception):
    """The store could not take or give data; nothing was acknowledged."""


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
    ) -> None:
        """Deliver every event after these seqs (session id -> last seq already applied);
        `on_state` learns when the store stops and starts answering."""

    async def stop(self) -> None:
        """Stop following."""


class Store(Protocol):
    """Durable state: the programme, session secrets and each session's event log."""

    shared: bool
    """Whether other processes append to the same logs (Redis). A shared log decides
    who commits by the append, so commands append before they apply; `tail()` follows it."""

    def tail(self) -> Tail | None:
        """A follower of the logs other processes append to; None when nobody else does."""

    async def open(self) -> None:
        """Connect and create what is missing."""

    async def close(self) -> None:
        """Flush and release resources."""

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        """Replace the programme and add secrets for new sessions, atomically."""

    async def load_programme(self) -> dict[str, Any] | None:
        """The stored programme, or None when nothing was imported."""

    async def load_access(self) -> list[SessionAccess]:
        """The secrets of every session."""

    async def update_access(self, access: SessionAccess, old_code: str) -> None:
        """Replace one session's join code and moderator token (rotation)."""

    async def append(self, events: list[Event]) -> None:
        """Store events durably; returns only once they survive a crash of this process."""

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """A session's events with seq > after_seq, in order."""


class Bus(Protocol):
    """Delivers committed changes to this process's subscribers (the realtime hub).

    Other processes learn of changes by following the shared log (`RedisTail`), not
    through the bus, so a change is published once per process that applies it.
    """

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Call `callback` with every published item, in publish order."""

    def publish(self, item: Any) -> None:
        """Hand an item to all subscribers."""
