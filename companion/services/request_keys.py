"""Request keys: a client names a change, so sending it again does not make it twice.

After `store_unavailable` (or no answer at all) a client cannot always know whether its
change was stored (docs/protocol.md, section 5.1). If it sent the change with a `key` and
sends it again with the same key, the server answers with the first change's ack instead
of deciding again: a vote is not withdrawn by its own retry, a question is not asked
twice. The key is stored in the change's event, so every process and a restart know it.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from companion.domain import events as ev
from companion.domain.errors import DomainError

KEY_FIELD = "key"  # in event data: "<sender>/<message type>/<client key>"
KEPT_PER_SESSION = 10_000  # the newest keyed changes a retry is recognised against
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_key(sender: str, kind: str, value: object) -> str | None:
    """The stored form of a message's `key` (None without one), scoped to its sender (a
    participant id, or "moderator") and message type, so one sender's keys never match
    another's, and a retry is always answered with an ack of its own type."""
    if value is None:
        return None
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise DomainError(
            "`key` must be 1 to 64 letters, digits or . _ : - characters.", "bad_message"
        )
    return f"{sender}/{kind}/{value}"


class RecentKeys:
    """The newest keyed events of every session, by key."""

    def __init__(self, kept: int = KEPT_PER_SESSION) -> None:
        self.kept = kept
        self._events: dict[str, OrderedDict[str, ev.Event]] = {}

    def remember(self, event: ev.Event) -> None:
        """Note a committed event's key, if it has one."""
        key = event.data.get(KEY_FIELD)
        if not isinstance(key, str):
            return
        events = self._events.setdefault(event.session_id, OrderedDict())
        events[key] = event
        if len(events) > self.kept:
            events.popitem(last=False)

    def find(self, session_id: str, key: str | None) -> ev.Event | None:
        """The committed event made under this key, if any."""
        events = self._events.get(session_id)
        if key is None or events is None:
            return None
        return events.get(key)

    def forget(self, session_id: str) -> None:
        """Drop a session's keys (before rebuilding it from its log)."""
        self._events.pop(session_id, None)
