"""A journal that cannot be written (the disk is full): the server says so loudly and stops
acknowledging, with a stable error code, until it can write again."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import sqlite3
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.client.link import Joined, LinkEvent, Retrying
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import DreamscapeState, NoticeCode
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import Journal, batch, store
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.tui.conftest import joined, running, until

pytestmark = pytest.mark.integration


class FullDisk:
    """Stands between the journal and its file: while ``full``, every write fails as SQLite's
    does on a full disk (ENOSPC)."""

    def __init__(self) -> None:
        self.full = False

    def write_batch(
        self, conn: sqlite3.Connection, rows: batch.Batch, *, keep_snapshots: int
    ) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        batch.write_batch(conn, rows, keep_snapshots=keep_snapshots)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    disk = FullDisk()
    monkeypatch.setattr(store, "write_batch", disk.write_batch)
    return disk


@pytest.fixture
async def journaled(tmp_path: Path) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, journal=tmp_path / "dreams.sqlite", open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[DreamServer]:
    """A journaled server that closes a connection after 3 mistakes in 1 s (and lets anyone
    contribute as fast as they like: the rate limit is not under test here)."""
    settings = ServerSettings(
        port=0,
        journal=tmp_path / "dreams.sqlite",
        open_sessions=("*",),
        max_errors=3,
        error_window_s=1.0,
        contributions_per_s=1000.0,
        contribution_burst=1000,
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=within(5)) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


async def test_a_full_disk_stops_the_acks_loudly_until_the_journal_can_write_again(
    journaled: DreamServer, disk: FullDisk, caplog: pytest.LogCaptureFixture
) -> None:
    journal = journaled.journal
    assert isinstance(journal, Journal)
    url = f"ws://127.0.0.1:{journaled.port}/commons"
    async with DreamClient(url, "Lyra") as lyra:
        await lyra.contribute("moon")
        with caplog.at_level(logging.ERROR):
            disk.full = True
            with pytest.raises(Refused) as in_flight:
                await lyra.contribute("owl")
            assert in_flight.value.code is ErrorCode.JOURNAL_UNAVAILABLE
            with pytest.raises(Refused) as later:
                await lyra.contribute("tide")
            assert later.value.code is ErrorCode.JOURNAL_UNAVAILABLE
        assert "JOURNAL UNAVAILABLE" in caplog.text
        assert (await asyncio.to_thread(health, journaled.port))["journal"] == "unavailable"
        # each refusal counted once, whether refused at once or when the commit failed
        assert journaled.sessions["commons"].stats.refused["journal_unavailable"] == 2

        disk.full = False
        await lyra.wait_for(lambda _: journal.healthy, within(5))
        await lyra.contribute("lantern")
        assert journal.stats.commit_failures > 0
        assert (await asyncio.to_thread(health, journaled.port))["journal"] == "ok"


async def test_a_reconnecting_client_and_the_terminal_client_wait_for_the_journal(
    journaled: DreamServer, disk: FullDisk
) -> None:
    """One behaviour for both: a join the server cannot journal yet is tried again, not given
    up (the terminal client is built on ``DreamClient``'s own reconnect)."""
    url = f"ws://127.0.0.1:{journaled.port}/commons"
    events: list[LinkEvent] = []
    async with DreamClient(url, "Zara") as zara:
        disk.full = True
        with pytest.raises(Refused):
            await zara.contribute("owl")
        app = DreamApp(url, "Lyra")
        patient = DreamClient(
            url, "Kai", reconnect=True, wait_for_server=True, on_link=events.append
        )
        async with running(app, join=False) as pilot:
            kai = asyncio.create_task(patient.__aenter__(), name="test:kai-joins")
            await until(pilot, lambda: app.link.drops == 0 and len(app.statuses) >= 3)
            assert app.failure is None
            assert "journal cannot be written" in " ".join(app.statuses)
            disk.full = False
            await joined(pilot, app)
            async with asyncio.timeout(within(10)):
                await kai
            try:
                assert app.failure is None
                assert app.link.joins == 1
                assert any(isinstance(e, Retrying) and "journal" in e.problem for e in events)
                assert isinstance(events[-1], Joined)
            finally:
                await patient.close()


def heard(client: DreamClient, code: NoticeCode) -> bool:
    return any(notice.code == code for notice in client.notices)


async def test_writers_stay_connected_through_a_full_disk_and_hear_when_it_writes_again(
    strict: DreamServer, disk: FullDisk
) -> None:
    """Refusals that are the server's fault are not the writers' mistakes: through an outage
    longer than the error window they stay, see the dream go on, and are told it is over."""
    url = f"ws://127.0.0.1:{strict.port}/commons"
    session_refused = 0
    async with (
        DreamClient(url, "Lyra") as lyra,
        DreamClient(url, "Kai") as kai,
        DreamClient(url, "Zara") as zara,
    ):
        writers = (lyra, kai, zara)
        for writer in writers:
            await writer.contribute("moon")
        disk.full = True
        ticks = round(strict.venue.tick_hz * strict.settings.error_window_s * 2)
        outage_ends = lyra.state.seq + ticks  # two error windows of ticks from now
        while lyra.state.seq < outage_ends:
            seen = lyra.state.seq
            for writer in writers:  # more than max_errors each within the window
                with pytest.raises(Refused) as refused:
                    await writer.contribute("owl")
                assert refused.value.code is ErrorCode.JOURNAL_UNAVAILABLE
                session_refused += 1
            await lyra.wait_for(functools.partial(_later_than, seen), within(5))
        assert session_refused > strict.settings.max_errors * len(writers)
        for writer in writers:
            await writer.wait_for(lambda state: state.seq >= outage_ends, within(5))
            assert writer.connected.is_set()
            assert heard(writer, NoticeCode.JOURNAL_UNAVAILABLE)
            assert not heard(writer, NoticeCode.JOURNAL_AVAILABLE)

        disk.full = False
        for writer in writers:
            await writer.wait_for(
                functools.partial(_hears, writer, NoticeCode.JOURNAL_AVAILABLE), within(5)
            )
            await writer.contribute("lantern")
            assert writer.connected.is_set()
        stats = strict.sessions["commons"].stats
        assert stats.refused == {"journal_unavailable": session_refused}


def _later_than(seq: int, state: DreamscapeState) -> bool:
    return state.seq > seq


def _hears(client: DreamClient, code: NoticeCode, _: DreamscapeState) -> bool:
    return heard(client, code)
