"""How a motif looks at any moment between the deltas that describe it: decay and orbit.

A motif is sent only when its parameters change, so every renderer computes what it shows
from them, each frame: the weight decays from the view's reference time ``t`` with the
session's half-life, and the motif circles its centre. The engine computes the same
formulas; ``server/webclient/motion.js`` is their twin for the browser, and a test holds the
two to the same numbers. docs/protocol.md states them for other clients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dreamcommons.contracts.protocol import DreamscapeState, MotifView, SceneView

ORBIT_PERIOD_S = 90.0  # one turn of a motif around its centre
ORBIT_RADIUS = 0.04  # in the unit square


@dataclass(frozen=True, slots=True)
class MotifAt:
    """A motif where and how heavy it is at one moment."""

    name: str
    colour: str
    weight: float
    intensity: float
    valence: float
    arousal: float
    x: float
    y: float


def weight_at(weight: float, since: float, now: float, half_life_s: float | None) -> float:
    """``weight`` at session time ``since``, decayed to ``now`` (never grown back before it)."""
    if half_life_s is None or now <= since:
        return weight
    return weight * math.pow(2.0, -(now - since) / half_life_s)


def orbit_at(x: float, y: float, phase: float, now: float) -> tuple[float, float]:
    """Where a motif centred at (``x``, ``y``) with ``phase`` is at session time ``now``."""
    angle = 2.0 * math.pi * (now / ORBIT_PERIOD_S + phase)
    return (
        _unit(x + ORBIT_RADIUS * math.cos(angle)),
        _unit(y + ORBIT_RADIUS * math.sin(angle)),
    )


def motif_at(motif: MotifView, now: float, half_life_s: float | None) -> MotifAt:
    x, y = orbit_at(motif.x, motif.y, motif.phase, now)
    return MotifAt(
        name=motif.name,
        colour=motif.colour,
        weight=weight_at(motif.weight, motif.t, now, half_life_s),
        intensity=motif.intensity,
        valence=motif.valence,
        arousal=motif.arousal,
        x=x,
        y=y,
    )


def motifs_at(state: DreamscapeState, now: float) -> list[MotifAt]:
    """Every motif of ``state`` as it is at session time ``now``, in the state's order."""
    return [motif_at(motif, now, state.half_life_s) for motif in state.motifs]


def phase_remaining(scene: SceneView, now: float) -> float | None:
    """Seconds left in the scene's phase at session time ``now``; None when it has no end."""
    if scene.phase_ends is not None:
        return max(0.0, scene.phase_ends - now)
    return scene.phase_remaining_s


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))
