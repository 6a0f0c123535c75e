"""The equity cap: how much of each participant's weight the scene may show.

Water-filling: find the level L such that every participant shows ``min(total, L)`` and no one
shows more than ``cap`` of the sum. When even equal shares exceed the cap (fewer than 1/cap
active participants), everyone is levelled to the smallest total: equal shares, as fair as the
room allows. So the invariant is: share <= max(cap, 1 / active participants).
"""

from __future__ import annotations

from collections.abc import Mapping


def equity_scales(totals: Mapping[str, float], cap: float) -> dict[str, float]:
    """Scale factors (< 1) for the participants the cap holds back; the others are absent."""
    if _nobody_over(totals, cap):
        return {}
    active = sorted(
        ((total, pid) for pid, total in totals.items() if total > 0.0),
        key=lambda item: (-item[0], item[1]),
    )
    if len(active) < 2:
        return {}
    whole = sum(total for total, _ in active)
    if active[0][0] <= cap * whole:
        return {}
    rest = whole
    level = active[-1][0]
    for capped in range(1, len(active)):
        rest -= active[capped - 1][0]
        if capped * cap >= 1.0 or rest <= 0.0:
            break
        candidate = cap * rest / (1.0 - capped * cap)
        if active[capped][0] <= candidate:
            level = candidate
            break
    return {pid: level / total for total, pid in active if total > level}


def _nobody_over(totals: Mapping[str, float], cap: float) -> bool:
    """Whether the cap holds no one back, found without sorting: the usual case in a large
    room, where a tick would otherwise sort everyone. The margin leaves the cases that float
    rounding could tip either way to the sorted pass, whose sum is added in its own order."""
    heaviest = whole = 0.0
    count = 0
    for total in totals.values():
        if total > 0.0:
            count += 1
            whole += total
            if total > heaviest:
                heaviest = total
    return count < 2 or heaviest <= cap * whole * (1.0 - 1e-9)


def shares(totals: Mapping[str, float], scales: Mapping[str, float]) -> dict[str, float]:
    """Each participant's share of the shown scene, given the scales from ``equity_scales``."""
    shown = {pid: total * scales.get(pid, 1.0) for pid, total in totals.items() if total > 0.0}
    whole = sum(shown.values())
    if whole <= 0.0:
        return {}
    return {pid: value / whole for pid, value in shown.items()}
