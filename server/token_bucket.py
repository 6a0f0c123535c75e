"""A token bucket: at most ``burst`` actions at once, refilled at ``rate`` per second.

Pure: time comes in as an argument, so the same bucket is tested without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``allow(now)`` spends one token when there is one; tokens come back at ``rate``/s."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rate <= 0.0 or self.burst < 1.0:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1: {self.rate}, {self.burst}")
        self.tokens = self.burst

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens at ``now`` (seconds, any monotonic origin) if there are enough."""
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        if self.updated is None or now > self.updated:
            self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def full_at(self, now: float) -> bool:
        """Whether the bucket has refilled by ``now``: as good as a new one."""
        since = 0.0 if self.updated is None else max(0.0, now - self.updated)
        return self.tokens + since * self.rate >= self.burst

    def wait_s(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there again (0 when they already are)."""
        return max(0.0, (cost - self.tokens) / self.rate)
