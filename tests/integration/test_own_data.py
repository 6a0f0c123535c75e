"""A participant's own data in the journal: exported or erased on their resume token, and on
nobody else's; never erased from under a live server."""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import (
    MotifContributed,
    ParticipantJoined,
    SleeperUpdated,
    Whispered,
)
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import (
    Journal,
    JournalInUse,
    SessionNotFound,
    Tick,
    erase_participant,
    journal_participant,
    replay_file,
    token_hash,
)
from dreamcommons.server.journal.lock import JournalLock
from dreamcommons.server.journal.reading import iter_events
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons

pytestmark = pytest.mark.integration

LYRA_MOTIFS = ("moon", "owl")
LYRA_SECRET = "lantern"  # a private motif: hers, though nobody else ever sees it
ZARA_MOTIF = "tide"


@dataclass(frozen=True)
class Sleeper:
    pid: str
    token: str


@dataclass(frozen=True)
class Night:
    journal: Path
    lyra: Sleeper
    zara: Sleeper


def journaled(journal: Path) -> ServerSettings:
    return ServerSettings(port=0, journal=journal, snapshot_every_s=0.5, open_sessions=("*",))


async def record_a_night(journal: Path) -> Night:
    """Lyra and Zara dream on a journaled server; every request acknowledged (so durable)."""
    async with DreamServer(journaled(journal), load_venue("sleep-commons")) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        async with DreamClient(url, "Lyra") as lyra, DreamClient(url, "Zara") as zara:
            for motif in LYRA_MOTIFS:
                await lyra.contribute(motif, intensity=1.0)
            await lyra.contribute(LYRA_SECRET, intensity=1.0, private=True)
            await lyra.whisper("silver moths over the lake")
            await lyra.share(0.5, show_stage=True)
            await zara.contribute(ZARA_MOTIF, intensity=1.0)
            await zara.whisper("a tide of warm sand")
            assert lyra.resume_token is not None
            assert zara.resume_token is not None
            return Night(
                journal,
                Sleeper(lyra.participant, lyra.resume_token),
                Sleeper(zara.participant, zara.resume_token),
            )


@pytest.fixture
async def night(tmp_path: Path) -> Night:
    return await record_a_night(tmp_path / "dreams.sqlite")


async def run(*args: str, stdin: str = "") -> tuple[int, str]:
    async with dreamcommons(*args) as process:
        output, _ = await asyncio.wait_for(process.communicate(stdin.encode()), within(30))
    assert process.returncode is not None
    return process.returncode, output.decode()


def journaled_events(journal: Path) -> list[object]:
    conn = connect_reader(journal)
    try:
        return [event for _, _, event in iter_events(conn, "commons")]
    finally:
        conn.close()


def motif_names(journal: Path) -> set[str]:
    *_, (last, _) = replay_file(journal, "commons")
    return {motif.name for motif in last.motifs}


async def test_a_participant_exports_their_own_events_and_nobody_elses(
    night: Night, tmp_path: Path
) -> None:
    out = tmp_path / "lyra"
    code, output = await run(
        "export", str(night.journal), "--out", str(out), "--session", "commons",
        f"--resume-token={night.lyra.token}",
    )  # fmt: skip
    assert code == 0, output
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {line["fields"]["participant"] for line in lines} == {night.lyra.pid}
    kinds = {line["kind"] for line in lines}
    assert {"ParticipantJoined", "MotifContributed", "Whispered", "ShareChanged"} <= kinds
    contributed = {
        line["fields"]["motif"]: line["fields"]["private"]
        for line in lines
        if line["kind"] == "MotifContributed"
    }
    assert contributed == {"moon": False, "owl": False, LYRA_SECRET: True}
    text = (out / "events.jsonl").read_text()
    assert "Zara" not in text
    assert ZARA_MOTIF not in text
    assert "warm sand" not in text


async def test_an_export_or_erasure_without_the_right_token_is_refused(
    night: Night, tmp_path: Path
) -> None:
    out = tmp_path / "nobody"
    base = ("export", str(night.journal), "--out", str(out), "--session", "commons")
    code, output = await run(*base, "--resume-token=not-lyras-token")
    assert code == 2
    assert "no member of session 'commons' has that resume token" in output
    code, output = await run(*base)
    assert code == 2
    assert "needs their --resume-token" in output
    assert not out.exists()
    before = journaled_events(night.journal)
    code, output = await run(
        "erase", str(night.journal), "--session", "commons", "--resume-token=not-lyras-token"
    )
    assert code == 2
    assert "no member of session 'commons' has that resume token" in output
    assert journaled_events(night.journal) == before


