"""How long to wait before trying to reach a server again: jittered exponential backoff."""

from __future__ import annotations

import random

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 5.0


def backoff_delay(
    attempt: int,
    rng: random.Random,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): equal jitter below a doubling ceiling."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 32))
    return ceiling / 2.0 + rng.random() * ceiling / 2.0
