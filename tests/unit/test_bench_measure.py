"""The bench's arithmetic: percentiles and Prometheus-style histogram quantiles."""

from __future__ import annotations

import pytest

from bench.measure import Scrape, histogram_quantile, percentile


def histogram(counts: dict[float, float]) -> Scrape:
    """A scrape holding one cumulative histogram named ``h``."""
    return Scrape({("h_bucket", (("le", str(bound)),)): n for bound, n in counts.items()})


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) is None


def test_histogram_quantile_counts_only_what_happened_between_the_scrapes() -> None:
    before = histogram({0.01: 100, 0.1: 100, float("inf"): 100})
    after = histogram({0.01: 100, 0.1: 200, float("inf"): 200})
    # all 100 new observations fell in (0.01, 0.1]: the median is halfway through that bucket
    assert histogram_quantile(0.5, before, after, "h") == pytest.approx(0.055)
    assert histogram_quantile(0.99, before, before, "h") is None


def test_histogram_quantile_beyond_the_last_finite_bucket_is_its_bound() -> None:
    before = histogram({0.1: 0, float("inf"): 0})
    after = histogram({0.1: 1, float("inf"): 10})
    assert histogram_quantile(0.99, before, after, "h") == 0.1
