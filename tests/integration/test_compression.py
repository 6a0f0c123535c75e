"""permessage-deflate is off unless the host turns it on: a browser offers it, and deflating
each tick's frame for each connection would cost more than the rest of the fan-out."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

JOIN = {"type": "join", "v": 2, "session": "commons", "name": "Ada"}
MOON = {"type": "contribute", "cid": 1, "motif": "moon", "intensity": 0.7, "valence": 0.1,
        "arousal": 0.2}  # fmt: skip


async def next_frame(ws: Any) -> dict[str, Any]:
    frame: dict[str, Any] = msgpack.unpackb(await asyncio.wait_for(ws.recv(), within(5)))
    return frame


@pytest.mark.parametrize("compression", [False, True])
async def test_deflate_is_negotiated_only_when_the_host_turns_it_on(compression: bool) -> None:
    settings = ServerSettings(port=0, open_sessions=("*",), compression=compression)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        protocol = Subprotocol(Encoding.MSGPACK.value)
        async with connect(url, subprotocols=[protocol], compression="deflate") as ws:
            offered = ws.response.headers.get("Sec-WebSocket-Extensions") if ws.response else None
            assert (offered is not None and "permessage-deflate" in offered) is compression
            await ws.send(msgpack.packb(JOIN))
            assert (await next_frame(ws))["type"] == "welcome"
            await ws.send(msgpack.packb(MOON))
            seen = [await next_frame(ws) for _ in range(3)]
            assert "ack" in [frame["type"] for frame in seen]
