"""The device side's 1 Hz signals: a second's readings averaged, the breathing phase its last."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.device_protocol import BioSample, SampleBatch
from dreamcommons.server.devices.signals import SignalRecorder


def batch(*samples: BioSample) -> SampleBatch:
    return SampleBatch(seq=0, bd_seq=0, samples=samples)


def test_a_second_is_written_once_the_next_begins() -> None:
    recorder = SignalRecorder()
    first = batch(
        BioSample(t=100.0, hr=60.0, phase=1.0, eeg=(0.4, 0.3, 0.1, 0.2), move=0.1),
        BioSample(t=100.4, hr=62.0, phase=2.0, eeg=(0.6, 0.2, 0.1, 0.1), move=0.3),
    )
    # arrived at session time 5.5 (the last sample's), wall-clock 1000.5
    assert recorder.add("s/p1", first, 5.5, 1000.5) == []
    (second,) = recorder.add("s/p1", batch(BioSample(t=101.2, hr=70.0, temp=33.0)), 6.3, 1001.3)
    assert second.t == 5.0
    assert second.wall == pytest.approx(1000.0)
    assert second.readings["hr"] == pytest.approx(61.0)
    assert second.readings["phase"] == 2.0  # the last, not a mean of angles
    assert second.readings["eeg_delta"] == pytest.approx(50.0)  # percent
    assert second.readings["move"] == pytest.approx(20.0)
    assert "temp" not in second.readings


def test_owners_are_kept_apart_and_late_or_empty_seconds_are_dropped() -> None:
    recorder = SignalRecorder()
    recorder.add("s/p1", batch(BioSample(t=0.0, hr=60.0)), 3.2, 50.2)
    recorder.add("s/p2", batch(BioSample(t=9.0, hr=90.0)), 3.4, 50.4)
    late = batch(BioSample(t=0.0, hr=30.0), BioSample(t=2.0, hr=61.0))  # the first: at 2.5
    (third,) = recorder.add("s/p1", late, 4.5, 51.5)
    assert third.t == 3.0
    assert third.readings == {"hr": 60.0}  # the late sample was for a second already written
    assert [s.t for s in recorder.add("s/p1", batch(BioSample(t=5.0)), 7.0, 54.0)] == [4.0]
    assert recorder.add("s/p1", batch(BioSample(t=6.0, hr=60.0)), 8.0, 55.0) == []  # 7: empty
    (p2,) = recorder.add("s/p2", batch(BioSample(t=10.0, hr=91.0)), 4.4, 51.4)
    assert p2.readings == {"hr": 90.0}
    recorder.forget("s/p2")
    assert recorder.add("s/p2", batch(BioSample(t=11.0, hr=92.0)), 5.4, 52.4) == []
