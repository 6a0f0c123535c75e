"""Each paired sleeper's estimate, kept on the device side: their devices' batches in, and out
an estimate worth telling their session, when it moved enough to matter (a new stage, a
stress step) or a second has passed. Pure bookkeeping: arrival times come in as arguments.

The session never sees a sample; it hears a ``SleeperUpdated`` event (``as_event``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.server.devices.biometrics import SleeperEstimate, SleeperEstimator
from dreamcommons.server.engine import SleeperUpdated

ESTIMATE_EVERY_S = 1.0  # a session hears a sleeper at most this often, unless the stage changes
STRESS_STEP = 0.05  # ... or their stress moved by this much


@dataclass(slots=True)
class _Sleeper:
    estimator: SleeperEstimator = field(default_factory=SleeperEstimator)
    told: SleeperEstimate | None = None  # the estimate their session heard last


class SleeperEstimates:
    """One estimator per owner (``"session/pid"``), fed by all of that owner's devices."""

    def __init__(self) -> None:
        self._sleepers: dict[str, _Sleeper] = {}

    def add(self, owner: str, batch: SampleBatch, arrived: float) -> SleeperEstimate | None:
        """Fold ``batch`` into the owner's estimate; the estimate if it is worth telling their
        session now (it is then remembered as told), else None."""
        sleeper = self._sleepers.get(owner)
        if sleeper is None:
            sleeper = self._sleepers[owner] = _Sleeper()
        estimate = sleeper.estimator.add(batch.samples, arrived)
        last = sleeper.told
        if (
            last is None
            or estimate.stage != last.stage
            or abs(estimate.stress - last.stress) >= STRESS_STEP
            or estimate.at - last.at >= ESTIMATE_EVERY_S
        ):
            sleeper.told = estimate
            return estimate
        return None

    def last(self, owner: str) -> SleeperEstimate | None:
        """The estimate the owner's session heard last, if any."""
        sleeper = self._sleepers.get(owner)
        return None if sleeper is None else sleeper.told


def as_event(participant: str, estimate: SleeperEstimate, t: float) -> SleeperUpdated:
    """The engine's event for an estimate; ``t`` is the session time it refers to."""
    return SleeperUpdated(
        participant=participant,
        stage=None if estimate.stage is None else int(estimate.stage),
        stress=estimate.stress,
        breath_phase=estimate.breath_phase,
        breath_hz=estimate.breath_hz,
        t=t,
    )
