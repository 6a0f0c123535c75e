"""Operating a cluster: ``dreamcommons cluster-demo`` on real processes (a NATS, a Mosquitto,
two engines, two gateways, two ingests, bots with devices on both), and ``--cluster`` with
``--journal`` refused with a clear word."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from dreamcommons.cli.main import main
from tests.conftest import within
from tests.processes import dreamcommons

pytestmark = pytest.mark.integration


def test_cluster_and_journal_together_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DREAMCOMMONS_CLUSTER", raising=False)
    argv = ["host", "--cluster", "nats://127.0.0.1:4222", "--journal", "dreams.sqlite"]
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert "--cluster and --journal do not go together" in said
    assert "JetStream" in said
    assert "Traceback" not in said


@pytest.mark.asyncio
async def test_the_cluster_demo_spreads_bots_over_both_gateways_and_sums_up() -> None:
    args = ("cluster-demo", "--seconds", "4", "--bots", "6", "--json")
    async with dreamcommons(*args, stdin=asyncio.subprocess.DEVNULL) as demo:
        assert demo.stdout is not None
        printed = (await asyncio.wait_for(demo.stdout.read(), within(120))).decode()
        assert await demo.wait() == 0, printed
    summary = json.loads(printed.strip().splitlines()[-1])
    processes = {p["name"]: p for p in summary["processes"]}
    assert set(processes) == {
        "engine-a", "engine-b", "gate-a", "gate-b", "ingest-a", "ingest-b", "nats",
    }  # fmt: skip
    owners = [p["name"] for p in processes.values() if "demo" in p.get("sessions_owned", [])]
    assert len(owners) == 1
    assert processes[owners[0]]["role"] == "engine"
    # three bots on each gateway, and the watcher and the host (the venue's harmonizing is the
    # host's) on the first
    assert (processes["gate-a"]["connections"], processes["gate-b"]["connections"]) == (5, 3)
    assert summary["bots_failed"] == 0
    assert summary["contributions_accepted"] > 0
    assert processes["nats"]["in_msgs"] > 0
    # every bot paired its device by its code; both ingests sent batches on, the owner folded
    assert summary["devices_paired"] == 6
    assert processes["ingest-a"]["batches"] > 0
    assert processes["ingest-b"]["batches"] > 0
    assert processes[owners[0]]["batches"] > 0
    # the browser addresses of both gateways, each on its own port
    dreamscapes = re.findall(r"dreamscape: (http://127\.0\.0\.1:\d+)/s/demo", printed)
    assert len(set(dreamscapes)) == 2
    assert {processes["gate-a"]["url"], processes["gate-b"]["url"]} == set(dreamscapes)
