"""A sleeper's night exported as EDF+C and as a YASA hypnogram, from a journal made here, read
back with edfio and with MNE; erasing a sleeper removes their signals."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import HostCommanded, ParticipantJoined, SleeperUpdated
from dreamcommons.server.journal import Journal, Tick, erase_participant, export_nights, token_hash
from dreamcommons.server.journal.night import SLEEP_EDF_LABELS, YASA_UNSCORED
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.signals import SignalSecond, read_signals

VENUE = load_venue("sleep-commons")
SESSION = "commons"
NIGHT_S = 300  # ten epochs
WALL_START = datetime.datetime(2026, 12, 1, 22, 30, 0, tzinfo=datetime.UTC).timestamp()
GAP = range(200, 230)  # Lyra's pod is silent here


def stage_at(pid: str, t: int) -> int | None:
    """Lyra: W, N1, N2, N2, N3, N3, REM...; Zara: N2 except an epoch of no stage."""
    epoch = t // 30
    if pid == "p1":
        return (0, 1, 2, 2, 3, 3, 4, 4, 2, 0)[epoch]
    return None if epoch == 3 else 2


def pod(t: int) -> dict[str, float]:
    return {
        "hr": 58.0 + t % 3,
        "hrv": 45.0,
        "resp": 14.0,
        "phase": (t * 1.5) % (2 * math.pi),
        "eeg_delta": 40.0,
        "eeg_theta": 30.0,
        "eeg_alpha": 10.0,
        "eeg_beta": 20.0,
        "move": 2.0,
    }


def fabric(t: int) -> dict[str, float]:
    return {"resp": 15.0, "phase": (t * 1.4) % (2 * math.pi), "move": 1.0, "temp": 33.5}


@dataclass(frozen=True)
class Night:
    journal: Path
    stages: dict[str, dict[int, int]]  # pid -> epoch -> stage, as journaled


async def record(path: Path) -> Night:
    """Three sleepers for five minutes: out of step (the scene fractures), harmonized at 100 s,
    in step from 120 s (it heals). Lyra wears a pod, Zara fabric; Kai has stages only."""
    stages: dict[str, dict[int, int]] = {"p1": {}, "p2": {}, "p3": {}}
    async with Journal(path) as journal:
        journal.record_session(SESSION, VENUE)
        for pid, name in (("p1", "Lyra"), ("p2", "Zara"), ("p3", "Kai")):
            journal.record_member(SESSION, pid, name, "dreamer", token_hash(f"token-{pid}"))
            journal.append(SESSION, ParticipantJoined(participant=pid, name=name, role="dreamer"))
        for t in range(NIGHT_S):
            for i, pid in enumerate(("p1", "p2", "p3")):
                stage = 2 if pid == "p3" else stage_at(pid, t)
                phase = 0.0 if t >= 120 else 2 * math.pi * i / 3
                journal.append(SESSION, SleeperUpdated(pid, stage, 0.0, phase, 0.25, float(t)))
                if stage is not None:
                    stages[pid][t // 30] = stage
            if t not in GAP:
                journal.record_signals(
                    SESSION, "p1", SignalSecond(float(t), WALL_START + t, pod(t))
                )
            journal.record_signals(SESSION, "p2", SignalSecond(float(t), WALL_START + t, fabric(t)))
            if t == 100:
                journal.append(SESSION, HostCommanded(action="harmonize"))
            journal.append(SESSION, Tick(float(t)))
        await journal.commit()
    return Night(path, stages)


@pytest.fixture
async def night(tmp_path: Path) -> Night:
    return await record(tmp_path / "dreams.sqlite")


def labels(edf: edfio.Edf) -> dict[str, edfio.EdfSignal]:
    return {signal.label: signal for signal in edf.signals}


def stage_texts(texts: list[str]) -> list[str]:
    return [text for text in texts if text.startswith("Sleep stage")]


def test_each_sleeper_gets_an_edf_with_their_signals_stages_and_the_sessions_events(
    night: Night, tmp_path: Path
) -> None:
    paths = export_nights(night.journal, tmp_path / "out", "edf")
    assert [p.name for p in paths] == [f"night-commons-{pid}.edf" for pid in ("p1", "p2", "p3")]
    lyra = edfio.read_edf(paths[0])
    signals = labels(lyra)
    assert list(signals) == [
        "Heart rate", "HRV RMSSD", "Resp rate", "Breath phase",
        "EEG delta", "EEG theta", "EEG alpha", "EEG beta", "Movement",
    ]  # fmt: skip
    assert signals["Heart rate"].physical_dimension == "bpm"
    assert signals["Heart rate"].physical_range == (20.0, 250.0)
    assert signals["EEG delta"].physical_dimension == "%"
    assert all(s.sampling_frequency == 1.0 for s in lyra.signals)
    assert lyra.duration == NIGHT_S
    assert lyra.startdatetime == datetime.datetime(2026, 12, 1, 22, 30, 0)
    heart = signals["Heart rate"].data
    assert heart[10] == pytest.approx(58.0 + 10 % 3, abs=0.01)
    assert heart[GAP.start] == pytest.approx(20.0, abs=0.01)  # no reading: the physical minimum
    texts = [a.text for a in lyra.annotations]
    expected = [SLEEP_EDF_LABELS[s] for _, s in sorted(night.stages["p1"].items())]
    assert stage_texts(texts) == expected
    stage_onsets = [a.onset for a in lyra.annotations if a.text.startswith("Sleep stage")]
    assert stage_onsets == [30.0 * e for e in range(10)]
    assert {"Scene fractured", "Harmonizing started", "Scene healed"} <= set(texts)
    gaps = [(a.onset, a.duration) for a in lyra.annotations if a.text == "No signal"]
    assert gaps == [(float(GAP.start), float(len(GAP)))]
    zara = labels(edfio.read_edf(paths[1]))
    assert list(zara) == ["Resp rate", "Breath phase", "Movement", "Skin temp"]
    assert zara["Skin temp"].physical_dimension == "degC"
    kai = edfio.read_edf(paths[2])  # no signals: the stages and the session's events only
    assert kai.signals == ()
    assert len(stage_texts([a.text for a in kai.annotations])) == 10


def test_mne_reads_the_night_as_edfio_does(night: Night, tmp_path: Path) -> None:
    path = export_nights(night.journal, tmp_path / "out", "edf", session=SESSION, pid="p2")[0]
    raw = mne.io.read_raw_edf(path, verbose="error")
    assert raw.ch_names == ["Resp rate", "Breath phase", "Movement", "Skin temp"]
    assert raw.info["sfreq"] == 1.0
    assert raw.n_times == NIGHT_S
    assert raw.info["meas_date"] == datetime.datetime(2026, 12, 1, 22, 30, 0, tzinfo=datetime.UTC)
    descriptions = list(raw.annotations.description)
    stages = [d for d in descriptions if d.startswith("Sleep stage")]
    assert len(stages) == len(night.stages["p2"])  # one per epoch with a stage: 9 of 10
    assert stages == [SLEEP_EDF_LABELS[s] for _, s in sorted(night.stages["p2"].items())]
    temp = raw.get_data(picks=["Skin temp"])[0]
    assert np.allclose(temp, 33.5, atol=0.01)


def test_the_yasa_hypnogram_has_the_same_epochs(night: Night, tmp_path: Path) -> None:
    edf_paths = export_nights(night.journal, tmp_path / "edf", "edf")
    paths = export_nights(night.journal, tmp_path / "yasa", "yasa")
    assert [p.name for p in paths] == [f"hypnogram-commons-{pid}.txt" for pid in ("p1", "p2", "p3")]
    for path, edf_path, pid in zip(paths, edf_paths, ("p1", "p2", "p3"), strict=True):
        text = path.read_text()
        assert "30-s epoch" in text.splitlines()[0]
        stages = np.loadtxt(path, dtype=int).tolist()
        assert len(stages) == NIGHT_S / 30
        edf_stages = [
            (a.onset, a.text) for a in edfio.read_edf(edf_path).annotations if "stage" in a.text
        ]
        assert edf_stages == [
            (30.0 * epoch, SLEEP_EDF_LABELS[stage])
            for epoch, stage in enumerate(stages)
            if stage != YASA_UNSCORED
        ]
        journaled = night.stages[pid]
        assert stages == [journaled.get(epoch, YASA_UNSCORED) for epoch in range(len(stages))]
    zara = np.loadtxt(paths[1], dtype=int).tolist()
    assert zara[3] == -2  # YASA's unscored: no stage in that epoch
    assert set(zara) <= {0, 1, 2, 3, 4, -2}
    assert "2026-12-01T22:30:00Z" in paths[0].read_text()


async def test_erasing_a_sleeper_removes_their_signals(night: Night, tmp_path: Path) -> None:
    conn = connect_reader(night.journal)
    try:
        assert len(list(read_signals(conn, SESSION, "p1"))) == NIGHT_S - len(GAP)
    finally:
        conn.close()
    erased = erase_participant(night.journal, SESSION, "p1")
    assert erased == NIGHT_S + NIGHT_S - len(GAP)  # their sleeper updates, their seconds
    conn = connect_reader(night.journal)
    try:
        assert list(read_signals(conn, SESSION, "p1")) == []
        assert len(list(read_signals(conn, SESSION, "p2"))) == NIGHT_S
    finally:
        conn.close()
    assert export_nights(night.journal, tmp_path / "out", "edf", session=SESSION, pid="p1") == []
    assert b"eeg_delta" not in night.journal.read_bytes()  # only her pod sent band powers
