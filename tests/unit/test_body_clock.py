"""Venue rules on a faster body clock: what is measured in breaths shrinks, nothing else."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.devices.body_clock import on_body_clock


def test_breath_measured_rules_shrink_with_the_body_clock() -> None:
    venue = load_venue("sleep-commons")
    fast = on_body_clock(venue, 3.0)
    assert fast.coherence.window_s == pytest.approx(venue.coherence.window_s / 3.0)
    assert fast.harmonize.hold_s == pytest.approx(venue.harmonize.hold_s / 3.0)
    assert fast.harmonize.pace_hz == venue.harmonize.pace_hz  # a body frequency: unchanged
    assert fast.phases == venue.phases
    assert fast.half_life_s == venue.half_life_s
    assert on_body_clock(venue, 1.0) is venue
    with pytest.raises(ValueError, match="positive"):
        on_body_clock(venue, 0.0)
