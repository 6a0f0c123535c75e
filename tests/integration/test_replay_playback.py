"""A served replay's own playback per connection: a ``playback`` message moves a viewer to a
time of the recorded night (the state the journal had then) and sets its pace, paused
included, without disturbing anyone else; bad values are refused and the connection stays."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.contracts.protocol import Delta, DreamscapeState, Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal import replay_file
from dreamcommons.server.journal.keyframes import IndexedNight
from dreamcommons.server.replay_server import INBOX_FRAMES, ReplayServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within
from tests.recorded_nights import SESSION, write_night

pytestmark = pytest.mark.integration

NIGHT_S = 120.0


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    journal = tmp_path_factory.mktemp("replay") / "night.sqlite"
    asyncio.run(write_night(journal, NIGHT_S))
    return journal


@pytest.fixture(scope="module")
def recorded(night: Path) -> list[DreamscapeState]:
    """Every tick's state of the night, replayed from its first event."""
    return [state for state, _ in replay_file(night, SESSION)]


def journal_at(recorded: list[DreamscapeState], t: float) -> DreamscapeState:
    """The state after the last tick at or before ``t``."""
    return [state for state in recorded if state.t <= t][-1]


@pytest.fixture
async def replay(night: Path) -> AsyncIterator[ReplayServer]:
    server = ReplayServer(night, SESSION, "127.0.0.1", 0, speed=1.0)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


