"""One server, several venues: each session has its own, named by the host or the default."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.processes import dreamcommons, free_port, read_until
from tests.waiting import within

pytestmark = pytest.mark.integration


def settings(journal: Path | None = None) -> ServerSettings:
    return ServerSettings(
        port=0,
        open_sessions=("*",),
        session_venues={"festival": "harmony-festival"},
        journal=journal,
    )


async def test_each_session_opens_with_its_own_venue() -> None:
    async with DreamServer(settings(), load_venue("sleep-commons")) as server:
        base = f"ws://127.0.0.1:{server.port}"
        async with (
            DreamClient(f"{base}/festival", "Lyra") as lyra,
            DreamClient(f"{base}/commons", "Zara") as zara,
        ):
            assert lyra.state.venue == "harmony-festival"
            assert zara.state.venue == "sleep-commons"
            festival, commons = load_venue("harmony-festival"), load_venue("sleep-commons")
            assert lyra.tick_hz == festival.tick_hz
            assert zara.tick_hz == commons.tick_hz
            await lyra.contribute(festival.motifs[0].name)
            state = await lyra.wait_for(lambda s: bool(s.motifs), within=within(5))
            assert state.motifs[0].name == festival.motifs[0].name


async def test_a_journaled_session_keeps_its_venue_across_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "dreams.sqlite"
    first = DreamServer(settings(journal=journal), load_venue("sleep-commons"))
    async with first, DreamClient(f"ws://127.0.0.1:{first.port}/festival", "Lyra") as lyra:
        assert lyra.state.venue == "harmony-festival"
    # Restarted with the festival named for another venue: the journal's venue stands.
    renamed = ServerSettings(
        port=0, open_sessions=("*",), journal=journal, session_venues={"festival": "dreamsync"}
    )
    async with DreamServer(renamed, load_venue("sleep-commons")) as server:
        assert server.venue_of("festival").name == "harmony-festival"
        async with DreamClient(f"ws://127.0.0.1:{server.port}/festival", "Kai") as kai:
            assert kai.state.venue == "harmony-festival"
    assert "keeps its journaled venue harmony-festival, not dreamsync" in caplog.text


async def test_the_host_command_names_a_venue_per_session() -> None:
    port = free_port()
    sessions = ("--session", "commons=sleep-commons", "--session", "festival=harmony-festival")
    async with dreamcommons("host", "--port", str(port), "--venue", "dreamsync", *sessions) as host:
        banner = await read_until(host, "session festival", within(15))
        assert re.search(r"session commons \(The Sleep Commons, private\)", banner), banner
        banner += await read_until(host, "host:", within(5))
        code = re.search(r"session festival .*join code (\S+)", banner)
        assert code is not None, banner
        url = f"ws://127.0.0.1:{port}/festival?code={code[1]}"
        async with DreamClient(url, "Lyra") as lyra:
            assert lyra.state.venue == "harmony-festival"
        url = f"ws://127.0.0.1:{port}/elsewhere"
        async with DreamClient(url, "Zara", key=_host_key(banner), role="host") as zara:
            assert zara.state.venue == "dreamsync"  # not named: the default venue


async def test_a_session_with_an_unknown_venue_is_refused_at_once() -> None:
    args = ("host", "--port", str(free_port()), "--session", "festival=atlantis")
    async with dreamcommons(*args) as host:
        output, _ = await asyncio.wait_for(host.communicate(), within(15))
    assert host.returncode == 2
    assert "no venue 'atlantis'" in output.decode()


def _host_key(banner: str) -> str:
    found = re.search(r"operator key: (\S+)", banner)
    assert found is not None, banner
    return found[1]
