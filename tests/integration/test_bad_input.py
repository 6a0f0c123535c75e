"""Bad frames get error frames with stable codes; the connection survives a first mistake."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from dreamcommons.contracts.errors import CloseCode, ErrorCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within

pytestmark = pytest.mark.integration

INVALID = ErrorCode.INVALID_FIELD
TOO_LARGE = ErrorCode.FRAME_TOO_LARGE


async def send_json(ws: ClientConnection, frame: str) -> dict[str, object]:
    await ws.send(frame)
    while True:
        reply = json.loads(await ws.recv(decode=True))
        if reply["type"] not in ("delta",):
            return reply  # type: ignore[no-any-return]


async def joined_json(url: str) -> ClientConnection:
    ws = await connect(url, subprotocols=[Encoding.JSON.value])  # type: ignore[list-item]
    welcome = await send_json(ws, json.dumps({"type": "join", "session": "commons", "name": "Q"}))
    assert welcome["type"] == "welcome"
    return ws


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", ErrorCode.MALFORMED_FRAME),
        ("[1, 2, 3]", ErrorCode.MALFORMED_FRAME),
        ('{"type": "teleport"}', ErrorCode.UNKNOWN_TYPE),
        ('{"cid": 3}', ErrorCode.INVALID_FIELD),
        (
            '{"type": "contribute", "cid": 1, "motif": "moon", "intensity": 7}',
            ErrorCode.INVALID_FIELD,
        ),
        (
            '{"type": "contribute", "cid": 1, "motif": "moon", "colour": "red"}',
            ErrorCode.INVALID_FIELD,
        ),
        ('{"type": "contribute", "cid": 1, "motif": {"a": 1}}', ErrorCode.INVALID_FIELD),
        ('{"type": "whisper", "cid": 1, "text": ""}', ErrorCode.INVALID_FIELD),
        ('{"type": "join", "session": "commons", "name": "again"}', ErrorCode.ALREADY_JOINED),
        (
            '{"type": "whisper", "cid": 1, "text": "' + "x" * 20_000 + '"}',
            ErrorCode.FRAME_TOO_LARGE,
        ),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_connection_lives_on(
    server_url: str, frame: str, code: ErrorCode
) -> None:
    ws = await joined_json(server_url)
    try:
        reply = await send_json(ws, frame)
        assert reply["type"] == "error"
        assert reply["code"] == code.value
        assert reply["message"]
        ok = await send_json(ws, json.dumps({"type": "contribute", "cid": 9, "motif": "moon"}))
        assert ok == {"type": "ack", "cid": 9}
    finally:
        await ws.close()


async def test_an_invalid_contribution_names_its_cid(server_url: str) -> None:
    ws = await joined_json(server_url)
    reply = await send_json(ws, '{"type": "contribute", "cid": 41, "motif": "Not A Motif"}')
    assert (reply["code"], reply["ref"]) == (ErrorCode.INVALID_FIELD.value, 41)
    assert "motif" in str(reply["message"])
    await ws.close()


async def test_contributing_before_joining_is_refused(server_url: str) -> None:
    async with connect(server_url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        reply = await send_json(ws, '{"type": "contribute", "cid": 1, "motif": "moon"}')
        assert reply["code"] == ErrorCode.NOT_JOINED.value


async def test_a_newer_protocol_version_is_refused(server_url: str) -> None:
    async with connect(server_url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        join = {"type": "join", "v": 99, "session": "commons", "name": "Future"}
        reply = await send_json(ws, json.dumps(join))
        assert reply["code"] == ErrorCode.UNSUPPORTED_VERSION.value


async def test_a_v1_join_on_a_v2_connection_is_refused(server_url: str) -> None:
    async with connect(server_url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        join = {"type": "join", "v": 1, "session": "commons", "name": "Old"}
        reply = await send_json(ws, json.dumps(join))
        assert reply["code"] == ErrorCode.UNSUPPORTED_VERSION.value
        assert "speaks 2" in str(reply["message"])


@pytest.mark.parametrize(
    "offered",
    [["dreamcommons.v1.msgpack"], ["dreamcommons.v1.json", "chat"], []],
    ids=["v1-msgpack", "v1-json-and-another", "none"],
)
async def test_a_handshake_without_a_v2_subprotocol_is_refused_naming_v2(
    server_url: str, offered: list[str]
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(server_url, subprotocols=[Subprotocol(name) for name in offered] or None)
    response = refused.value.response
    assert response.status_code == 400
    body = response.body.decode()
    assert body.startswith("unsupported_version: this server speaks dreamcommons v2")
    assert "dreamcommons.v2.msgpack or dreamcommons.v2.json" in body
    assert (", ".join(offered) or "no subprotocol") in body
    # the same server takes a client that offers v2 among others, and picks it
    both = [Subprotocol("dreamcommons.v1.json"), Subprotocol(Encoding.JSON.value)]
    async with connect(server_url, subprotocols=both) as ws:
        assert ws.subprotocol == Encoding.JSON.value


async def test_malformed_msgpack_and_text_on_a_binary_connection(server_url: str) -> None:
    async with connect(server_url, subprotocols=[Encoding.MSGPACK.value]) as ws:  # type: ignore[list-item]
        for frame in (b"\xc1\xff\x00", "a text frame", msgpack.packb({"type": 5})):
            await ws.send(frame)
            reply = msgpack.unpackb(await ws.recv())
            assert reply["type"] == "error"
        join = msgpack.packb({"type": "join", "session": "commons", "name": "Bin"})
        await ws.send(join)
        assert msgpack.unpackb(await ws.recv())["type"] == "welcome"


async def test_repeated_abuse_closes_the_connection_but_not_the_server(
    server_url: str, dream_server: DreamServer
) -> None:
    ws = await joined_json(server_url)
    for _ in range(dream_server.settings.max_errors):
        await send_json(ws, "garbage")
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.TOO_MANY_ERRORS
    again = await joined_json(server_url)
    ok = await send_json(again, json.dumps({"type": "contribute", "cid": 1, "motif": "moon"}))
    assert ok["type"] == "ack"
    await again.close()


async def test_accepted_contributions_survive_a_neighbours_abuse(server_url: str) -> None:
    good = await joined_json(server_url)
    await send_json(good, json.dumps({"type": "contribute", "cid": 1, "motif": "hearth"}))
    while not json.loads(await good.recv(decode=True)).get("applied"):
        pass  # wait for the tick that merges it
    bad = await joined_json(server_url)
    for _ in range(3):
        await send_json(bad, "\x00\x01")
    await bad.close()
    async with connect(server_url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        welcome = await send_json(ws, '{"type": "join", "session": "commons", "name": "Late"}')
        motifs = {m["name"] for m in welcome["state"]["motifs"]}  # type: ignore[index]
        assert "hearth" in motifs
    await good.close()


def fetch(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=within(5)) as response:
        return response.status, json.loads(response.read())


async def test_healthz_answers_over_plain_http(dream_server: DreamServer) -> None:
    url = f"http://127.0.0.1:{dream_server.port}/healthz"
    status, body = await asyncio.to_thread(fetch, url)
    assert status == 200
    assert body["status"] == "ok"
    assert body["venue"] == "sleep-commons"
