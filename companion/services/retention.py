"""Storage limitation: each session's personal data is deleted a set time after its event.

The period is per installation (`COMPANION_RETENTION_DAYS`, 90) unless the session's
network sets its own (`retention_days` in the programme, from the organiser pages). A
session is due the day after its event's date plus the period (a meeting without a date
counts from its last logged change). Deleting is `SessionService.scrub`: the log is
rewritten without personal data (companion.domain.retention), so the anonymous record of
the meeting stays and folds to the same report.

`RetentionSchedule` runs it once a day inside `companion serve`; with several processes on
one Redis the day's claim in the store lets exactly one of them do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from companion.backends.base import StoreUnavailable
from companion.domain import retention
from companion.domain.errors import DomainError
from companion.services.sessions import SessionService

log = logging.getLogger(__name__)

CHECK_SECONDS = 600.0  # how often the schedule looks whether today's run is done
CLAIM_SECONDS = 2 * 86400.0  # a day's claim outlives the day, so no process runs it twice


@dataclass(frozen=True, slots=True)
class Due:
    """A session whose personal data is due for deletion, and what that deletes."""

    session_id: str
    network: str
    event: str
    session: str
    held_since: dt.date  # the event's day (or its last change)
    days: int
    removal: retention.Removal


class Retention:
    """Finds the sessions that are due and deletes their personal data."""

    def __init__(
        self, service: SessionService, days: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.service = service
        self.days = days
        self.clock = clock

    def today(self) -> dt.date:
        """The local date now (the server's time zone, as the report's times)."""
        return dt.datetime.fromtimestamp(self.clock()).date()

    async def due(self) -> list[Due]:
        """Every session whose period has run out and that still holds personal data."""
        today = self.today()
        found = []
        for network, _, event, session in self.service.programme.sessions():
            days = self.days if network.retention_days is None else network.retention_days
            if days <= 0 or session.id not in self.service.states:
                continue  # 0: kept until deleted by hand
            events = await self.service.store.load_events(session.id)
            if not events or retention.scrubbed_already(events):
                continue
            held_since = event.date or dt.datetime.fromtimestamp(events[-1].at).date()
            if today <= held_since + dt.timedelta(days=days):
                continue
            _, removal = retention.scrub(events)
            found.append(
                Due(
                    session.id, network.title, event.title, session.title, held_since, days, removal
                )
            )
        return found

    async def run(self, dry_run: bool = False) -> list[Due]:
        """Delete the personal data of every due session (or only say what, `dry_run`)."""
        found = await self.due()
        if dry_run:
            return found
        done = []
        for due in found:
            try:
                removal = await self.service.scrub(due.session_id)
            except (DomainError, StoreUnavailable, OSError) as exc:
                log.error("retention: could not scrub %s: %s", due.session_id, exc)
                continue
            done.append(
                Due(
                    due.session_id,
                    due.network,
                    due.event,
                    due.session,
                    due.held_since,
                    due.days,
                    removal,
                )
            )
        if done:
            await self.service.store.compact()
        return done


def describe(due: Due, dry_run: bool) -> str:
    """One session's deletion in plain words (English: it is an operator's command)."""
    r = due.removal
    verb = "would delete" if dry_run else "deleted"
    return (
        f"{due.session_id} ({due.network} – {due.event} – {due.session}, "
        f"held since {due.held_since.isoformat()}, {due.days} days): {verb} "
        f"{r.names} names on questions, the link to {r.participants} participants "
        f"(as askers of {r.questions} questions, {r.votes} votes and {r.answers} poll "
        f"answers), and the text of {r.texts} questions that were never public"
    )


class RetentionSchedule:
    """Runs retention once a day in the serving process (one process of several)."""

    def __init__(self, retention_: Retention, check_seconds: float = CHECK_SECONDS) -> None:
        self.retention = retention_
        self.check_seconds = check_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # runs this process did (tests)

    def start(self) -> None:
        """Check now and then every `check_seconds`."""
        self._task = asyncio.get_running_loop().create_task(self._forever())

    async def stop(self) -> None:
        """Stop checking (a run under way is cancelled between sessions' rewrites)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _forever(self) -> None:
        while True:
            try:
                await self.once()
            except Exception:  # the schedule must outlive one bad day
                log.exception("retention run failed")
            await asyncio.sleep(self.check_seconds)

    async def once(self) -> list[Due] | None:
        """Run today's retention if no process has claimed today; None when one had."""
        store = self.retention.service.store
        day = self.retention.today().isoformat()
        if not await store.claim(f"retention:{day}", self.owner, CLAIM_SECONDS):
            return None
        self.runs += 1
        done = await self.retention.run()
        for due in done:
            log.info("retention: %s", describe(due, dry_run=False))
        return done
