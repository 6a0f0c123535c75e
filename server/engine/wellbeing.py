"""The well-being guard: a stressed sleeper's dark, high-arousal input is damped, and when the
room as a whole is stressed the scene calms. Stress is each sleeper's own, measured against
their own baseline by the server's estimator; the thresholds are the venue's."""

from __future__ import annotations

from collections.abc import Iterable


def input_damping(
    stress: float, valence: float, arousal: float, *, threshold: float, dark_arousal: float
) -> float:
    """The factor (0..1] on a contribution's weight; 1 unless it is dark, aroused and the
    sleeper is stressed, then falling linearly to 0.2 as stress goes from threshold to 1."""
    if stress <= threshold or valence >= 0.0 or arousal < dark_arousal:
        return 1.0
    over = (stress - threshold) / max(1e-9, 1.0 - threshold)
    return max(0.2, 1.0 - 0.8 * over)


def room_calm(stresses: Iterable[float], *, threshold: float) -> float:
    """How much the whole scene calms (0 none .. 1 fully), from the sleepers' mean stress."""
    values = list(stresses)
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    if mean <= threshold:
        return 0.0
    return min(1.0, (mean - threshold) / max(1e-9, 1.0 - threshold))
