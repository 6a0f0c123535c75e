"""The app stays joined by itself: it resumes with its token after a drop and a server restart."""

from __future__ import annotations

import pytest
from websockets.frames import CloseCode

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.tui.app import DreamApp
from dreamcommons.client.tui.field import DreamField
from dreamcommons.client.tui.panels import PeoplePanel
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.processes import free_port
from tests.tui.conftest import joined, running, shown, type_line, until

pytestmark = pytest.mark.integration


def people_lines(app: DreamApp) -> list[str]:
    return app.query_one(PeoplePanel).lines()


async def test_after_a_drop_the_app_resumes_as_the_same_participant(
    dream_server: DreamServer, server_url: str
) -> None:
    app = DreamApp(server_url, "Lyra")
    async with running(app) as pilot, DreamClient(server_url, "Zara") as zara:
        await type_line(pilot, "ember")
        await zara.wait_for(lambda s: any(m.name == "ember" for m in s.motifs), within(5))
        me, token = app.link.participant, app.link.resume_token
        member = dream_server.sessions["commons"].member(me)
        assert member is not None
        assert member.connection is not None
        await member.connection.close(CloseCode.GOING_AWAY, "network blip")

        await until(pilot, lambda: app.link.joins == 2 and app.link.dream is not None)
        assert app.link.participant == me
        assert app.link.resume_token == token
        assert f"resumed commons as {me}" in shown(app, "#link")
        assert "connection lost" in app.statuses
        await type_line(pilot, "phoenix")
        state = await zara.wait_for(
            lambda s: {"ember", "phoenix"} <= {m.name for m in s.motifs}, within(5)
        )
        assert [p.id for p in state.participants if p.name == "Lyra"] == [me]
        await until(pilot, lambda: "phoenix" in app.query_one(DreamField).text())


async def test_after_a_server_restart_on_the_same_port_the_app_comes_back() -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/commons"
    settings = ServerSettings(port=port, open_sessions=("*",))
    venue = load_venue("sleep-commons")
    app = DreamApp(url, "Lyra")
    async with running(app, join=False) as pilot:
        async with DreamServer(settings, venue):
            await joined(pilot, app)
            await type_line(pilot, "ember")
            await until(pilot, lambda: "ember" in app.query_one(DreamField).text())
            first = app.link.participant
        await until(pilot, lambda: app.link.dream is None and "reconnecting" in shown(app, "#link"))

        async with DreamServer(settings, venue), DreamClient(url, "Zara") as zara:
            await until(pilot, lambda: app.link.joins == 2 and app.link.dream is not None, 10)
            # It came back with its resume token first. A server that kept the session resumes
            # the same participant; one that forgot it (no journal) says so, and the app joins
            # afresh rather than giving up.
            if f"resumed commons as {first}" in app.statuses:
                assert app.link.participant == first
            else:
                assert "the server no longer knows this participant: joining fresh" in app.statuses
            await type_line(pilot, "phoenix")
            await zara.wait_for(lambda s: any(m.name == "phoenix" for m in s.motifs), within(5))
            await until(pilot, lambda: "phoenix" in app.query_one(DreamField).text())
            await until(pilot, lambda: any("Zara" in line for line in people_lines(app)))