async def test_an_erasure_removes_her_contributions_and_the_journal_still_recovers(
    night: Night,
) -> None:
    assert set(LYRA_MOTIFS) | {ZARA_MOTIF} <= motif_names(night.journal)
    code, output = await run(
        "erase", str(night.journal), "--session", "commons", f"--resume-token={night.lyra.token}"
    )
    assert code == 0, output
    assert (
        f"erased 4 records of {night.lyra.pid} in session commons" in output
    )  # 3 motifs, 1 whisper

    events = journaled_events(night.journal)
    hers = [e for e in events if isinstance(e, MotifContributed | Whispered)]
    assert all(e.participant == night.zara.pid for e in hers)
    assert [e.motif for e in hers if isinstance(e, MotifContributed)] == [ZARA_MOTIF]
    names = motif_names(night.journal)
    assert ZARA_MOTIF in names
    assert not names & {*LYRA_MOTIFS, LYRA_SECRET}

    async with DreamServer(journaled(night.journal), load_venue("sleep-commons")) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        async with DreamClient(url, "Zara", resume=night.zara.token) as zara:
            assert zara.participant == night.zara.pid
            seen = {motif.name for motif in zara.state.motifs}
            assert ZARA_MOTIF in seen
            assert not seen & set(LYRA_MOTIFS)


async def test_an_erasure_is_refused_while_a_live_server_writes_the_journal(night: Night) -> None:
    before = journaled_events(night.journal)
    async with DreamServer(journaled(night.journal), load_venue("sleep-commons")):
        code, output = await run(
            "erase",
            str(night.journal),
            "--session",
            "commons",
            f"--resume-token={night.lyra.token}",
        )
    assert code == 2
    assert "a live server is writing it; stop the server first" in output
    assert journaled_events(night.journal)[: len(before)] == before


async def test_an_own_export_holds_only_their_hypnogram(tmp_path: Path) -> None:
    journal = tmp_path / "night.sqlite"
    async with Journal(journal) as writer:
        writer.record_session("commons", load_venue("sleep-commons"))
        for pid, name in (("p1", "Lyra"), ("p2", "Zara")):
            writer.record_member("commons", pid, name, "dreamer", token_hash(f"token-{name}"))
            writer.append("commons", ParticipantJoined(participant=pid, name=name, role="dreamer"))
        for epoch, (hers, his) in enumerate(((0, 0), (1, 2), (2, 3), (4, 3))):
            t = epoch * 30.0 + 1.0
            writer.append("commons", SleeperUpdated("p1", hers, 0.1, 0.25, 0.24, t))
            writer.append("commons", SleeperUpdated("p2", his, 0.3, 0.5, 0.22, t))
            writer.append("commons", Tick(t))
        await writer.commit()
    out = tmp_path / "export"
    code, output = await run(
        "export", str(journal), "--out", str(out), "--resume-token", "-", stdin="token-Lyra\n"
    )
    assert code == 0, output
    assert sorted(path.name for path in out.iterdir()) == [
        "events.jsonl",
        "hypnogram-commons-p1.csv",
    ]
    with (out / "hypnogram-commons-p1.csv").open() as rows:
        assert [int(row["stage"]) for row in csv.DictReader(rows)] == [0, 1, 2, 4]
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["ParticipantJoined"] + ["SleeperUpdated"] * 4


async def test_a_removed_participant_still_proves_who_they_are_and_servers_and_erasure_exclude(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "night.sqlite"
    async with Journal(journal) as writer:
        writer.record_session("commons", load_venue("sleep-commons"))
        writer.record_member("commons", "p1", "Lyra", "dreamer", token_hash("token-Lyra"))
        writer.append("commons", ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
        writer.append("commons", Whispered("p1", 1, "gone by morning"))
        writer.record_member_left("commons", "p1")
        await writer.commit()
        assert journal_participant(journal, "commons", "token-Lyra") == "p1"
        with pytest.raises(SessionNotFound):
            journal_participant(journal, "atlantis", "token-Lyra")
        with pytest.raises(JournalInUse):
            erase_participant(journal, "commons", "p1")
    assert erase_participant(journal, "commons", "p1") == 1
    erasing = JournalLock(journal).exclusive()
    try:
        with pytest.raises(JournalInUse, match="it is being erased"):
            await Journal(journal).open()
    finally:
        erasing.release()
