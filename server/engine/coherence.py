"""Coherence: how synchronized the sleepers breathe, and the regions a fractured scene splits into.

The group measure is the Kuramoto order parameter R = |mean(exp(i*phi_k))| of the sleepers'
breathing phases (1: all breathe in together; near 0: no common rhythm), averaged over a
sliding window, as streaming heart-coherence practice does. Phases arrive about once a second
per sleeper and are carried forward to the tick by each sleeper's own breathing rate.

R is not 0 for sleepers who breathe independently: E[R²] = 1/N for N independent phases, so
its root mean square by chance is 1/sqrt(N) (``chance_rms``), and its mean a little less
(about 0.886/sqrt(N) for large N). Coherence is judged against a surrogate baseline: at every
tick, the same sleepers' phases each shifted by an independent random offset from the
engine's own seeded generator (``PhaseShifts``), averaged over the same window as R.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TAU = 2.0 * math.pi
_MASK64 = (1 << 64) - 1
_SURROGATE_PHASES = 64  # at least this many shifted phases per tick: small rooms draw more
_OFFSET_BITS = 12  # an offset is one of 4,096 turns of the circle, 5 to a 64-bit draw
_OFFSETS_PER_DRAW = 64 // _OFFSET_BITS
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1
# Rotating a unit vector by a table's (cos, sin) costs a few multiplications, where a cos and
# a sin per sleeper and tick would cost five times the coherence itself in a room of 1,000.
_ROTATIONS = tuple(
    (math.cos(TAU * k / (1 << _OFFSET_BITS)), math.sin(TAU * k / (1 << _OFFSET_BITS)))
    for k in range(1 << _OFFSET_BITS)
)


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
    return order_of(unit_vectors(phases))


def unit_vectors(phases: Sequence[float]) -> list[tuple[float, float]]:
    """(cos, sin) of each phase: computed once a tick for R and its surrogate alike."""
    return [(math.cos(p), math.sin(p)) for p in phases]


def order_of(units: Sequence[tuple[float, float]]) -> float:
    """Kuramoto R of phases given as unit vectors; 0 for none."""
    if not units:
        return 0.0
    x = sum(c for c, _ in units)
    y = sum(s for _, s in units)
    return math.hypot(x, y) / len(units)


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
    # (phase, id) and (-width, index) tuples sort as they compare: no key function per item
    ring = sorted((phase, pid) for pid, phase in phases.items())
    last = len(ring) - 1
    gaps = [
        (phase - (ring[i + 1][0] if i < last else ring[0][0] + TAU), i)
        for i, (phase, _) in enumerate(ring)
    ]  # each gap to the next phase round the circle, negated: the widest first
    even = TAU / len(ring)
    wide = sorted(gaps)
    cuts = [i for narrowness, i in wide if -narrowness > even][:max_groups]
    if len(cuts) < 2:
        cuts = [i for _, i in wide[:2]]
    cuts.sort()
    groups = []
    for start, end in zip(cuts, [*cuts[1:], cuts[0] + len(ring)], strict=True):
        members = [ring[j % len(ring)][1] for j in range(start + 1, end + 1)]
        groups.append(sorted(members))
    return sorted((g for g in groups if g), key=lambda g: g[0])


def chance_rms(sleepers: int) -> float:
    """R's analytic chance level for ``sleepers`` independent phases: sqrt(E[R²]) = 1/sqrt(N)."""
    return 1.0 / math.sqrt(sleepers) if sleepers > 0 else 1.0


@dataclass(slots=True)
class PhaseShifts:
    """The engine's own seeded generator (splitmix64, stdlib only), for surrogate phases: the
    same seed gives the same offsets, so replays and restored snapshots give the same baseline.
    ``state`` is one integer below 2**64, kept in snapshots."""

    state: int

    @classmethod
    def for_session(cls, session: str) -> PhaseShifts:
        digest = hashlib.blake2b(session.encode("utf-8"), digest_size=8).digest()
        return cls(int.from_bytes(digest, "big"))

    def draw(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def offsets(self, count: int) -> list[int]:
        """``count`` independent offsets, each a whole number of 1/4,096 turns."""
        out: list[int] = []
        while len(out) < count:
            word = self.draw()
            for _ in range(_OFFSETS_PER_DRAW):
                out.append(word & _OFFSET_MASK)
                word >>= _OFFSET_BITS
        del out[count:]
        return out


def surrogate_order(units: Sequence[tuple[float, float]], shifts: PhaseShifts) -> float:
    """R of the phases (as ``unit_vectors``) each shifted by an independent random offset:
    what the same sleepers show with no alignment between them. Averaged over draws until at
    least ``_SURROGATE_PHASES`` phases were shifted, so a small room's baseline is not one
    noisy draw and a large room's costs one pass."""
    n = len(units)
    if n == 0:
        return 0.0
    draws = max(1, -(-_SURROGATE_PHASES // n))
    total = 0.0
    for _ in range(draws):
        x = y = 0.0
        for (c, s), k in zip(units, shifts.offsets(n), strict=True):
            rc, rs = _ROTATIONS[k]
            x += c * rc - s * rs
            y += s * rc + c * rs
        total += math.hypot(x, y) / n
    return total / draws
