"""One sleeper's night in the formats of sleep science: an EDF+C file and a YASA hypnogram.

The night spans the 30-s epochs of session time from the first in which the sleeper's devices
said anything (a stage, or a second of signals) to the last. The EDF+C file holds one signal
per reading their devices sent (``signals.READINGS``: label, unit, physical range; 1 Hz) and
an annotation channel with the estimator's stage for every epoch that has one, labelled as in
the Sleep-EDF database (``Sleep stage W``, ``1``, ``2``, ``3``, ``R``), the session's events
that matter for reading the night (the scene fractured or healed, harmonizing started or
stopped: the session is replayed from its events to find them, no snapshot is loaded), and
``No signal`` over every stretch of ``GAP_S`` seconds or more without readings. A second
without a value of some reading holds that reading's physical minimum. The start time is
the wall-clock time (UTC) of the night's first epoch, from the signals' own clock; a night
with no signals at all starts at 00:00:00 with an unknown date.

The YASA hypnogram is the same epochs as integers, one per line, in YASA's convention
(``yasa.Hypnogram.from_integers``): 0 W, 1 N1, 2 N2, 3 N3, 4 REM, and -2 (YASA's "Uns",
unscored) for an epoch without a stage; ``#`` lines before them say the epoch length and the
start, and ``numpy.loadtxt`` skips them.
"""

from __future__ import annotations

import datetime
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

from dreamcommons.server.engine import SleeperUpdated
from dreamcommons.server.journal.hypnogram import EPOCH_S, Hypnogram
from dreamcommons.server.journal.reading import find_session, iter_events
from dreamcommons.server.journal.replay import replay_file
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.signals import (
    READINGS,
    SignalSecond,
    read_signals,
    signal_owners,
)

GAP_S = 10
"""Seconds without readings from which the file says ``No signal`` over them."""

