"""Snapshots in a journal file: written as versioned plain data, loaded back to the same
engine; a journal from before (pickled snapshots, schema 1) still opens and recovers; a
snapshot that cannot be loaded costs a replay from the start, never the session."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import msgpack
import pytest
from pydantic import BaseModel

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, engine_to_snapshot
from dreamcommons.server.journal import (
    Journal,
    JournalCorrupt,
    RecoveredSession,
    UnknownSnapshotFormat,
    replay_file,
    restore,
)
from dreamcommons.server.journal.schema import SCHEMA_VERSION, connect_reader
from dreamcommons.server.journal.session_journal import SessionJournal
from dreamcommons.server.journal.snapshots import decode_snapshot
from tests.fixtures.make_pickle_journal import PEOPLE, events_at, play

FIXTURES = Path(__file__).parent.parent / "fixtures"
OLD_JOURNAL = FIXTURES / "journal-pickle-snapshots.sqlite"
OLD_EXPECTED = json.loads((FIXTURES / "journal-pickle-snapshots.json").read_text())
VENUE = load_venue("sleep-commons")
READING = "dreamcommons.server.journal.reading"
# A journal keeps events, not views, so replaying one from before a change of the weighting
# rules (a hidden stage no longer weighs) gives today's weights, and one from before the v2
# wire gives v2's views: motifs by their parameters (sent when they change), the phase's end.
SCENE_TIMES = ("phase_ends", "phase_remaining_s")


def beyond_the_weights(frame: dict[str, Any]) -> dict[str, Any]:
    """A state or delta as JSON, without what the weighting rules and the views decide: the
    names of the motifs shown or changed, the scene without its clock, everything else."""
    motifs = [m["name"] for m in frame.get("motifs", [])]
    scene = frame.get("scene")
    if scene is not None:
        scene = {k: v for k, v in scene.items() if k not in SCENE_TIMES}
    return {**frame, "motifs": motifs, "mood": None, "scene": scene}


def as_recorded(frame: BaseModel, recorded: dict[str, Any]) -> tuple[object, object]:
    """A state or delta and the one recorded, both as ``beyond_the_weights`` gives them, and
    the first without the fields the wire has gained since the recording (the half-life,
    the counts of people, the chance baseline, a consenting sleeper's breath)."""
    got = beyond_the_weights(json.loads(frame.model_dump_json()))
    if got.get("scene") is not None:
        got["scene"] = {k: v for k, v in got["scene"].items() if k in recorded["scene"]}
    for view in got.get("participants", ()):
        view.pop("breath", None)
    return {k: v for k, v in got.items() if k in recorded}, beyond_the_weights(recorded)


async def record(path: Path, ticks: int = 80, snapshot_every: int = 25) -> DreamEngine:
    """A session journaled as a live one is: its engine as it was at the last tick."""
    engine = DreamEngine(VENUE, "commons")
    async with Journal(path) as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=snapshot_every)
        for pid, name, role in PEOPLE:
            log.member_joined(pid, name, role, f"token-of-{pid}")
        await play(log, engine, ticks)
    return engine


async def recovered_session(path: Path) -> RecoveredSession:
    async with Journal(path) as journal:
        (session,) = await journal.recover()
    return session


def snapshot_rows(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT upto, encoding FROM snapshots ORDER BY upto").fetchall()
    finally:
        conn.close()


def replace_snapshot(path: Path, upto: int, blob: bytes, encoding: str = "msgpack") -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "UPDATE snapshots SET engine = ?, encoding = ? WHERE upto = ?",
                (blob, encoding, upto),
            )
    finally:
        conn.close()


def goes_on_alike(one: DreamEngine, other: DreamEngine, ticks: int = 30) -> None:
    """Both engines give the same states and deltas for the same events from here on."""
    start = round(one.state.t * 10)
    for tick in range(start + 1, start + ticks + 1):
        t = round(tick * 0.1, 1)
        for event in events_at(tick, t):
            one.apply(event)
            other.apply(event)
        assert one.tick(t) == other.tick(t)
        assert one.drain_intents() == other.drain_intents()


