"""Keeping the cyclic garbage collector's full collections out of a live meeting.

A full collection scans every tracked object; at thousands of connections that is
hundreds of milliseconds in which no vote is decided and no frame is written (stalls of
about 0.6 s were profiled in the vote path at 9,000 participants). Objects that have lived
through a few seconds (connections, rooms, the sessions' state) mostly live on, so every
few seconds the young generations are collected, which is cheap, and what survives is
frozen: no later collection scans it. Cyclic garbage among frozen objects (a closed
connection's cycles) waits for a full collection, which runs when the service has been
quiet for a while (no change in any session) and at the latest after `full_at_most`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FREEZE_EVERY = 5.0  # seconds between freezes of what survived
QUIET_FOR = 10.0  # no change for this long: a full collection may run
FULL_AT_LEAST = 600.0  # a full collection no more often than this, however quiet
FULL_AT_MOST = 3600.0  # and at the latest this long after the last one, quiet or not


def settle_heap() -> None:
    """Collect once, then freeze what start-up left: later collections skip it."""
    gc.collect()
    gc.freeze()


class Collector:
    """Freezes survivors every few seconds; collects fully only in a quiet moment."""

    def __init__(
        self,
        last_change: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
        freeze_every: float = FREEZE_EVERY,
    ) -> None:
        self.last_change = last_change  # when any session last changed (clock's time)
        self.clock = clock
        self.freeze_every = freeze_every
        self.last_full = clock()
        self.full_collections = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background of the current loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop (the heap stays as it is)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.freeze_every)
            self.tick()

    def tick(self) -> None:
        """One step: a full collection if it is due and quiet, else a freeze of survivors."""
        now = self.clock()
        since_full = now - self.last_full
        quiet = now - self.last_change() >= QUIET_FOR
        if since_full >= FULL_AT_MOST or (quiet and since_full >= FULL_AT_LEAST):
            started = time.perf_counter()
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            self.last_full = now
            self.full_collections += 1
            log.info(
                "full garbage collection: %d unreachable, %.0f ms",
                found,
                (time.perf_counter() - started) * 1e3,
            )
            return
        gc.collect(1)  # the young generations: what died young goes before the freeze
        gc.freeze()
