"""Members who left stop costing the room: join-and-leave floods leave the welcome small, the
members bounded, and one address cannot create members faster than its rate; a member who was
hidden comes back as the same participant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons")
SECRET = "ghost-members-test-secret"
Frame = dict[str, Any]  # a decoded JSON frame, read field by field


def settings(**overrides: object) -> ServerSettings:
    fields: dict[str, object] = {
        "port": 0,
        "secret": SECRET,
        "new_members_per_s": 1e6,
        "new_member_burst": 1_000_000,
        **overrides,
    }
    return ServerSettings.model_validate(fields)


@asynccontextmanager
async def joined(
    server: DreamServer, **join: object
) -> AsyncIterator[tuple[ClientConnection, Frame]]:
    """A connection that joined ``commons`` with its code, and the server's answer."""
    url = f"ws://127.0.0.1:{server.port}/commons"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        frame = {
            "type": "join",
            "session": "commons",
            "name": "Ghost",
            "code": server.gatekeeper.join_code("commons"),
            **join,
        }
        await ws.send(json.dumps(frame))
        yield ws, await next_frame(ws, lambda f: f["type"] != "delta")


async def next_frame(ws: ClientConnection, wanted: Callable[[Frame], bool]) -> Frame:
    async with asyncio.timeout(within(5)):
        while True:
            frame: Frame = json.loads(await ws.recv(decode=True))
            if wanted(frame):
                return frame


def seen(delta: Frame, pid: object) -> bool:
    """Whether ``delta`` lists ``pid`` among the participants it changed."""
    people = delta.get("participants", ())
    return isinstance(people, list) and any(p["id"] == pid for p in people)


def listed(welcome: Frame) -> list[Frame]:
    state = welcome["state"]
    assert isinstance(state, dict), welcome
    people = state["participants"]
    assert isinstance(people, list)
    return people


async def join_and_leave(server: DreamServer, cycles: int, parallel: int = 16) -> None:
    async def one() -> None:
        async with joined(server) as (_, welcome):
            assert welcome["type"] == "welcome", welcome

    for start in range(0, cycles, parallel):
        await asyncio.gather(*(one() for _ in range(min(parallel, cycles - start))))


async def test_thousands_of_join_and_leave_cycles_leave_the_welcome_small() -> None:
    async with DreamServer(settings(max_away_shown=8, max_resumable=100), VENUE) as server:
        await join_and_leave(server, 2000)
        session = server.sessions["commons"]
        await eventually(lambda: session.present_count() == 0, "everyone gone")
        ticks = session.stats.ticks  # the welcome's dreamscape is the last tick's
        await eventually(lambda: session.stats.ticks > ticks, "a tick after they left")
        async with joined(server, name="Lyra") as (_, welcome):
            people = listed(welcome)
            assert len(people) <= 8 + 1
            assert len(json.dumps(welcome)) < 4096
            assert len(session.members) <= 8 + 100 + 1


async def test_a_hidden_member_resumes_as_the_same_participant_and_others_see_it() -> None:
    async with (
        DreamServer(settings(max_away_shown=0), VENUE) as server,
        joined(server, name="Ada", role="watcher") as (watcher, _),
    ):
        async with joined(server, name="Lyra") as (_, welcome):
            pid, token = welcome["participant"], welcome["resume"]
            await next_frame(watcher, lambda f: seen(f, pid))
        left = await next_frame(watcher, lambda f: pid in f.get("left", ()))
        assert left["type"] == "delta"
        async with joined(server, name="Lyra", resume=token) as (_, again):
            assert again["type"] == "welcome", again
            assert again["participant"] == pid
            back = await next_frame(watcher, lambda f: seen(f, pid))
            assert [(p["id"], p["name"], p["present"]) for p in back["participants"]] == [
                (pid, "Lyra", True)
            ]


async def test_members_away_too_long_are_hidden_then_forgotten() -> None:
    overrides = {"away_shown_s": 0.0, "resume_window_s": 0.05}
    async with (
        DreamServer(settings(**overrides), VENUE) as server,
        joined(server, name="Ada", role="watcher") as (watcher, _),
    ):
        async with joined(server, name="Lyra") as (_, welcome):
            pid, token = welcome["participant"], welcome["resume"]
            await next_frame(watcher, lambda f: seen(f, pid))
        await next_frame(watcher, lambda f: pid in f.get("left", ()))
        session = server.sessions["commons"]
        await eventually(lambda: session.member(str(pid)) is None, "Lyra forgotten")
        async with joined(server, name="Lyra", resume=token) as (_, refused):
            assert refused["code"] == ErrorCode.BAD_RESUME_TOKEN.value


async def test_a_full_session_hides_the_longest_away_then_refuses() -> None:
    async with (
        DreamServer(settings(max_members=3), VENUE) as server,
        joined(server, name="Ada") as (watcher, _),
        joined(server, name="Bo") as _,
    ):
        async with joined(server, name="Cy") as (_, welcome):
            cy = welcome["participant"]
            await next_frame(watcher, lambda f: seen(f, cy))
        async with joined(server, name="Di") as (_, welcome):
            assert welcome["type"] == "welcome", welcome
            async with joined(server, name="Ed") as (_, full):
                assert full["type"] == "error"
                assert full["code"] == ErrorCode.SESSION_FULL.value
        await next_frame(watcher, lambda f: cy in f.get("left", ()))


async def test_one_address_creates_members_only_at_its_rate_and_resuming_is_free() -> None:
    async with DreamServer(settings(new_members_per_s=0.001, new_member_burst=3), VENUE) as server:
        tokens = []
        for _ in range(3):
            async with joined(server) as (_, welcome):
                tokens.append(welcome["resume"])
        async with joined(server) as (_, refused):
            assert refused["code"] == ErrorCode.RATE_LIMITED.value
            assert "try again in" in str(refused["message"])
        async with joined(server, resume=tokens[0]) as (_, welcome):
            assert welcome["type"] == "welcome", welcome
        assert server.limits.refused[ErrorCode.RATE_LIMITED.value] == 1


async def test_after_a_restart_the_journal_lists_few_and_a_hidden_member_still_resumes(
    tmp_path: Path,
) -> None:
    journaled = settings(journal=tmp_path / "dreams.sqlite", max_away_shown=2, max_resumable=10)
    async with DreamServer(journaled, VENUE) as server:
        async with joined(server, name="First") as (_, welcome):
            first = welcome["resume"]
        await join_and_leave(server, 30, parallel=1)  # First is forgotten: 10 are kept
        async with joined(server, name="Lyra") as (_, welcome):
            pid, token = welcome["participant"], welcome["resume"]
        await join_and_leave(server, 4, parallel=1)  # Lyra is hidden by the others leaving
    async with DreamServer(journaled, VENUE) as server:
        session = server.sessions["commons"]
        assert len(session.members) <= 10 + 2
        assert session.listed_count() <= 2
        async with joined(server, name="Lyra", resume=token) as (_, again):
            assert again["type"] == "welcome", again
            assert again["participant"] == pid
            assert len(listed(again)) <= 2 + 1
        async with joined(server, name="First", resume=first) as (_, refused):
            assert refused["code"] == ErrorCode.BAD_RESUME_TOKEN.value
