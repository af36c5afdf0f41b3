"""File descriptors: how many the process may open, how connections share them, and
what is logged when they run out.

Every connection is a file descriptor. Under the common default soft limit of 1,024, a
thousand idle sockets from one address used to stop every join and `/healthz`. So at
start the soft limit is raised to the hard one; each port caps the connections of one
client address at a share of the budget (a quarter by default, so one address never
holds more than half of it over both ports); and when accepting fails anyway, the failures are summarised once a
second instead of asyncio's traceback per attempt (thousands a second, 292 MB of log in
40 s).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)

RESERVE = 64  # descriptors kept for the store, logs, listening sockets and media, at least
REPORT_INTERVAL = 1.0  # seconds between two log lines about failed accepts
_ACCEPT_FAILED = "socket.accept() out of system resource"


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # not allowed here: keep what we have
            log.warning("could not raise the open file limit from %d to %d: %s", soft, hard, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_file_limit() -> int:
    """The soft limit on open files."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_budget(open_files: int) -> int:
    """Connections the process can hold: its open-file limit less a reserve."""
    return max(16, open_files - max(RESERVE, open_files // 8))


def per_address_cap(configured: int, budget: int, share_percent: int) -> int:
    """Connections of one address on one port: as configured, and at most its share of the
    budget (a quarter by default, so one address never holds more than half of it)."""
    return max(1, min(configured, budget * share_percent // 100))


class AddressCap:
    """Open connections per client address on one port, refused past `cap` (None: no cap,
    for a server behind a proxy, where every connection comes from the proxy's address)."""

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.open: Counter[str] = Counter()

    def admit(self, address: str) -> bool:
        """Count a new connection from `address`, or refuse it (then it is not counted)."""
        if self.cap is not None and self.open[address] >= self.cap:
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        """Forget a connection counted by `admit`."""
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class AcceptErrorLog:
    """An event-loop exception handler that reports failed accepts once a second, with
    a count, and passes everything else on.

    On Linux a listening socket stays readable while accepting fails for want of file
    descriptors, and asyncio (3.11, 3.12) calls the handler for every attempt, up to the
    listen backlog each time, and schedules a retry for each; retries that fire after the
    listener closed fail once more (`_start_serving` on a closed socket).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, open_files: int) -> None:
        self.loop = loop
        self.open_files = open_files
        self.failed = 0
        self.reason = ""
        self._timer: asyncio.TimerHandle | None = None
        self._previous = loop.get_exception_handler()

    def install(self) -> None:
        """Become the loop's exception handler."""
        self.loop.set_exception_handler(self)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message == _ACCEPT_FAILED or "._start_serving(" in message:
            self.failed += 1
            self.reason = str(context.get("exception") or message)
            if self._timer is None:
                self._report()
            return
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)

    def _report(self) -> None:
        self._timer = None
        if not self.failed:
            return
        log.error(
            "accepting connections failed %d times in the last second: %s "
            "(open file limit %d; idle connections are closed after the request timeout)",
            self.failed,
            self.reason,
            self.open_files,
        )
        self.failed = 0
        self._timer = self.loop.call_later(REPORT_INTERVAL, self._report)
