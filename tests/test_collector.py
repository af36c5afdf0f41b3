"""The garbage-collection policy: survivors frozen every few seconds, full collections
only in a quiet moment (or after an hour at the latest), on a clock the test controls."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from companion.collector import FULL_AT_LEAST, FULL_AT_MOST, QUIET_FOR, Collector


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # leave the test process's collector as it was


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_survivors_are_frozen_and_young_cycles_collected_first() -> None:
    """A tick in a busy moment frees young cyclic garbage, then freezes what lives."""
    clock = [1000.0]
    collector = Collector(lambda: clock[0], clock=lambda: clock[0])
    gc.unfreeze()
    keep = [Cycle() for _ in range(1000)]
    Cycle()  # garbage: a cycle nobody holds
    frozen_before = gc.get_freeze_count()
    collector.tick()
    assert collector.full_collections == 0
    assert gc.get_freeze_count() >= frozen_before + len(keep)
    assert all(gc.is_tracked(k) for k in keep)
    assert gc.collect() == 0  # nothing left for a collection to find among the young


def test_a_full_collection_waits_for_a_quiet_moment_and_at_most_an_hour() -> None:
    """Busy: no full collection before FULL_AT_MOST; quiet: one after FULL_AT_LEAST."""
    clock = [0.0]
    busy = Collector(lambda: clock[0], clock=lambda: clock[0])  # a change every instant
    clock[0] = FULL_AT_MOST - 1
    busy.tick()
    assert busy.full_collections == 0
    clock[0] = FULL_AT_MOST
    busy.tick()
    assert busy.full_collections == 1

    clock[0] = 0.0
    last_change = [0.0]
    quiet = Collector(lambda: last_change[0], clock=lambda: clock[0])
    clock[0] = FULL_AT_LEAST - 1  # long quiet, but a full collection ran too recently
    quiet.tick()
    assert quiet.full_collections == 0
    clock[0] = FULL_AT_LEAST
    last_change[0] = clock[0] - QUIET_FOR / 2  # a vote a moment ago: not quiet
    quiet.tick()
    assert quiet.full_collections == 0
    last_change[0] = clock[0] - QUIET_FOR
    quiet.tick()
    assert quiet.full_collections == 1


def test_garbage_among_frozen_objects_is_freed_by_the_full_collection() -> None:
    """What was frozen and then dropped (a closed connection's cycles) is not kept forever."""
    clock = [0.0]
    collector = Collector(lambda: -QUIET_FOR, clock=lambda: clock[0])
    cycles = [Cycle() for _ in range(500)]
    collector.tick()  # frozen
    del cycles
    clock[0] = FULL_AT_LEAST
    frozen = gc.get_freeze_count()
    collector.tick()  # quiet and due: unfreeze, collect, freeze again
    assert collector.full_collections == 1
    assert gc.get_freeze_count() <= frozen - 500
