"""Coherence: how synchronized the sleepers breathe, and the regions a fractured scene splits into.

The group measure is the Kuramoto order parameter R = |mean(exp(i*phi_k))| of the sleepers'
breathing phases (1: all breathe in together; near 0: no common rhythm), averaged over a
sliding window, as streaming heart-coherence practice does. Phases arrive about once a second
per sleeper and are carried forward to the tick by each sleeper's own breathing rate.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TAU = 2.0 * math.pi


@dataclass(frozen=True, slots=True)
class Rhythm:
    """A breathing phase (radians) observed at session time ``t``, advancing at ``hz``."""

    phase: float
    hz: float
    t: float

    def phase_at(self, t: float) -> float:
        return (self.phase + TAU * self.hz * (t - self.t)) % TAU


def order_parameter(phases: Sequence[float]) -> float:
    """Kuramoto R of ``phases``; 0 for none."""
    if not phases:
        return 0.0
    x = sum(math.cos(p) for p in phases)
    y = sum(math.sin(p) for p in phases)
    return math.hypot(x, y) / len(phases)


class CoherenceWindow:
    """The mean of R over the last ``span`` seconds of ticks."""

    def __init__(self, span: float) -> None:
        self.span = span
        self._samples: deque[tuple[float, float]] = deque()
        self._sum = 0.0

    def add(self, t: float, r: float) -> float:
        self._samples.append((t, r))
        self._sum += r
        while self._samples and self._samples[0][0] < t - self.span:
            self._sum -= self._samples.popleft()[1]
        return self.value()

    def value(self) -> float:
        return self._sum / len(self._samples) if self._samples else 1.0

    def clear(self) -> None:
        self._samples.clear()
        self._sum = 0.0


def phase_groups(phases: Mapping[str, float], max_groups: int) -> list[list[str]]:
    """Split sleepers into groups of similar phase: cut the circle at its widest gaps.

    At least two groups (a fractured scene is split), at most ``max_groups``; a gap counts
    when it is wider than an even spread would leave. Groups are ordered by their first
    member's id, members by id, so the result depends only on the phases.
    """
    if len(phases) < 2:
        return [sorted(phases)]
    ring = sorted(phases.items(), key=lambda item: (item[1], item[0]))
    gaps = []
    for i, (_, phase) in enumerate(ring):
        following = ring[(i + 1) % len(ring)][1] + (TAU if i == len(ring) - 1 else 0.0)
        gaps.append((following - phase, i))
    even = TAU / len(ring)
    wide = sorted(gaps, key=lambda gap: (-gap[0], gap[1]))
    cuts = [i for width, i in wide if width > even][:max_groups]
    if len(cuts) < 2:
        cuts = [i for _, i in wide[:2]]
    cuts.sort()
    groups = []
    for start, end in zip(cuts, [*cuts[1:], cuts[0] + len(ring)], strict=True):
        members = [ring[j % len(ring)][0] for j in range(start + 1, end + 1)]
        groups.append(sorted(members))
    return sorted((g for g in groups if g), key=lambda g: g[0])
