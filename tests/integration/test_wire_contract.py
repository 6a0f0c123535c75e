"""What docs/protocol.md promises about the order of answers, cids and frame sizes, held on a
real server: with and without a journal, over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.contracts.protocol import Encoding, applied_map
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import within

pytestmark = pytest.mark.integration


@pytest.fixture(params=["without a journal", "with a journal"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DreamServer]:
    journal = tmp_path / "dreams.sqlite" if request.param == "with a journal" else None
    settings = ServerSettings(port=0, open_sessions=("*",), journal=journal)
    async with DreamServer(settings, load_venue("sleep-commons")) as running:
        yield running


async def joined(server: DreamServer) -> tuple[ClientConnection, str]:
    url = f"ws://127.0.0.1:{server.port}/commons"
    ws = await connect(url, subprotocols=[Encoding.JSON.value])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "join", "session": "commons", "name": "Ada"}))
    welcome = await receive(ws)
    assert welcome["type"] == "welcome"
    return ws, str(welcome["participant"])


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(within(5)):
        frame: dict[str, Any] = json.loads(await ws.recv(decode=True))
    return frame


async def close_code(ws: ClientConnection) -> int | None:
    """The code the server closes ``ws`` with, reading (and dropping) what comes until then."""
    try:
        async with asyncio.timeout(within(5)):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code


async def answers_until_acknowledged(ws: ClientConnection, acks: int) -> list[tuple[str, object]]:
    """What arrives until ``acks`` acks and a delta with ``applied`` have: ("ack", cid) and
    ("applied", the delta's applied as a map), in order; quiet deltas left out."""
    seen: list[tuple[str, object]] = []
    while sum(kind == "ack" for kind, _ in seen) < acks or ("applied" not in dict(seen)):
        frame = await receive(ws)
        if frame["type"] == "ack":
            seen.append(("ack", frame["cid"]))
        elif frame["type"] == "delta" and frame.get("applied"):
            seen.append(("applied", applied_map(frame["applied"])))
    return seen


async def test_a_newcomer_is_listed_by_the_welcome_or_the_delta_after_it(
    server: DreamServer,
) -> None:
    url = f"ws://127.0.0.1:{server.port}/commons"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "join", "session": "commons", "name": "Ada"}))
        welcome = await receive(ws)
        delta = await receive(ws)
    state = welcome["state"]
    listed = {p["id"] for p in state["participants"]}
    added = {p["id"] for p in delta.get("participants", ())}
    assert delta["seq"] == state["seq"] + 1
    if server.journal is None:  # the last tick came before the join
        assert (welcome["participant"] in listed, welcome["participant"] in added) == (False, True)
    else:  # the join commits at once: a tick came while it was written, or none did
        assert (welcome["participant"] in listed) != (welcome["participant"] in added)


async def test_a_repeated_or_lower_cid_is_taken_and_applied_says_the_highest(
    server: DreamServer,
) -> None:
    ws, me = await joined(server)
    try:
        for cid in (5, 5, 3):
            await ws.send(json.dumps({"type": "contribute", "cid": cid, "motif": "moon"}))
        seen = await answers_until_acknowledged(ws, 3)
        assert [cid for kind, cid in seen if kind == "ack"] == [5, 5, 3]
        assert dict(seen)["applied"] == {me: 5}
        assert server.sessions["commons"].stats.contributions_accepted == 3
    finally:
        await ws.close()


async def test_the_ack_comes_first_without_a_journal_and_after_the_delta_with_one(
    server: DreamServer,
) -> None:
    ws, me = await joined(server)
    try:
        await ws.send(json.dumps({"type": "whisper", "cid": 1, "text": "the moss is warm"}))
        seen = await answers_until_acknowledged(ws, 1)
        if server.journal is None:
            assert seen == [("ack", 1), ("applied", {me: 1})]
        else:
            assert seen == [("applied", {me: 1}), ("ack", 1)]
    finally:
        await ws.close()


async def test_a_frame_over_the_limit_is_refused_and_one_far_over_it_closes(
    server: DreamServer,
) -> None:
    limit = server.settings.max_frame_bytes
    ws, _ = await joined(server)
    try:
        await ws.send(json.dumps({"type": "whisper", "cid": 1, "text": "x" * limit}))
        while (frame := await receive(ws))["type"] == "delta":
            pass
        assert (frame["type"], frame["code"], frame["ref"]) == ("error", "frame_too_large", None)
        await ws.send(json.dumps({"type": "whisper", "cid": 2, "text": "x" * 4 * limit}))
        assert await close_code(ws) == 1009
    finally:
        await ws.close()