SLEEP_EDF_LABELS = {
    0: "Sleep stage W",
    1: "Sleep stage 1",
    2: "Sleep stage 2",
    3: "Sleep stage 3",
    4: "Sleep stage R",
}
YASA_UNSCORED = -2
"""YASA's integer for an unscored epoch ("Uns"; its -1 is an artefact, "Art")."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(slots=True)
class SleeperNight:
    """What the journal holds of one sleeper: their stages by epoch and their signals."""

    session: str
    pid: str
    hypnogram: Hypnogram = field(default_factory=Hypnogram)
    seconds: list[SignalSecond] = field(default_factory=list)

    def epochs(self) -> range:
        """The night's epochs: from the first with a stage or signals to the last."""
        used = set(self.hypnogram.stages) | {int(s.t // EPOCH_S) for s in self.seconds}
        if not used:
            return range(0)
        return range(max(0, min(used)), max(used) + 1)

    def start(self) -> datetime.datetime | None:
        """Wall-clock time (UTC) of the first epoch's start, if any signal says it."""
        epochs = self.epochs()
        if not self.seconds or not epochs:
            return None
        first = self.seconds[0]
        wall = first.wall - (first.t - epochs.start * EPOCH_S)
        return datetime.datetime.fromtimestamp(wall, datetime.UTC)

    @property
    def stem(self) -> str:
        return f"{_UNSAFE.sub('_', self.session)}-{_UNSAFE.sub('_', self.pid)}"


def read_nights(journal_path: Path, session: str | None, pid: str | None) -> list[SleeperNight]:
    """Every sleeper's night (of one session, or all; of one participant of it, or all),
    ordered by session and participant; a sleeper with neither stages nor signals has none."""
    conn = connect_reader(journal_path)
    try:
        if session is not None:
            find_session(conn, session)
        nights: dict[tuple[str, str], SleeperNight] = {}
        for _, sid, event in iter_events(conn, session, participant=pid):
            if isinstance(event, SleeperUpdated):
                key = (sid, event.participant)
                night = nights.setdefault(key, SleeperNight(*key))
                night.hypnogram.add(event.t, event.stage)
        for sid, owner in _owners(conn, session, pid):
            night = nights.setdefault((sid, owner), SleeperNight(sid, owner))
            night.seconds = list(read_signals(conn, sid, owner))
        return [nights[key] for key in sorted(nights) if nights[key].epochs()]
    finally:
        conn.close()


def _owners(
    conn: sqlite3.Connection, session: str | None, pid: str | None
) -> list[tuple[str, str]]:
    owners = signal_owners(conn, session)
    return [(s, p) for s, p in owners if pid is None or p == pid]


def scene_marks(journal_path: Path, session: str) -> list[tuple[float, str]]:
    """(session time, what happened) for each change of the scene that matters for reading a
    night: fractured and healed, harmonizing started and stopped."""
    marks: list[tuple[float, str]] = []
    fractured = harmonizing = False
    for state, _ in replay_file(journal_path, session):
        scene = state.scene
        if scene.fractured != fractured:
            fractured = scene.fractured
            marks.append((state.t, "Scene fractured" if fractured else "Scene healed"))
        if scene.harmonizing != harmonizing:
            harmonizing = scene.harmonizing
            marks.append((state.t, "Harmonizing started" if harmonizing else "Harmonizing stopped"))
    return marks


def write_edf(night: SleeperNight, marks: Iterable[tuple[float, str]], path: Path) -> None:
    """The night as one EDF+C file (see the module's description)."""
    epochs = night.epochs()
    t0 = epochs.start * EPOCH_S
    length = len(epochs) * EPOCH_S
    annotations = [
        EdfAnnotation((epoch * EPOCH_S) - t0, EPOCH_S, SLEEP_EDF_LABELS[stage])
        for epoch, stage in sorted(night.hypnogram.stages.items())
        if epoch in epochs and stage in SLEEP_EDF_LABELS
    ]
    annotations += [EdfAnnotation(t - t0, None, text) for t, text in marks if t0 <= t < t0 + length]
    signals = _signals(night.seconds, t0, length)
    if signals:
        annotations += [
            EdfAnnotation(onset, duration, "No signal")
            for onset, duration in _gaps(night.seconds, t0, length)
        ]
    start = night.start()
    edf = Edf(
        signals,
        patient=Patient(code=_UNSAFE.sub("_", night.pid)),
        recording=Recording(
            startdate=None if start is None else start.date(),
            equipment_code="dreamcommons",
            additional=(_UNSAFE.sub("_", night.session),),
        ),
        starttime=None if start is None else start.time().replace(microsecond=0),
        annotations=sorted(annotations, key=lambda a: (a.onset, a.text)),
    )
    edf.write(path)


def _signals(seconds: list[SignalSecond], t0: int, length: int) -> list[EdfSignal]:
    signals = []
    for reading in READINGS:
        if not any(reading.key in s.readings for s in seconds):
            continue
        data = np.full(length, reading.low)
        for second in seconds:
            value = second.readings.get(reading.key)
            i = int(second.t) - t0
            if value is not None and 0 <= i < length:
                data[i] = min(reading.high, max(reading.low, value))
        signals.append(
            EdfSignal(
                data,
                1.0,
                label=reading.label,
                physical_dimension=reading.unit,
                physical_range=(reading.low, reading.high),
            )
        )
    return signals


def _gaps(seconds: list[SignalSecond], t0: int, length: int) -> list[tuple[float, float]]:
    """(onset, duration) of each run of ``GAP_S`` or more seconds without a reading."""
    have = np.zeros(length, dtype=bool)
    for second in seconds:
        i = int(second.t) - t0
        if 0 <= i < length:
            have[i] = True
    gaps = []
    start: int | None = None
    for i, present in enumerate([*have.tolist(), True]):
        if not present and start is None:
            start = i
        elif present and start is not None:
            if i - start >= GAP_S:
                gaps.append((float(start), float(i - start)))
            start = None
    return gaps


def yasa_stages(night: SleeperNight) -> list[int]:
    """One integer per epoch of the night, in YASA's convention."""
    stages = night.hypnogram.stages
    return [stages.get(epoch, YASA_UNSCORED) for epoch in night.epochs()]


def write_yasa(night: SleeperNight, path: Path) -> None:
    """The night's hypnogram as YASA reads it (see the module's description)."""
    epochs = night.epochs()
    start = night.start()
    when = "an unknown date" if start is None else start.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# YASA hypnogram of {night.pid} in session {night.session}: one stage per 30-s epoch"
        f' (freq "{EPOCH_S}s"), from {when} (session time {epochs.start * EPOCH_S} s)',
        "# 0 W, 1 N1, 2 N2, 3 N3, 4 REM, -2 unscored (no stage in that epoch)",
        "# yasa.Hypnogram.from_integers(numpy.loadtxt(PATH, dtype=int), freq='30s')",
        *(str(stage) for stage in yasa_stages(night)),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def export_nights(
    journal_path: Path,
    out_dir: Path,
    fmt: str,
    *,
    session: str | None = None,
    pid: str | None = None,
) -> list[Path]:
    """Write ``night-SESSION-PID.edf`` (``fmt`` "edf") or ``hypnogram-SESSION-PID.txt``
    (``fmt`` "yasa") per sleeper; return the paths."""
    if fmt not in ("edf", "yasa"):
        raise ValueError(f"unknown night format {fmt!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    marks: dict[str, list[tuple[float, str]]] = {}
    for night in read_nights(journal_path, session, pid):
        if fmt == "yasa":
            path = out_dir / f"hypnogram-{night.stem}.txt"
            write_yasa(night, path)
        else:
            if night.session not in marks:
                marks[night.session] = scene_marks(journal_path, night.session)
            path = out_dir / f"night-{night.stem}.edf"
            write_edf(night, marks[night.session], path)
        paths.append(path)
    return paths
