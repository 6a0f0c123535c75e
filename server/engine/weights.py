"""What a contribution weighs as it arrives: the contributor's stage or role, and the phase.

A sleeper's stage weighs only while they show it. Every weight the scene shows can be traced
to one contribution (a delta's ``applied`` says whose it was, the phase is public), so a
weight that followed a hidden stage would show that stage to anyone who divides by the
intensity. Nor can a hidden stage shape a room-level quantity instead (the mood, the equity
levels, the order in which motifs are forgotten): in a room of two, everything but the
sleeper is known to the other, and any quantity that moves with the stage shows it. So a
sleeper who keeps their stage to themselves weighs by their role, like a sleeper without
devices, and the stage they hide changes nothing anyone sees.

A sleeper who shows their stage shows it coarsely (awake, light, deep, rem), so they weigh by
the coarse stage: light sleep, N1 or N2, weighs the mean of the two, and their weight says
no more of their sleep than the label beside their name.
"""

from __future__ import annotations

from dreamcommons.contracts.protocol import Role, SleepStage
from dreamcommons.contracts.venues import PhaseDurations, RoleWeights, StageWeights


def contributor_weight(
    stages: StageWeights, roles: RoleWeights, role: Role, shown_stage: SleepStage | None
) -> float:
    """The weight of a contributor: their shown stage's, else their role's."""
    if shown_stage == "awake":
        return stages.wake
    if shown_stage == "light":
        return (stages.n1 + stages.n2) / 2.0
    if shown_stage == "deep":
        return stages.n3
    if shown_stage == "rem":
        return stages.rem
    weight: float = getattr(roles, role)
    return weight


def phase_weight(phases: PhaseDurations, phase: str) -> float:
    """The weight of the session's arc: lighter while gathering, descending and awakening."""
    return {
        "gathering": phases.gathering_weight,
        "descent": phases.descent_weight,
        "awakening": phases.awakening_weight,
    }.get(phase, 1.0)
