"""One backoff for everything that reconnects: the client, the terminal client, the MQTT ingest
and the firmware all wait ``backoff_delay(attempt, rng)`` seconds, and no module keeps a copy."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.contracts.backoff import BACKOFF_BASE_S, BACKOFF_CAP_S, backoff_delay

ROOT = Path(__file__).resolve().parents[2]
RECONNECTING = (
    "client/dream_client.py",
    "server/devices/ingest.py",
    "firmware_sim/device.py",
)


@given(attempt=st.integers(min_value=0, max_value=10_000), seed=st.integers())
def test_a_delay_lies_between_half_its_ceiling_and_the_ceiling(attempt: int, seed: int) -> None:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0**attempt) if attempt < 64 else BACKOFF_CAP_S
    delay = backoff_delay(attempt, random.Random(seed))
    assert ceiling / 2 <= delay <= ceiling


def test_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    class Highest(random.Random):
        def random(self) -> float:
            return 1.0

    assert [backoff_delay(n, Highest()) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]


def test_every_reconnecting_loop_uses_the_one_helper_and_keeps_no_constants_of_its_own() -> None:
    for name in RECONNECTING:
        source = (ROOT / name).read_text()
        assert "backoff_delay(" in source, name
        assert "_BACKOFF" not in source, name
    sources = [p for p in ROOT.glob("*/**/*.py") if ".venv" not in p.parts]
    copies = [p for p in sources if "_BACKOFF_" in p.read_text() and p.name != "test_backoff.py"]
    assert copies == []
