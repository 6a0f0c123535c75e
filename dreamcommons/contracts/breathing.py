"""Where a sleeper is in their breath at any moment between the views that describe it.

A participant view carries a consenting sleeper's breathing as parameters (``BreathView``:
a phase at a session time and a rate), sent again only when what clients extrapolate from
them strays from the sleeper's rhythm, so every renderer computes the phase it draws, each
frame. ``server/webclient/motion.js`` is the twin of these formulas for the browser, and a
test holds the two to the same numbers. docs/protocol.md states them for other clients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from dreamcommons.contracts.protocol import BreathView, DreamscapeState

TAU = 2.0 * math.pi


def breath_phase_at(breath: BreathView, now: float) -> float:
    """The phase (radians, 0 to 2π) of ``breath`` at session time ``now``."""
    return (breath.phase + TAU * breath.hz * (now - breath.t)) % TAU


def breath_phases_at(state: DreamscapeState, now: float) -> dict[str, float]:
    """Each listed sleeper's breathing phase at ``now``, by id, for those whose view has one."""
    return {p.id: breath_phase_at(p.breath, now) for p in state.participants if p.breath}


def mean_vector(phases: Iterable[float]) -> tuple[float, float]:
    """The mean of the phases' unit vectors (x, y): its length is the Kuramoto order
    parameter, 1 when all breathe in step, near 0 with no common rhythm; (0, 0) for none."""
    x = y = 0.0
    count = 0
    for phase in phases:
        x += math.cos(phase)
        y += math.sin(phase)
        count += 1
    if count == 0:
        return (0.0, 0.0)
    return (x / count, y / count)
