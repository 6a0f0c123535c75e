"""Seeded hypnograms: one sleep stage per 30-s epoch for one healthy adult night.

A night is built from stage budgets rather than from a Markov chain, so that every seed lands
inside the published ranges: the shares of total sleep time (TST) are drawn first, then laid
out over 90-120-minute cycles, with slow-wave sleep front-loaded, REM episodes lengthening
towards morning and brief awakenings, mostly in the second half.

Sources:

- Ohayon MM, Carskadon MA, Guilleminault C, Vitiello MV (2004). Meta-analysis of quantitative
  sleep parameters from childhood to old age in healthy individuals. Sleep 27(7):1255-1273.
  Stage shares of TST (N1 2-5 %, N2 45-55 %, N3 10-20 %, REM 20-25 %), sleep-onset latency,
  WASO, sleep efficiency.
- Carskadon MA, Dement WC (2017). Normal human sleep: an overview. In Kryger, Roth, Dement (eds),
  Principles and Practice of Sleep Medicine, 6th ed. Cycles of 90-120 min, N3 in the first third
  of the night, 4-5 REM episodes lengthening towards morning.
- Berry RB et al. (2020). The AASM Manual for the Scoring of Sleep and Associated Events, v2.6.
  30-s epochs; stage codes 0 W, 1 N1, 2 N2, 3 N3, 4 REM as in common tools.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from enum import IntEnum
from typing import Final

__all__ = ["EPOCH_S", "MAX_NIGHT_MINUTES", "MIN_NIGHT_MINUTES", "Stage", "hypnogram"]

EPOCH_S: Final = 30.0
MIN_NIGHT_MINUTES: Final = 60.0
MAX_NIGHT_MINUTES: Final = 720.0


class Stage(IntEnum):
    """Sleep stage of one 30-s epoch, coded as in common hypnogram tools."""

    WAKE = 0
    N1 = 1
    N2 = 2
    N3 = 3
    REM = 4


_REFERENCE_NIGHT_MIN: Final = 480.0
# Shares of TST. They sit in the upper halves of the literature ranges because the four ranges
# only add up to 100 % near their upper ends; N2 takes the remainder (51-55 %).
_N1_SHARE: Final = (0.038, 0.048)
_N3_SHARE: Final = (0.178, 0.195)
_REM_SHARE: Final = (0.236, 0.248)
# Minutes on a 480-min night, scaled for other lengths: SOL + WASO + final wake ~34 min gives
# TST ~446 min and sleep efficiency ~93 %.
_SOL_MIN: Final = (12.0, 24.0)
_WASO_MIN: Final = (8.0, 14.0)
_FINAL_WAKE_MIN: Final = (0.0, 4.0)
_ONSET_N1_MIN: Final = (2.0, 4.0)
_AWAKENINGS: Final = (4, 7)
_CYCLE_MIN: Final = (91.0, 113.0)
# Share of N3 per cycle; later cycles get none.
_N3_BY_CYCLE: Final = (1.0, 0.35, 0.08, 0.02)
# REM episode i has weight 1 + 0.6 i: on five cycles ~10 min first, ~35 min last.
_REM_GROWTH: Final = 0.6
# A brief lightening to N2 about every 20 min of N3.
_N3_RUN_EPOCHS: Final = 40


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    norm = sum(weights)
    exact = [total * w / norm for w in weights]
    out = [int(x) for x in exact]
    by_remainder = sorted(range(len(out)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    return out


def _epochs(minutes: float) -> int:
    return round(minutes * 60.0 / EPOCH_S)


def _cycle(rng: random.Random, n2: int, n3: int, rem: int) -> list[Stage]:
    """One NREM-REM cycle: N2, slow-wave sleep broken by brief N2, the rest of N2, then REM."""
    if n3 == 0:
        return [Stage.N2] * n2 + [Stage.REM] * rem
    lead = round(n2 * rng.uniform(0.25, 0.45))
    tail = n2 - lead
    runs = _apportion(n3, [rng.uniform(0.7, 1.3) for _ in range(max(1, n3 // _N3_RUN_EPOCHS))])
    out = [Stage.N2] * lead
    for i, run in enumerate(runs):
        out += [Stage.N3] * run
        if i < len(runs) - 1 and tail > 0:
            gap = min(tail, rng.randint(1, 3))
            out += [Stage.N2] * gap
            tail -= gap
    return out + [Stage.N2] * tail + [Stage.REM] * rem


def _n2_position(rng: random.Random, cycle: list[Stage]) -> int:
    """A random index just before an N2 epoch of ``cycle`` (its end if it has none)."""
    spots = [i for i, stage in enumerate(cycle) if stage is Stage.N2]
    return rng.choice(spots) if spots else len(cycle)


def hypnogram(seed: int, night_minutes: float = 480.0) -> list[Stage]:
    """The stage of every 30-s epoch of a seeded night of ``night_minutes`` in bed.

    Same seed and length, same list. Nights other than 480 min keep the stage shares; their
    wake periods scale with the length. Raises ``ValueError`` outside 60-720 min.
    """
    if not MIN_NIGHT_MINUTES <= night_minutes <= MAX_NIGHT_MINUTES:
        raise ValueError(
            f"night_minutes must be in [{MIN_NIGHT_MINUTES}, {MAX_NIGHT_MINUTES}], "
            f"got {night_minutes}"
        )
    rng = random.Random(f"dreamcommons.hypnogram:{seed}")
    scale = night_minutes / _REFERENCE_NIGHT_MIN
    total = _epochs(night_minutes)
    sol = max(1, _epochs(rng.uniform(*_SOL_MIN) * scale))
    waso = max(1, _epochs(rng.uniform(*_WASO_MIN) * scale))
    final_wake = _epochs(rng.uniform(*_FINAL_WAKE_MIN) * scale)
    asleep = total - sol - waso - final_wake
    n1 = round(asleep * rng.uniform(*_N1_SHARE))
    n3 = round(asleep * rng.uniform(*_N3_SHARE))
    rem = round(asleep * rng.uniform(*_REM_SHARE))
    n2 = asleep - n1 - n3 - rem

    onset_n1 = min(n1, max(1, _epochs(rng.uniform(*_ONSET_N1_MIN) * scale)))
    period = total - sol - onset_n1 - final_wake
    n_cycles = max(1, round(period * EPOCH_S / 60.0 / rng.uniform(*_CYCLE_MIN)))
    targets = _apportion(period, [rng.uniform(0.9, 1.1) for _ in range(n_cycles)])
    n3_by_cycle = _apportion(
        n3, [_N3_BY_CYCLE[i] if i < len(_N3_BY_CYCLE) else 0.0 for i in range(n_cycles)]
    )
    rem_by_cycle = _apportion(rem, [1.0 + _REM_GROWTH * i for i in range(n_cycles)])
    # Awakenings and their N1 are inserted afterwards: leave each cycle an even share of room.
    room = (n1 - onset_n1 + waso) / n_cycles
    n2_by_cycle = _apportion(
        n2,
        [
            max(1.0, target - a - b - room)
            for target, a, b in zip(targets, n3_by_cycle, rem_by_cycle, strict=True)
        ],
    )
    cycles = [_cycle(rng, n2_by_cycle[i], n3_by_cycle[i], rem_by_cycle[i]) for i in range(n_cycles)]

    n1_left = n1 - onset_n1
    n_awakenings = min(waso, max(1, round(rng.randint(*_AWAKENINGS) * scale)))
    lengths = [1 + extra for extra in _apportion(waso - n_awakenings, [1.0] * n_awakenings)]
    rng.shuffle(lengths)
    for length in lengths:
        # Awakenings grow more frequent towards morning.
        i = rng.choices(range(n_cycles), weights=[1.0 + k for k in range(n_cycles)])[0]
        cycle = cycles[i]
        after_rem = i < n_cycles - 1 and rng.random() < 0.5
        where = len(cycle) if after_rem else _n2_position(rng, cycle)
        settle = [Stage.N1] if n1_left > 0 else []
        n1_left -= len(settle)
        cycle[where:where] = [Stage.WAKE] * length + settle
    for cycle in cycles[1:]:
        take = min(n1_left, rng.randint(1, 2))
        cycle[0:0] = [Stage.N1] * take
        n1_left -= take
    for _ in range(n1_left):
        cycle = rng.choice(cycles)
        where = _n2_position(rng, cycle)
        cycle[where:where] = [Stage.N1]

    night = [Stage.WAKE] * sol + [Stage.N1] * onset_n1
    for cycle in cycles:
        night += cycle
    return night + [Stage.WAKE] * final_wake
