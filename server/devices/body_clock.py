"""Venue rules on a faster body clock.

Simulated devices may run the body's rhythms (breathing, heart) ``time_scale`` times faster
than the wall clock, so that a demo or a test sees in seconds what takes minutes in a real
room. The venue rules that are measured in breaths then shrink with them: the coherence
window and the pacing hold. Everything else (phases, decay, equity) keeps the wall clock.
"""

from __future__ import annotations

from dreamcommons.contracts.venues import VenuePreset


def on_body_clock(venue: VenuePreset, time_scale: float) -> VenuePreset:
    """``venue`` with its breath-measured durations divided by ``time_scale``."""
    if not time_scale > 0.0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")
    if time_scale == 1.0:
        return venue
    coherence = venue.coherence.model_copy(
        update={"window_s": venue.coherence.window_s / time_scale}
    )
    harmonize = venue.harmonize.model_copy(update={"hold_s": venue.harmonize.hold_s / time_scale})
    return venue.model_copy(update={"coherence": coherence, "harmonize": harmonize})
