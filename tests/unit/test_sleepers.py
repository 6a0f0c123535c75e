"""Sleeper estimates live on the device side: the session hears an estimate when it moved
enough to matter or a second has passed, and the hub reaches a session only through its
public methods."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.firmware_sim.physiology import Sleeper
from dreamcommons.server.devices.sleepers import (
    ESTIMATE_EVERY_S,
    STRESS_STEP,
    SleeperEstimates,
    as_event,
)
from tests.unit.test_biometrics import pod_reading

DEVICES = Path(__file__).parents[2] / "server" / "devices"


def batch_of(sleeper: Sleeper, seq: int, n: int = 5) -> SampleBatch:
    readings = tuple(pod_reading(sleeper.advance(0.2)) for _ in range(n))
    return SampleBatch(seq=seq, bd_seq=0, samples=readings)


def test_a_session_hears_a_sleeper_at_most_once_a_second_unless_they_change() -> None:
    sleeper = Sleeper(4)
    estimates = SleeperEstimates()
    first = estimates.add("commons/p1", batch_of(sleeper, 0), arrived=10.0)
    assert first is not None
    assert estimates.last("commons/p1") == first
    told = [first]
    for n in range(1, 40):  # five batches a second
        estimate = estimates.add("commons/p1", batch_of(sleeper, n, 1), arrived=10.0 + 0.2 * n)
        if estimate is not None:
            told.append(estimate)
    assert estimates.last("commons/p1") == told[-1]
    assert 8 <= len(told) <= 40
    for before, after in itertools.pairwise(told):
        changed = after.stage != before.stage or abs(after.stress - before.stress) >= STRESS_STEP
        assert changed or after.at - before.at >= ESTIMATE_EVERY_S
    assert estimates.last("commons/p2") is None


def test_an_estimate_becomes_the_engines_event_in_session_time() -> None:
    estimate = SleeperEstimates().add("commons/p1", batch_of(Sleeper(5), 0), arrived=50.0)
    assert estimate is not None
    event = as_event("p1", estimate, t=12.5)
    assert (event.participant, event.t, event.stress) == ("p1", 12.5, estimate.stress)
    assert event.stage == (None if estimate.stage is None else int(estimate.stage))


def test_the_device_side_uses_only_a_sessions_public_methods() -> None:
    """No ``session.journal``, no ``session._private``: the session's own methods only."""
    reached: list[str] = []
    for path in sorted(DEVICES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "session"
                and (node.attr.startswith("_") or node.attr in ("journal", "engine", "stats"))
            ):
                reached.append(f"{path.name}:{node.lineno} session.{node.attr}")
    assert reached == []
