"""Oversized frames, malformed msgpack and JSON, wrong types, unknown fields, between good
contributions: each bad frame gets a clear error and is counted; every good one is kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import msgpack
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import MotifContributed
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.journal.reading import iter_events
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration

MALFORMED = ErrorCode.MALFORMED_FRAME
INVALID = ErrorCode.INVALID_FIELD
TOO_LARGE = ErrorCode.FRAME_TOO_LARGE
UNKNOWN = ErrorCode.UNKNOWN_TYPE


def packed(message: object) -> bytes:
    frame: bytes = msgpack.packb(message)
    return frame


BAD_MSGPACK: list[tuple[bytes | str, ErrorCode]] = [
    (b"\xc1\x00", MALFORMED),
    (
        packed({"type": "contribute", "cid": 1, "motif": "moon"})[:-3],
        MALFORMED,
    ),
    ("a text frame", MALFORMED),
    (packed([1, 2, 3]), MALFORMED),
    (packed({"type": "teleport"}), UNKNOWN),
    (packed({"type": "contribute", "cid": "one", "motif": "moon"}), INVALID),
    (packed({"type": "contribute", "cid": 1, "motif": 7}), INVALID),
    (
        packed({"type": "contribute", "cid": 1, "motif": "moon", "x": 1}),
        INVALID,
    ),
    (packed({"type": "whisper", "cid": 1, "text": "x" * 20_000}), TOO_LARGE),
]
BAD_JSON: list[tuple[bytes | str, ErrorCode]] = [
    ('{"type": "contribute", "cid": 1,', ErrorCode.MALFORMED_FRAME),
    (b"\x93\x01\x02\x03", ErrorCode.MALFORMED_FRAME),
    ('"just a string"', ErrorCode.MALFORMED_FRAME),
    ('{"type": "share", "cid": 1, "level": "lots"}', ErrorCode.INVALID_FIELD),
    ('{"type": "contribute", "cid": 1, "motif": "moon", "mood": "dark"}', ErrorCode.INVALID_FIELD),
    (json.dumps({"type": "whisper", "cid": 1, "text": "y" * 20_000}), ErrorCode.FRAME_TOO_LARGE),
]


@pytest.fixture
async def journaled(tmp_path: Path) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(
        port=0, journal=tmp_path / "dreams.sqlite", max_errors=100, open_sessions=("*",)
    )
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        yield server


@pytest.mark.parametrize(
    ("encoding", "bad"), [(Encoding.MSGPACK, BAD_MSGPACK), (Encoding.JSON, BAD_JSON)]
)
async def test_bad_frames_are_refused_and_counted_and_good_ones_all_kept(
    journaled: DreamServer, encoding: Encoding, bad: list[tuple[bytes | str, ErrorCode]]
) -> None:
    url = f"ws://127.0.0.1:{journaled.port}/commons"
    acked: list[int] = []
    async with DreamClient(url, "Lyra", encoding=encoding) as lyra:
        for n, (frame, _) in enumerate(bad):
            acked.append(await lyra.contribute(f"motif-{n}"))
            await lyra.send_frame(frame)
        acked.append(await lyra.contribute("moon"))
        await lyra.wait_for(lambda _: len(lyra.errors) == len(bad), within(5))
        assert [error.code for error in lyra.errors] == [code for _, code in bad]
        assert all(error.message for error in lyra.errors)
        refused = journaled.sessions["commons"].stats.refused
        assert sum(refused.values()) == len(bad)
        pid = lyra.participant
    assert journaled.settings.journal is not None
    conn = connect_reader(journaled.settings.journal)
    try:
        kept = {
            event.cid
            for _, _, event in iter_events(conn, "commons")
            if isinstance(event, MotifContributed) and event.participant == pid
        }
    finally:
        conn.close()
    assert kept == set(acked)