# --- the current format ---------------------------------------------------------------------


async def test_a_snapshot_comes_back_from_the_journal_as_the_engine_it_was(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite"
    live = await record(path)
    rows = snapshot_rows(path)
    assert [encoding for _, encoding in rows] == ["msgpack", "msgpack"]
    with caplog.at_level(logging.WARNING, logger=READING):
        session = await recovered_session(path)
    assert caplog.records == []
    assert session.engine is not None
    assert session.snapshot_upto == rows[-1][0]
    assert len(session.events) < 40  # the tail after the snapshot, not the session
    engine = restore(session)
    assert engine.state == live.state
    goes_on_alike(engine, live)


async def test_a_snapshot_row_is_msgpack_of_the_engines_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await record(path, ticks=25)
    conn = sqlite3.connect(path)
    (blob,) = conn.execute("SELECT engine FROM snapshots").fetchone()
    conn.close()
    data = msgpack.unpackb(blob, raw=False)
    assert data["format"] == 3
    assert data["session"] == "commons"
    assert data["venue"] == "sleep-commons"
    assert data["seq"] == 25
    assert [p["id"] for p in data["participants"]] == [pid for pid, _, _ in PEOPLE]


# --- a journal from before: pickled snapshots, schema version 1 ------------------------------


@pytest.fixture
def old_journal(tmp_path: Path) -> Path:
    copy = tmp_path / "old.sqlite"
    shutil.copyfile(OLD_JOURNAL, copy)
    return copy


def meta_schema(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
    finally:
        conn.close()


async def test_a_journal_with_pickled_snapshots_recovers_to_the_state_it_had(
    old_journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert meta_schema(old_journal) == "1"
    with caplog.at_level(logging.WARNING, logger=READING):
        session = await recovered_session(old_journal)
    assert meta_schema(old_journal) == str(SCHEMA_VERSION)
    assert [encoding for _, encoding in snapshot_rows(old_journal)] == ["pickle", "pickle"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # each snapshot, then the replay from the start
    assert all("session commons" in w for w in warnings)
    assert all("pickle" in w for w in warnings[:2])
    assert "replaying its events from the start" in warnings[2]
    assert session.engine is None
    assert session.snapshot_upto == 0
    assert [m.pid for m in session.members] == [pid for pid, _, _ in PEOPLE]
    assert sorted(session.pairings) == [("p1", "pod-a1"), ("p3", "pod-c3")]
    engine = restore(session)
    replayed = [state for state, _ in replay_file(old_journal, "commons")]
    assert engine.state == replayed[-1]
    got, expected = as_recorded(engine.state, OLD_EXPECTED["last_state"])
    assert got == expected
    before = engine.state
    state, delta = engine.tick(OLD_EXPECTED["next_t"])
    got, expected = as_recorded(state, OLD_EXPECTED["next_state"])
    assert got == expected
    assert before.apply(delta) == state  # the delta is v2's: what changed, not what moved


async def test_an_upgraded_journal_keeps_each_members_last_cid_without_the_index(
    old_journal: Path,
) -> None:
    conn = sqlite3.connect(old_journal)
    try:
        highest = dict(
            conn.execute(
                "SELECT participant, MAX(cid) FROM events"
                " WHERE cid IS NOT NULL GROUP BY participant"
            ).fetchall()
        )
    finally:
        conn.close()
    assert highest  # the old journal has contributions to carry over
    session = await recovered_session(old_journal)
    assert {m.pid: m.last_cid for m in session.members} == {
        pid: highest.get(pid, -1) for pid, _, _ in PEOPLE
    }
    conn = sqlite3.connect(old_journal)
    try:
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    finally:
        conn.close()
    assert "events_by_participant" not in indexes
    assert "events_by_session" in indexes


async def test_an_upgraded_journal_goes_on_with_snapshots_of_the_new_format(
    old_journal: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = await recovered_session(old_journal)
    engine = restore(session)
    async with Journal(old_journal) as journal:
        log = SessionJournal(journal, "commons", VENUE, snapshot_every=1)
        engine.tick(8.1)
        await log.tick_committed(8.1, engine)
    assert snapshot_rows(old_journal)[-1][1] == "msgpack"
    caplog.clear()  # the pickles' warnings, above
    with caplog.at_level(logging.WARNING, logger=READING):
        again = await recovered_session(old_journal)
    assert caplog.records == []
    assert again.engine is not None
    assert restore(again).state == engine.state


def test_replay_reads_a_journal_from_before_without_changing_it(old_journal: Path) -> None:
    before = old_journal.read_bytes()
    states = [state for state, _ in replay_file(old_journal, "commons")]
    got, expected = as_recorded(states[-1], OLD_EXPECTED["last_state"])
    assert got == expected
    assert old_journal.read_bytes() == before
    assert meta_schema(old_journal) == "1"


async def test_a_journal_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await record(path, ticks=3)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(JournalCorrupt, match="schema version"):
        await Journal(path).open()
    with pytest.raises(JournalCorrupt, match="schema version"):
        connect_reader(path)


# --- snapshots that cannot be loaded ----------------------------------------------------------


def newer_format(engine: DreamEngine) -> bytes:
    data: dict[str, Any] = engine_to_snapshot(engine)
    data["format"] = 99
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return packed


@pytest.mark.parametrize(
    ("encoding", "blob", "reason"),
    [
        ("msgpack", b"\xc1\x00 not msgpack", "not valid msgpack"),
        ("msgpack", msgpack.packb({"format": 2, "session": "commons"}), "damaged"),
        ("msgpack", msgpack.packb({"format": 1, "session": "commons"}), "format 1 unknown"),
        ("msgpack", msgpack.packb([1, 2]), "damaged"),
        ("msgpack", None, "format 99 unknown"),
        ("zstd+msgpack", b"\x28\xb5\x2f\xfd", "encoding 'zstd+msgpack' unknown"),
    ],
)
async def test_a_journal_whose_snapshots_cannot_be_loaded_recovers_by_replay(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    blob: bytes | None,
    reason: str,
) -> None:
    path = tmp_path / "j.sqlite"
    live = await record(path)
    for upto, _ in snapshot_rows(path):
        replace_snapshot(path, upto, newer_format(live) if blob is None else blob, encoding)
    with caplog.at_level(logging.WARNING, logger=READING):
        session = await recovered_session(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all(w.startswith("session commons: ") for w in warnings)
    assert all(reason in w for w in warnings[:2]), warnings
    assert "replaying its events from the start" in warnings[2]
    assert session.engine is None
    assert session.snapshot_upto == 0
    engine = restore(session)
    assert engine.state == live.state
    goes_on_alike(engine, live)


async def test_a_damaged_latest_snapshot_leaves_the_one_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite"
    live = await record(path)
    (earlier, _), (latest, _) = snapshot_rows(path)
    replace_snapshot(path, latest, b"\x00garbage")
    with caplog.at_level(logging.WARNING, logger=READING):
        session = await recovered_session(path)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[0].startswith(f"session commons: snapshot at event {latest} not loaded")
    assert (
        warnings[1] == f"session commons: recovering from the earlier snapshot at event {earlier}"
    )
    assert session.snapshot_upto == earlier
    engine = restore(session)
    assert engine.state == live.state
    goes_on_alike(engine, live)


def test_a_newer_format_is_named_as_such() -> None:
    engine = DreamEngine(VENUE, "commons")
    with pytest.raises(UnknownSnapshotFormat) as refused:
        decode_snapshot("msgpack", newer_format(engine), VENUE)
    assert refused.value.found == 99
    assert "format 99 unknown" in str(refused.value)
