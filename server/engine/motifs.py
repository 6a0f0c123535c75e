"""The motif store: every participant's weight on every motif, decaying, and what to show of it.

Decay is lazy. Every weight decays at the same rate, so the store keeps weights in units that
do not decay (``true weight * 2 ** ((t - t_ref) / half_life)``) and converts only what it
shows. Per motif it keeps the aggregate, the aggregate as the contributors' share levels show
it, and each contributor's part: a share level scales what the scene shows of someone from
then on, and in most venues most of a room shares less than all (the default share level),
so the scene is read from the shared aggregate, and each tick corrects it for only the few the
equity cap holds back.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

from dreamcommons.contracts.venues import VenuePreset

_REBASE_EXPONENT = 256.0  # rebase stored weights long before 2 ** exponent overflows a float

# A contributor's part of a motif: weight, and weight times intensity, valence and arousal.
Part = list[float]


@dataclass(slots=True)
class _Motif:
    colour: str
    home: tuple[float, float]
    total: Part = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    shared: Part = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # parts times levels
    parts: dict[str, Part] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShownMotif:
    """A motif as the scene shows it, in true (decayed) units."""

    name: str
    colour: str
    home: tuple[float, float]
    weight: float
    intensity: float
    valence: float
    arousal: float


class MotifStore:
    def __init__(self, venue: VenuePreset, start: float) -> None:
        self.venue = venue
        self._t_ref = start
        self._motifs: dict[str, _Motif] = {}
        self.totals: dict[str, float] = {}  # stored units per participant
        self.changed: set[str] = set()  # whose total changed since the engine last looked
        self.levels: dict[str, float] = {}  # share levels other than 1 (all shown)

    def growth(self, now: float) -> float:
        """Stored units per true unit at ``now``."""
        return math.pow(2.0, (now - self._t_ref) / self.venue.half_life_s)

    def rebase_if_needed(self, now: float) -> None:
        if (now - self._t_ref) / self.venue.half_life_s <= _REBASE_EXPONENT:
            return
        factor = 1.0 / self.growth(now)
        for motif in self._motifs.values():
            motif.total = [x * factor for x in motif.total]
            motif.shared = [x * factor for x in motif.shared]
            for part in motif.parts.values():
                part[:] = [x * factor for x in part]
        self.totals = {pid: total * factor for pid, total in self.totals.items()}
        self.changed.update(self.totals)
        self._t_ref = now

    def set_level(self, pid: str, level: float) -> None:
        """Show ``level`` of what ``pid`` gave, and of what they give from now on."""
        was = self.levels.get(pid, 1.0)
        if level == 1.0:
            self.levels.pop(pid, None)
        else:
            self.levels[pid] = level
        step = level - was
        if step == 0.0:
            return
        for motif in self._motifs.values():
            part = motif.parts.get(pid)
            if part is not None:
                shared = motif.shared
                for i in range(4):
                    shared[i] += step * part[i]

    def add(
        self,
        pid: str,
        name: str,
        weight: float,
        intensity: float,
        valence: float,
        arousal: float,
        growth: float,
    ) -> None:
        """Add a contribution of ``weight`` at the moment whose ``growth(now)`` is ``growth``
        (one figure for a whole tick's contributions)."""
        stored = weight * growth
        motif = self._motifs.get(name)
        if motif is None:
            motif = self._motifs[name] = self._new_motif(name)
        lit, toned, stirred = stored * intensity, stored * valence, stored * arousal
        part = motif.parts.get(pid)
        if part is None:
            part = motif.parts[pid] = [0.0, 0.0, 0.0, 0.0]
        total, shared = motif.total, motif.shared  # the parts' sums: as given, as shown
        part[0] += stored
        part[1] += lit
        part[2] += toned
        part[3] += stirred
        total[0] += stored
        total[1] += lit
        total[2] += toned
        total[3] += stirred
        level = self.levels.get(pid, 1.0)  # at 1, the very sums of total (1.0 * x is x)
        shared[0] += level * stored
        shared[1] += level * lit
        shared[2] += level * toned
        shared[3] += level * stirred
        self.totals[pid] = self.totals.get(pid, 0.0) + stored
        self.changed.add(pid)

    def _new_motif(self, name: str) -> _Motif:
        preset = self.venue.motif(name)
        digest = zlib.crc32(name.encode())
        if preset is not None:
            colour = preset.colour
        else:
            colour = self.venue.palette[digest % len(self.venue.palette)]
        home = (0.1 + 0.8 * ((digest & 0xFFFF) / 0xFFFF), 0.1 + 0.8 * ((digest >> 16) / 0xFFFF))
        return _Motif(colour=colour, home=home)

    def fade(self, now: float) -> None:
        """Forget motifs lighter than the venue's floor, keep at most ``max_motifs``."""
        floor = self.venue.min_weight * self.growth(now)
        keep = sorted(
            (name for name, motif in self._motifs.items() if motif.total[0] >= floor),
            key=lambda name: (-self._motifs[name].total[0], name),
        )[: self.venue.max_motifs]
        residue = 1e-9 * self.growth(now)  # what float subtraction leaves of a total that is gone
        for name in set(self._motifs) - set(keep):
            for pid, part in self._motifs.pop(name).parts.items():
                self.changed.add(pid)
                left = self.totals.get(pid, 0.0) - part[0]
                if left <= residue:
                    self.totals.pop(pid, None)
                else:
                    self.totals[pid] = left

    def shown(self, now: float, equity: dict[str, float]) -> dict[str, ShownMotif]:
        """What the scene shows: each participant's parts at their share level, times their
        scale in ``equity`` (the cap's; absent = 1)."""
        growth = self.growth(now)
        floor = self.venue.min_weight
        levels = self.levels
        result: dict[str, ShownMotif] = {}
        for name in sorted(self._motifs):
            motif = self._motifs[name]
            vector = list(motif.shared)
            for pid, scale in equity.items():
                part = motif.parts.get(pid)
                if part is not None:
                    cut = (1.0 - scale) * levels.get(pid, 1.0)
                    for i in range(4):
                        vector[i] -= cut * part[i]
            weight = vector[0] / growth
            if weight < floor:
                continue
            result[name] = ShownMotif(
                name=name,
                colour=motif.colour,
                home=motif.home,
                weight=weight,
                intensity=_clamp(vector[1] / vector[0], 0.0, 1.0),
                valence=_clamp(vector[2] / vector[0], -1.0, 1.0),
                arousal=_clamp(vector[3] / vector[0], 0.0, 1.0),
            )
        return result

    def pull(
        self, name: str, equity: dict[str, float], group_of: dict[str, int], groups: int
    ) -> list[float]:
        """The shown weight each group of contributors gives one motif (stored units)."""
        pull = [0.0] * groups
        motif = self._motifs.get(name)
        if motif is None:
            return pull
        level_of, scale_of, find = self.levels.get, equity.get, group_of.get
        for pid, part in motif.parts.items():
            group = find(pid)
            if group is not None:
                pull[group] += part[0] * (level_of(pid, 1.0) * scale_of(pid, 1.0))
        return pull


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
