"""The token bucket: a burst at once, then the rate, and never more than the burst saved up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.server.token_bucket import TokenBucket


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    for _ in range(3):
        bucket.allow(0.0)
    assert not bucket.allow(0.25)
    assert bucket.allow(0.5)
    assert not bucket.allow(0.5)
    assert bucket.wait_s() == pytest.approx(0.5)


def test_an_idle_bucket_saves_up_only_its_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=2)
    assert [bucket.allow(1000.0) for _ in range(3)] == [True, True, False]


def test_time_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.allow(10.0)
    assert not bucket.allow(5.0)
    assert not bucket.allow(10.5)
    assert bucket.allow(11.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_bucket_that_could_never_allow_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="bucket"):
        TokenBucket(rate=rate, burst=burst)


@given(
    rate=st.floats(0.1, 100.0),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=200),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(rate=rate, burst=burst)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        allowed += bucket.allow(now)
    assert allowed <= burst + rate * now + 1e-9
