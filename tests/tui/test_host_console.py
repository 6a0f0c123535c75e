"""The host console: its controls reach the real server; without the host key it is refused."""

from __future__ import annotations

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.host import HostPanel
from dreamcommons.client.tui.panels import PeoplePanel
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within
from tests.tui.conftest import running, shown, type_line, until

pytestmark = pytest.mark.integration


async def test_harmonize_and_advance_reach_the_server(
    dream_server: DreamServer, server_url: str
) -> None:
    key = dream_server.settings.host_key
    app = DreamApp(server_url, "Host", role="host", key=key)
    async with DreamClient(server_url, "Zara") as zara, running(app) as pilot:
        assert app.query(HostPanel)
        await pilot.click("#host-harmonize")
        await zara.wait_for(lambda s: s.scene.harmonizing, within(5))
        await pilot.click("#host-advance")
        await zara.wait_for(lambda s: s.scene.phase == "descent", within(5))
        await until(pilot, lambda: "harmonizing" in shown(app, "#scene"))
        await until(pilot, lambda: "phase descent" in shown(app, "#scene"))
        assert app.notes[-2:] == ["host: harmonize done", "host: advance done"]
        await type_line(pilot, "/start")
        await until(pilot, lambda: app.notes[-1] == "host: start done")


async def test_the_host_removes_the_highlighted_participant(
    dream_server: DreamServer, server_url: str
) -> None:
    key = dream_server.settings.host_key
    app = DreamApp(server_url, "Host", role="host", key=key)
    async with DreamClient(server_url, "Zara") as zara, running(app) as pilot:
        people = app.query_one(PeoplePanel)
        await until(pilot, lambda: any("Zara" in line for line in people.lines()))
        await pilot.click("#host-remove")
        assert app.notes[-1].startswith("! highlight someone")
        people.highlight(zara.participant)
        await pilot.click("#host-remove")
        await until(pilot, lambda: not any("Zara" in line for line in people.lines()))
        assert app.notes[-1] == f"host: remove {zara.participant} done"
        assert zara.participant not in {m.pid for m in dream_server.sessions["commons"].members}


async def test_a_console_without_the_host_key_is_refused(server_url: str) -> None:
    app = DreamApp(server_url, "Mallory", role="host", key="not-the-key")
    async with running(app, join=False) as pilot:
        await until(pilot, lambda: app.failure is not None)
        assert app.link.joins == 0
        assert "host key" in shown(app, "#link")
        assert shown(app, "#link").startswith("✕ join refused")
        await pilot.click("#host-harmonize")
        await until(pilot, lambda: app.notes[-1].startswith("! not connected"))


async def test_a_participant_removed_by_the_host_is_told_and_stays_out(
    dream_server: DreamServer, server_url: str
) -> None:
    key = dream_server.settings.host_key
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Host", role="host", key=key) as host:
        await host.host("remove", app.link.participant)
        await until(pilot, lambda: app.failure == "removed from the session by the host")
        assert shown(app, "#link") == "✕ removed from the session by the host"
        assert app.link.joins == 1
