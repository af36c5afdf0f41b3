"""Tests of the token-bucket rate limit, with a fake clock."""

from __future__ import annotations

import pytest

from companion.realtime.limits import TokenBucket


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def takes(bucket: TokenBucket, attempts: int) -> int:
    return sum(bucket.take() for _ in range(attempts))


def test_burst_is_allowed_at_once_then_refused() -> None:
    """A full bucket allows exactly `burst` actions at once."""
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=5, clock=clock)
    assert takes(bucket, 5) == 5
    assert bucket.take() is False


def test_tokens_refill_at_the_rate() -> None:
    """After emptying, one token comes back every 1/rate seconds."""
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=5, clock=clock)
    takes(bucket, 5)
    clock.advance(0.4)
    assert bucket.take() is False
    clock.advance(0.1)
    assert bucket.take() is True
    assert bucket.take() is False
    clock.advance(1.5)
    assert takes(bucket, 10) == 3


def test_refill_is_capped_at_the_burst() -> None:
    """A long idle time never stores more than `burst` tokens."""
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    clock.advance(3_600)
    assert takes(bucket, 100) == 3


def test_refused_attempts_do_not_cost_tokens() -> None:
    """Hammering an empty bucket does not push the next token further away."""
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take() is True
    for _ in range(3):
        clock.advance(0.25)
        assert bucket.take() is False
    clock.advance(0.25)
    assert bucket.take() is True


def test_retry_after_says_when_the_next_token_comes() -> None:
    """retry_after is the time to the next token, and zero while tokens remain."""
    clock = FakeClock()
    bucket = TokenBucket(rate=4, burst=2, clock=clock)
    assert bucket.retry_after() == 0.0
    takes(bucket, 2)
    assert bucket.retry_after() == pytest.approx(0.25)
    clock.advance(0.1)
    bucket.take()  # refused, but updates the fill level
    assert bucket.retry_after() == pytest.approx(0.15)


def test_zero_rate_never_refills() -> None:
    """With rate 0 only the burst is ever allowed and retry_after is infinite."""
    clock = FakeClock()
    bucket = TokenBucket(rate=0, burst=2, clock=clock)
    assert takes(bucket, 3) == 2
    clock.advance(1e6)
    assert bucket.take() is False
    assert bucket.retry_after() == float("inf")


def test_a_refusal_always_names_a_wait_above_zero() -> None:
    """A bucket a hair from its next token still tells the client to wait, rounded up."""
    from companion.realtime.server import _rate_limited

    for wait, expected in ((0.0, 0.01), (0.001, 0.01), (0.011, 0.02), (0.25, 0.25)):
        refusal = _rate_limited("new participants", wait)
        assert refusal.retry_after == expected
        assert refusal.message.endswith("try again in 1 s.")
    assert _rate_limited("messages", float("inf")).retry_after > 0
