"""Exporting a journal for people and tools: every event as a JSON line, and a hypnogram CSV
per sleeper (30-s epochs of session time, stage codes 0 W, 1 N1, 2 N2, 3 N3, 4 REM).

Export rebuilds nothing and loads no snapshot: it only decodes events, so a journal from
elsewhere is safe to export.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from server.engine import SleeperUpdated
from server.journal.codec import JournalEvent, kind_of
from server.journal.erase import erase_participant
from server.journal.reading import iter_events
from server.journal.schema import connect_reader

__all__ = ["EPOCH_S", "erase_participant", "export"]

EPOCH_S = 30
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def export(journal_path: Path, out_dir: Path) -> list[Path]:
    """Write ``events.jsonl`` (one object per event: seq, session, kind, fields) and
    ``hypnogram-<session>-<pid>.csv`` per participant with sleeper updates; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / "events.jsonl"
    hypnograms: dict[tuple[str, str], Hypnogram] = {}
    conn = connect_reader(journal_path)
    try:
        with events_path.open("w", encoding="utf-8", newline="\n") as out:
            for seq, session, event in iter_events(conn):
                line = {"seq": seq, "session": session, "kind": kind_of(event)}
                line["fields"] = _fields(event)
                out.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
                if isinstance(event, SleeperUpdated):
                    key = (session, event.participant)
                    hypnograms.setdefault(key, Hypnogram()).add(event.t, event.stage)
    finally:
        conn.close()
    paths = [events_path]
    for (session, pid), hypnogram in sorted(hypnograms.items()):
        path = out_dir / f"hypnogram-{_UNSAFE.sub('_', session)}-{_UNSAFE.sub('_', pid)}.csv"
        hypnogram.write(path)
        paths.append(path)
    return paths


@dataclass(slots=True)
class Hypnogram:
    """One sleeper's stages by 30-s epoch: the last known stage reported within each epoch."""

    stages: dict[int, int] = field(default_factory=dict)
    last_epoch: int = -1

    def add(self, t: float, stage: int | None) -> None:
        if not math.isfinite(t):
            return
        epoch = max(0, int(t // EPOCH_S))
        self.last_epoch = max(self.last_epoch, epoch)
        if stage is not None:
            self.stages[epoch] = stage

    def rows(self) -> list[tuple[int, int, int | str]]:
        """(epoch, epoch start in session seconds, stage or "" when unknown), from epoch 0."""
        return [
            (epoch, epoch * EPOCH_S, self.stages.get(epoch, ""))
            for epoch in range(self.last_epoch + 1)
        ]

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("epoch", "t", "stage"))
            writer.writerows(self.rows())


def _fields(event: JournalEvent) -> dict[str, object]:
    return {f.name: _json_value(getattr(event, f.name)) for f in fields(event)}


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value
