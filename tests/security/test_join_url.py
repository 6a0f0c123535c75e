"""The session's name and the join code in the WebSocket URL, as a raw client (not
DreamClient) meets them on a real, closed server: one rule for the path, the query and the
join frame."""

from __future__ import annotations

import time

import pytest
from websockets.asyncio.client import connect

from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.server.gateway import DreamServer
from tests.security.test_attacks import Frame, code_of, refused, reply_to

pytestmark = pytest.mark.integration


async def join_at(server: DreamServer, path: str, **fields: object) -> Frame:
    """Connect to ``ws://127.0.0.1:PORT{path}`` and send a join of session commons."""
    url = f"ws://127.0.0.1:{server.port}{path}"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        frame = {"type": "join", "session": "commons", "name": "Raw", **fields}
        return await reply_to(ws, frame)


async def test_a_code_in_the_url_admits_a_raw_client(closed_server: DreamServer) -> None:
    code = code_of(closed_server)
    welcome = await join_at(closed_server, f"/commons?code={code}")
    assert welcome["type"] == "welcome"
    dashed = f"{code[:4].lower()}-{code[4:]}"
    assert (await join_at(closed_server, f"/?code={dashed}"))["type"] == "welcome"
    wrong = await join_at(closed_server, "/commons?code=AAAAAAAA")
    assert refused(wrong, ErrorCode.BAD_INVITATION)
    assert refused(await join_at(closed_server, "/commons"), ErrorCode.INVITATION_REQUIRED)


async def test_what_the_join_carries_wins_over_the_url(closed_server: DreamServer) -> None:
    code = code_of(closed_server)
    answer = await join_at(closed_server, "/commons?code=AAAAAAAA", code=code)
    assert answer["type"] == "welcome"
    answer = await join_at(closed_server, f"/commons?code={code}", code="AAAAAAAA")
    assert refused(answer, ErrorCode.BAD_INVITATION)


async def test_an_invitation_in_the_url_admits_in_its_role(closed_server: DreamServer) -> None:
    token = closed_server.gatekeeper.invite("commons", "watcher", int(time.time()) + 60)
    welcome = await join_at(closed_server, f"/commons?token={token}")
    assert welcome["type"] == "welcome"
    member = next(m for m in closed_server.sessions["commons"].members if m.name == "Raw")
    assert member.role == "watcher"
    answer = await join_at(closed_server, f"/commons?token={token}", role="dreamer")
    assert refused(answer, ErrorCode.BAD_INVITATION)  # a watcher's invitation, not a dreamer's


async def test_the_path_names_the_session(closed_server: DreamServer) -> None:
    code = code_of(closed_server)
    answer = await join_at(closed_server, f"/elsewhere?code={code}", code=code)
    assert refused(answer, ErrorCode.INVALID_FIELD)
    assert "elsewhere" in str(answer["message"])
    assert "elsewhere" not in closed_server.sessions
    assert closed_server.sessions == {}  # a refused join opens nothing
    assert (await join_at(closed_server, "/", code=code))["type"] == "welcome"
