"""/metrics answers in Prometheus' text format with what the server really did."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration


def scrape(port: int) -> tuple[str, dict[str, float]]:
    """The content type and every sample of /metrics, keyed ``name{label=value,...}``."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=within(5)) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return content_type, samples


async def test_metrics_count_participants_contributions_refusals_and_ticks(
    dream_server: DreamServer, server_url: str
) -> None:
    async with (
        DreamClient(server_url, "Lyra") as lyra,
        DreamClient(server_url, "Zara", role="watcher") as zara,
    ):
        cid = await lyra.contribute("moon")
        await lyra.whisper("hello")
        with pytest.raises(Refused, match="whisper_too_long"):
            await lyra.whisper("x" * (dream_server.settings.max_whisper_chars + 1))
        await zara.wait_for(lambda s: s.seq > 0 and any(m.name == "moon" for m in s.motifs))
        await lyra.send_frame(b"\xc1 not msgpack")
        after = lyra.state.seq + 2  # the error frame is answered before these deltas come
        await lyra.wait_for(lambda s: s.seq >= after, within=within(5))

        content_type, samples = await asyncio.to_thread(scrape, dream_server.port)

    assert content_type.startswith("text/plain")
    assert cid == 1
    assert samples["dreamcommons_sessions{}"] == 1
    assert samples["dreamcommons_participants{}"] == 2
    assert samples["dreamcommons_connections{}"] == 2
    assert samples["dreamcommons_contributions_accepted_total{kind=motif}"] == 1
    assert samples["dreamcommons_contributions_accepted_total{kind=whisper}"] == 1
    assert samples["dreamcommons_frames_refused_total{reason=malformed_frame}"] == 1
    assert samples["dreamcommons_ticks_total{}"] >= 2
    assert samples["dreamcommons_tick_seconds_count{}"] >= 2
    assert samples["dreamcommons_broadcast_bytes_total{}"] > 0
    assert samples["dreamcommons_devices_online{}"] == 0
    assert samples["dreamcommons_limits_refused_total{code=whisper_too_long}"] == 1


async def test_metrics_of_a_journaling_server_show_its_commits(tmp_path: Path) -> None:
    settings = ServerSettings(port=0, journal=tmp_path / "dreams.sqlite", open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        async with DreamClient(f"ws://127.0.0.1:{server.port}/commons", "Lyra") as lyra:
            await lyra.contribute("moon")  # acknowledged once committed
        _, samples = await asyncio.to_thread(scrape, server.port)
    assert samples["dreamcommons_journal_healthy{}"] == 1
    assert samples["dreamcommons_journal_commit_seconds_count{}"] >= 1
    assert samples["dreamcommons_journal_commit_seconds_sum{}"] > 0
    assert samples["dreamcommons_journal_events_total{}"] >= 2  # the join and the motif
    assert samples["dreamcommons_journal_commit_failures_total{}"] == 0


async def test_a_refused_contribution_is_counted_once(
    dream_server: DreamServer, server_url: str
) -> None:
    """The engine refuses a watcher's contribution; the gateway counts the refusal, once."""
    async with DreamClient(server_url, "Eamon", role="watcher") as eamon:
        with pytest.raises(Refused, match="forbidden"):
            await eamon.contribute("moon")
        _, once = await asyncio.to_thread(scrape, dream_server.port)
        with pytest.raises(Refused, match="forbidden"):
            await eamon.whisper("let me in")
        _, twice = await asyncio.to_thread(scrape, dream_server.port)
    assert once["dreamcommons_frames_refused_total{reason=forbidden}"] == 1
    assert twice["dreamcommons_frames_refused_total{reason=forbidden}"] == 2
    assert twice["dreamcommons_contributions_accepted_total{kind=motif}"] == 0
    assert twice["dreamcommons_contributions_accepted_total{kind=whisper}"] == 0
