"""The in-process bus of the embedded default: direct, ordered, synchronous delivery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class MemoryBus:
    """A bus for one process: publishing calls every subscriber in order."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[Any], None]] = []

    def subscribe(self, callback: Callable[[Any], None]) -> None:
        """Register a subscriber."""
        self._subscribers.append(callback)

    def publish(self, item: Any) -> None:
        """Deliver to every subscriber now."""
        for callback in self._subscribers:
            callback(item)
