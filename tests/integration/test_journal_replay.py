"""A journaled session played back: the replayed states are the ones its clients saw, printed
by ``dreamcommons replay``, served read-only to watchers, and exported for other tools."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import DreamscapeState
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, ParticipantJoined, SleeperUpdated
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import Journal, Tick, replay_file, token_hash
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import dreamcommons, free_port, read_until

pytestmark = pytest.mark.integration


async def record_a_session(journal: Path) -> list[DreamscapeState]:
    """A live session on a journaled server; every state its watcher saw."""
    settings = ServerSettings(port=0, journal=journal, snapshot_every_s=0.5, open_sessions=("*",))
    seen: list[DreamscapeState] = []
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        async with DreamClient(url, "Lyra") as lyra, DreamClient(url, "Kai", role="watcher") as kai:

            async def watch() -> None:
                async for state in kai.states():
                    seen.append(state)

            watcher = asyncio.create_task(watch())
            for motif in ("moon", "river", "owl", "moon", "tide"):
                await lyra.contribute(motif, intensity=0.8)
            await lyra.whisper("the cocoons pulse together")
            await kai.wait_for(lambda s: len(s.whispers) == 1 and len(s.motifs) == 4, within(5))
            await kai.wait_for(lambda s: s.seq > seen[0].seq + 20, within(5))
            watcher.cancel()
    return seen


@pytest.fixture
async def recorded(tmp_path: Path) -> tuple[Path, list[DreamscapeState]]:
    journal = tmp_path / "dreams.sqlite"
    return journal, await record_a_session(journal)


def replayed(journal: Path) -> dict[int, DreamscapeState]:
    """Every replayed state by seq, from the session's first (seq 0: before the first tick,
    which a welcome made durable before that tick carries)."""
    states = {state.seq: state for state, _ in replay_file(journal, "commons")}
    return {0: DreamEngine(load_venue("sleep-commons"), "commons").state, **states}


async def test_the_replayed_states_equal_the_recorded_ones(
    recorded: tuple[Path, list[DreamscapeState]],
) -> None:
    journal, seen = recorded
    again = replayed(journal)
    assert len(seen) > 20
    for state in seen:
        # the live session's epoch named its history while it ran; a replay has none
        assert again[state.seq] == state.model_copy(update={"epoch": ""})


async def test_replay_prints_what_changed_then_where_the_session_ended(
    recorded: tuple[Path, list[DreamscapeState]],
) -> None:
    journal, _ = recorded
    last = max(replayed(journal))
    async with dreamcommons("replay", str(journal), "--speed", "0", "--plain") as replay:
        output, _ = await asyncio.wait_for(replay.communicate(), within(30))
    text = output.decode()
    assert replay.returncode == 0, text
    changed, _, ended = text.partition("\n~ ")
    assert changed.count('Lyra whispers: "the cocoons pulse together"') == 1, text
    assert "Lyra joined" in changed
    assert f"tick {last} " in ended  # the last state, in the plain view
    assert text.count(f"tick {last - 1} ") == 0  # not every state
    assert "replay of commons ended" in ended


async def test_a_served_replay_is_watched_like_a_live_session_and_refuses_contributions(
    recorded: tuple[Path, list[DreamscapeState]],
) -> None:
    journal, _ = recorded
    again = replayed(journal)
    port = free_port()
    args = ("replay", str(journal), "--serve", "--port", str(port), "--speed", "4")
    async with dreamcommons(*args) as replay:
        await read_until(replay, "/watch/commons", within(15))
        url = f"ws://127.0.0.1:{port}/commons"
        async with DreamClient(url, "Eamon", role="watcher") as watcher:
            shown: list[DreamscapeState] = []
            async with asyncio.timeout(within(20)):
                async for state in watcher.states():
                    shown.append(state)
                    if state.seq == max(again):
                        break
            with pytest.raises(Refused) as refused:
                await watcher.contribute("moon")
            assert refused.value.code is ErrorCode.FORBIDDEN
        played = [state for state in shown if state.seq > 0]  # seq 0: before the first tick
        assert played[-1].seq == max(again)
        for state in played:
            assert again[state.seq] == state


async def test_export_writes_the_events_and_a_hypnogram_per_sleeper(tmp_path: Path) -> None:
    journal = tmp_path / "night.sqlite"
    stages = [0, 0, 1, 2, 2, 3, 3, 4]
    async with Journal(journal) as writer:
        writer.record_session("commons", load_venue("sleep-commons"))
        writer.record_member("commons", "p1", "Lyra", "dreamer", token_hash("secret"))
        writer.append("commons", ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
        for epoch, stage in enumerate(stages):
            t = epoch * 30.0 + 1.0
            update = SleeperUpdated("p1", stage, 0.1, 0.25, 0.24, t)
            writer.append("commons", update)
            writer.append("commons", Tick(t))
        await writer.commit()
    out = tmp_path / "export"
    async with dreamcommons("export", str(journal), "--out", str(out)) as exporting:
        output, _ = await asyncio.wait_for(exporting.communicate(), within(30))
    assert exporting.returncode == 0, output.decode()
    lines = (out / "events.jsonl").read_text().splitlines()
    assert len(lines) == 1 + len(stages)  # no ticks unless asked for
    assert "Tick" not in {json.loads(line)["kind"] for line in lines}
    first = json.loads(lines[0])
    assert first["kind"] == "ParticipantJoined"
    assert first["fields"]["name"] == "Lyra"
    with (out / "hypnogram-commons-p1.csv").open() as rows:
        table = list(csv.DictReader(rows))
    assert [int(row["stage"]) for row in table] == stages
    assert [int(row["t"]) for row in table] == [30 * n for n in range(len(stages))]
    args = ("export", str(journal), "--out", str(tmp_path / "ticks"), "--ticks")
    async with dreamcommons(*args) as exporting:
        output, _ = await asyncio.wait_for(exporting.communicate(), within(30))
    assert exporting.returncode == 0, output.decode()
    kinds = [json.loads(line)["kind"] for line in _lines(tmp_path / "ticks" / "events.jsonl")]
    assert kinds.count("Tick") == len(stages)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


async def test_replaying_an_unknown_session_names_the_ones_there_are(
    recorded: tuple[Path, list[DreamscapeState]],
) -> None:
    journal, _ = recorded
    async with dreamcommons("replay", str(journal), "--session", "atlantis") as replay:
        output, _ = await asyncio.wait_for(replay.communicate(), within(15))
    assert replay.returncode == 2
    assert "atlantis" in output.decode()
    assert "commons" in output.decode()