class Viewer:
    """A raw JSON connection to the replay, keeping the state its frames build."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.state: DreamscapeState | None = None

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self) -> dict[str, Any]:
        """The next frame, with any delta or snapshot applied to ``state``."""
        async with asyncio.timeout(within(10)):
            frame: dict[str, Any] = json.loads(await self.ws.recv())
        if frame["type"] == "delta":
            assert self.state is not None
            assert frame["seq"] == self.state.seq + 1, "deltas follow each other"
            self.state = self.state.apply(Delta.model_validate(frame))
        elif frame["type"] in ("welcome", "snapshot"):
            self.state = DreamscapeState.model_validate(frame["state"])
        return frame

    async def answer(self, kind: str) -> dict[str, Any]:
        """Frames up to the first of type ``kind`` (deltas before it are applied)."""
        while (frame := await self.next())["type"] != kind:
            assert frame["type"] == "delta", frame
        return frame

    async def playback(self, **fields: Any) -> DreamscapeState:
        await self.send(type="playback", **fields)
        await self.answer("snapshot")
        assert self.state is not None
        return self.state

    async def close(self) -> None:
        """Pause, read what was in flight, and close (unread frames would hold the close up)."""
        await self.playback(speed=0)
        await self.ws.close()

    async def until_t(self, t: float) -> DreamscapeState:
        while self.state is None or self.state.t < t:
            await self.next()
        return self.state


async def viewer(server: ReplayServer) -> Viewer:
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/{SESSION}",
        subprotocols=[Encoding.JSON.value],  # type: ignore[list-item]
    )
    joined = Viewer(ws)
    await joined.send(type="join", session=SESSION, name="Kai", role="watcher")
    await joined.answer("welcome")
    return joined


async def test_seeking_gives_the_state_the_journal_had_at_that_time(
    replay: ReplayServer, recorded: list[DreamscapeState]
) -> None:
    kai = await viewer(replay)
    assert replay.duration_s == pytest.approx(NIGHT_S)
    for at in (87.25, 12.0, 119.95, 0.0):
        state = await kai.playback(at=at, speed=0)
        assert state == journal_at(recorded, at) if at > 0 else state.seq == 0
    later = await kai.playback(at=61.0, speed=60)
    assert later == journal_at(recorded, 61.0)
    reached = await kai.until_t(75.0)  # the deltas from there build the journal's states
    assert reached == journal_at(recorded, reached.t)
    await kai.close()


async def test_speed_sets_the_pace_and_pause_stops_it_each_viewer_on_its_own(
    replay: ReplayServer,
) -> None:
    slow, fast, paused = await viewer(replay), await viewer(replay), await viewer(replay)
    await slow.playback(at=10.0, speed=1)
    await fast.playback(at=10.0, speed=60)
    held = await paused.playback(at=100.0, speed=0)
    following = asyncio.create_task(slow.until_t(NIGHT_S))
    reached = await fast.until_t(40.0)  # 30 s of the night for the fast one
    assert slow.state is not None
    assert 10.0 <= slow.state.t < 10.0 + (reached.t - 10.0) / 4  # a fraction of that way
    following.cancel()
    await paused.send(type="ping", n=7)
    assert (await paused.next())["type"] == "pong"  # no delta came before it: it is paused
    await paused.send(type="resync")
    assert (await paused.answer("snapshot"))["state"]["t"] == held.t
    resumed = await paused.playback(speed=16)
    assert resumed == held  # a change of pace alone stays where it was
    after = await paused.until_t(held.t + 1.0)
    assert after.t > held.t
    for connection in (slow, fast, paused):
        await connection.close()


async def test_a_viewer_at_the_end_stays_there_and_may_seek_back(replay: ReplayServer) -> None:
    kai = await viewer(replay)
    await kai.playback(at=118.0, speed=1000)
    end = await kai.until_t(NIGHT_S)
    await kai.send(type="ping", n=1)
    assert (await kai.next())["type"] == "pong"
    assert end.t == pytest.approx(NIGHT_S)
    back = await kai.playback(at=3.0)
    assert back.t <= 3.0
    await kai.close()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"at": -1.0}, "at"),
        ({"at": 121.0}, "past the end of the night"),
        ({"speed": -2}, "speed"),
        ({"speed": 5000}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"at": 5, "loop": True}, "loop"),
    ],
)
async def test_bad_playback_values_are_refused_and_the_connection_stays(
    replay: ReplayServer, fields: dict[str, Any], says: str
) -> None:
    kai = await viewer(replay)
    before = await kai.playback(speed=0)
    await kai.send(type="playback", **fields)
    error = await kai.answer("error")
    assert error["code"] == "invalid_field"
    assert says in error["message"]
    assert await kai.playback() == before  # still there, still paused
    await kai.close()


async def test_playback_needs_a_join_and_contributions_stay_refused(
    replay: ReplayServer,
) -> None:
    ws = await connect(
        f"ws://127.0.0.1:{replay.port}/{SESSION}",
        subprotocols=[Encoding.JSON.value],  # type: ignore[list-item]
    )
    stranger = Viewer(ws)
    await stranger.send(type="playback", at=5.0)
    assert (await stranger.answer("error"))["code"] == "not_joined"
    await stranger.send(type="join", session=SESSION, name="Kai", role="watcher")
    await stranger.answer("welcome")
    await stranger.send(type="contribute", cid=1, motif="moon")
    refused = await stranger.answer("error")
    assert (refused["code"], refused["ref"]) == ("forbidden", 1)
    await ws.close()


async def test_a_live_server_refuses_playback_and_keeps_the_connection() -> None:
    settings = ServerSettings(port=0, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        ws = await connect(
            f"ws://127.0.0.1:{server.port}/{SESSION}",
            subprotocols=[Encoding.JSON.value],  # type: ignore[list-item]
        )
        kai = Viewer(ws)
        await kai.send(type="join", session=SESSION, name="Kai", role="watcher")
        await kai.answer("welcome")
        await kai.send(type="playback", at=5.0, speed=4)
        assert (await kai.answer("error"))["code"] == "forbidden"
        await kai.send(type="ping", n=3)
        while (frame := await kai.next())["type"] != "pong":
            assert frame["type"] in ("delta", "notice"), frame
        await ws.close()


def test_keyframes_stay_within_their_memory_and_still_find_each_state(
    night: Path, recorded: list[DreamscapeState]
) -> None:
    indexed = IndexedNight(night, SESSION, None)
    try:
        indexed.build()
        one = len(indexed.keyframes[1].snapshot)
        assert indexed.every_s == 10.0
        assert len(indexed.keyframes) == 12  # every 10 s of the 120
    finally:
        indexed.close()
    bounded = IndexedNight(night, SESSION, None)
    try:
        bounded.max_bytes = 3 * one
        bounded.build()
        assert bounded.keyframe_bytes <= bounded.max_bytes + one
        assert bounded.every_s > 10.0
        for at in (0.15, 33.3, 64.0, 119.0):
            assert bounded.enter(at).state == journal_at(recorded, at)
    finally:
        bounded.close()


def test_a_night_half_indexed_is_entered_anywhere_all_the_same(
    night: Path, recorded: list[DreamscapeState]
) -> None:
    indexed = IndexedNight(night, SESSION, None)
    try:
        assert indexed.build_some(400)  # 40 s of the 120 (10 ticks a second)
        assert not indexed.indexed
        assert [frame.t for frame in indexed.keyframes][-1] < 45.0
        for at in (0.15, 33.3, 64.0, 119.0):  # before, and far past, the last keyframe kept
            assert indexed.enter(at).state == journal_at(recorded, at)
        while indexed.build_some(400):
            pass
        assert indexed.indexed
        assert len(indexed.keyframes) == 12
        assert not indexed.build_some(400)
    finally:
        indexed.close()


async def test_a_flood_of_playback_moves_is_limited_and_the_connection_stays(
    replay: ReplayServer,
) -> None:
    kai = await viewer(replay)
    await kai.playback(speed=0)
    for n in range(40):
        await kai.send(type="playback", at=float(n))
    answers = [await kai.next() for _ in range(40)]
    refused = [frame for frame in answers if frame["type"] == "error"]
    assert 0 < len(refused) < 40
    assert {frame["code"] for frame in refused} == {"rate_limited"}
    assert "playback moves a second" in refused[0]["message"]
    await kai.send(type="ping", n=2)
    assert (await kai.next())["type"] == "pong"
    await kai.ws.close()  # paused: nothing is in flight


async def test_a_fault_of_the_replay_server_closes_with_1011_and_reading_stops_waiting(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    kai = await viewer(replay)
    await kai.playback(speed=0)

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug of the server's")

    monkeypatch.setattr(replay, "_answer", broken)
    for n in range(3 * INBOX_FRAMES):  # more than the inbox holds: read on, nowhere
        with contextlib.suppress(ConnectionClosed):
            await kai.send(type="ping", n=n)
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(within(10)):
            while True:
                await kai.ws.recv()
    assert kai.ws.close_code == 1011
    assert "replay connection failed" in caplog.text
