"""Token-bucket rate limits, per participant and per connection."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `burst` actions at once and `rate` more per second after that."""

    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.clock = clock
        self.stamp = clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def is_full(self) -> bool:
        """Whether the bucket has refilled completely (it can be forgotten)."""
        return self.tokens + (self.clock() - self.stamp) * self.rate >= self.burst

    def refund(self) -> None:
        """Give back a token spent on an action that was refused anyway."""
        self.tokens = min(self.burst, self.tokens + 1)

    def retry_after(self) -> float:
        """Seconds until the next token."""
        return max(0.0, (1 - self.tokens) / self.rate) if self.rate else float("inf")
