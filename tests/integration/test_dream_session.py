"""A real server on a free port with several real clients over loopback sockets."""

from __future__ import annotations

import asyncio

import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import JoinRefused, Refused
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import DreamscapeState, Encoding
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within

pytestmark = pytest.mark.integration


def motif_names(state: DreamscapeState) -> set[str]:
    return {m.name for m in state.motifs}


async def test_everyone_sees_everyones_contributions(server_url: str) -> None:
    async with (
        DreamClient(server_url, "Lyra") as lyra,
        DreamClient(server_url, "Zara", encoding=Encoding.JSON) as zara,
        DreamClient(server_url, "Kai", role="watcher") as kai,
    ):
        await lyra.contribute("moon", intensity=0.9)
        await zara.contribute("river", valence=0.7)
        await zara.whisper("the cocoons pulse together")
        for client in (lyra, zara, kai):
            state = await client.wait_for(
                lambda s: {"moon", "river"} <= motif_names(s) and len(s.whispers) == 1,
                within=within(5),
            )
            assert {p.name for p in state.participants} == {"Lyra", "Zara", "Kai"}
            assert state.whispers[0].text == "the cocoons pulse together"
            assert state.whispers[0].name == "Zara"
        assert lyra.state.motifs == zara.state.motifs or lyra.state.seq != zara.state.seq


async def test_a_watcher_cannot_contribute(server_url: str) -> None:
    async with DreamClient(server_url, "Eamon", role="watcher") as watcher:
        with pytest.raises(Refused) as refused:
            await watcher.contribute("moon")
        assert refused.value.code is ErrorCode.FORBIDDEN


async def test_a_client_that_misses_deltas_resyncs(server_url: str) -> None:
    async with DreamClient(server_url, "Mia") as mia, DreamClient(server_url, "Leo") as leo:
        original = mia._on_frame
        dropped = 0

        async def lossy(frame: bytes | str) -> None:
            nonlocal dropped
            if dropped < 3 and b"delta" in (frame if isinstance(frame, bytes) else b""):
                dropped += 1
                return
            await original(frame)

        mia._on_frame = lossy  # type: ignore[method-assign]
        await leo.contribute("lantern")
        await mia.wait_for(lambda s: "lantern" in motif_names(s), within=within(5))
        assert dropped == 3
        assert mia.resyncs >= 1
        seq = mia.state.seq
        await mia.wait_for(lambda s: s.seq > seq + 3, within=within(5))


async def test_resuming_keeps_the_identity(server_url: str) -> None:
    async with DreamClient(server_url, "Tariq") as first:
        token, pid = first.resume_token, first.participant
    async with DreamClient(server_url, "Tariq", resume=token) as again:
        assert again.participant == pid
        state = await again.wait_for(
            lambda s: any(p.id == pid and p.present for p in s.participants), within=within(5)
        )
        assert sum(1 for p in state.participants if p.name == "Tariq") == 1


async def test_an_unknown_resume_token_is_refused(server_url: str) -> None:
    with pytest.raises(JoinRefused) as refused:
        async with DreamClient(server_url, "Nobody", resume="forged"):
            pass
    assert refused.value.code is ErrorCode.BAD_RESUME_TOKEN


async def test_deltas_come_once_per_tick_with_consecutive_sequence_numbers(
    server_url: str, dream_server: DreamServer
) -> None:
    async with DreamClient(server_url, "Vivienne") as client:
        seqs: list[int] = []
        async with asyncio.timeout(within(5)):
            async for state in client.states():
                seqs.append(state.seq)
                if len(seqs) == 10:
                    break
        assert seqs == list(range(seqs[0], seqs[0] + 10))
        assert client.tick_hz == dream_server.venue.tick_hz
        assert client.resyncs == 0
