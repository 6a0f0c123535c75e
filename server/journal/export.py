"""Exporting a journal for people and tools: every event as a JSON line (the ticks only when
asked for), and a hypnogram CSV per sleeper (30-s epochs of session time, stage codes 0 W,
1 N1, 2 N2, 3 N3, 4 REM).

``export_participant`` writes the same files for one member of one session: only the events
that are theirs (joins, presence, contributions including private ones, whispers, share and
device changes, sleeper updates), and only their hypnogram.

Export rebuilds nothing and loads no snapshot: it only decodes events, so a journal from
elsewhere is safe to export.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

from dreamcommons.server.engine import SleeperUpdated
from dreamcommons.server.journal.codec import JournalEvent, Tick, kind_of
from dreamcommons.server.journal.erase import erase_participant
from dreamcommons.server.journal.hypnogram import EPOCH_S, Hypnogram
from dreamcommons.server.journal.reading import find_session, iter_events
from dreamcommons.server.journal.schema import connect_reader

__all__ = ["EPOCH_S", "erase_participant", "export", "export_participant"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def export(journal_path: Path, out_dir: Path, *, ticks: bool = False) -> list[Path]:
    """Write ``events.jsonl`` (one object per event: seq, session, kind, fields; the ticks only
    with ``ticks``) and ``hypnogram-<session>-<pid>.csv`` per participant with sleeper updates;
    return the paths."""
    conn = connect_reader(journal_path)
    try:
        return _write(iter_events(conn), out_dir, ticks=ticks)
    finally:
        conn.close()


def export_participant(
    journal_path: Path, out_dir: Path, session_id: str, pid: str, *, ticks: bool = False
) -> list[Path]:
    """As ``export``, for one participant of one session: their events and their hypnogram.
    Find ``pid`` from their resume token with ``members.participant_with_token``."""
    conn = connect_reader(journal_path)
    try:
        find_session(conn, session_id)
        return _write(iter_events(conn, session_id, participant=pid), out_dir, ticks=ticks)
    finally:
        conn.close()


def _write(
    events: Iterable[tuple[int, str, JournalEvent]], out_dir: Path, *, ticks: bool
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / "events.jsonl"
    hypnograms: dict[tuple[str, str], Hypnogram] = {}
    with events_path.open("w", encoding="utf-8", newline="\n") as out:
        for seq, session, event in events:
            if isinstance(event, Tick) and not ticks:
                continue  # ten a second: what happened is in the other events and their times
            line = {"seq": seq, "session": session, "kind": kind_of(event)}
            line["fields"] = _fields(event)
            out.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
            if isinstance(event, SleeperUpdated):
                key = (session, event.participant)
                hypnograms.setdefault(key, Hypnogram()).add(event.t, event.stage)
    paths = [events_path]
    for (session, pid), hypnogram in sorted(hypnograms.items()):
        path = out_dir / f"hypnogram-{_UNSAFE.sub('_', session)}-{_UNSAFE.sub('_', pid)}.csv"
        hypnogram.write(path)
        paths.append(path)
    return paths


def _fields(event: JournalEvent) -> dict[str, object]:
    return {f.name: _json_value(getattr(event, f.name)) for f in fields(event)}


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value
