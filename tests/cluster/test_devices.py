"""Devices through the cluster, on a real NATS, a real Mosquitto and real processes: two ingest
processes behind one MQTT 5 shared subscription hear each batch once and route it to the
session's owner; a participant on a gateway pairs a simulated pod by its code and is seen
with its stage; their commands are acknowledged by the device through the cluster; with no
ingest process, pairing and commands are ``no_devices``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.protocol import DreamscapeState, ParticipantView
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.cluster import NatsProcess
from tests.cluster.nodes import Node, node
from tests.waiting import eventually, within

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass(frozen=True, slots=True)
class Cluster:
    broker: str
    engine: Node
    gateway: Node
    ingests: tuple[Node, Node]

    def url(self, session: str) -> str:
        return f"{self.gateway.url}/{session}"

    async def ingested(self) -> list[dict[str, int]]:
        return [(await ingest.health())["cluster"]["ingest"] for ingest in self.ingests]

    async def owned(self) -> dict[str, int]:
        devices: dict[str, int] = (await self.engine.health())["cluster"]["devices"]
        return devices


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """A NATS, a Mosquitto, an engine, a gateway and two ingest processes on that broker."""
    root = tmp_path_factory.mktemp("devices")
    state = root / "state"
    async with NatsProcess(store_dir=root / "nats") as nats, MosquittoProcess() as mosquitto:
        broker = ("--broker", mosquitto.url)
        async with (
            node(nats, "engine", state) as engine,
            node(nats, "gateway", state) as gateway,
            node(nats, "ingest", state, *broker) as ingest_a,
            node(nats, "ingest", state, *broker) as ingest_b,
        ):
            found = Cluster(mosquitto.url, engine, gateway, (ingest_a, ingest_b))

            async def both_listen() -> bool:
                return all(heard["broker_connected"] for heard in await found.ingested())

            await eventually(both_listen, "both ingests on the broker", 15)
            yield found


def pod(device_id: str, code: str, seed: int) -> DeviceConfig:
    return DeviceConfig.generate(
        "pod", seed, device_id=device_id, pairing_code=code, acceleration=120.0
    )


def seen(client: DreamClient, pid: str) -> ParticipantView:
    blank = ParticipantView(id=pid, name="?", role="dreamer")
    return next((p for p in client.state.participants if p.id == pid), blank)


async def online_at_both(cluster: Cluster, count: int) -> None:
    async def online() -> bool:
        return all(heard["devices_online"] >= count for heard in await cluster.ingested())

    await eventually(online, f"{count} devices online at both ingests", 10)


@contextlib.asynccontextmanager
async def a_pod_and_two(
    cluster: Cluster, session: str, config: DeviceConfig, names: tuple[str, str]
) -> AsyncIterator[tuple[SimulatedDevice, DreamClient, DreamClient]]:
    """A pod on the broker, heard by both ingests, and two participants on the gateway."""
    async with (
        SimulatedDevice(config, cluster.broker) as device,
        DreamClient(cluster.url(session), names[0]) as first,
        DreamClient(cluster.url(session), names[1]) as second,
    ):
        await online_at_both(cluster, 1)
        yield device, first, second


async def test_a_pod_paired_on_a_gateway_shows_its_sleeper_and_each_batch_is_routed_once(
    cluster: Cluster,
) -> None:
    config = pod("pod-lyra", "KYRA42ZZZZ", 7)
    async with a_pod_and_two(cluster, "commons", config, ("Lyra", "Zara")) as (device, lyra, zara):
        paired = await lyra.pair_device("KYRA42ZZZZ")
        assert (paired.device, paired.kind) == ("pod-lyra", "pod")
        with pytest.raises(Refused, match="pairing_refused"):
            await zara.pair_device("KYRA42ZZZZ")  # spent, whichever ingest checks it
        pid = lyra.participant
        await lyra.share(None, show_stage=True)
        await zara.wait_for(lambda _: seen(zara, pid).stage is not None, within(15))
        assert seen(zara, pid).devices == 1
        assert seen(zara, pid).stage in ("awake", "light", "deep", "rem")

        async def both_routed() -> bool:
            return all(heard["batches_routed"] > 0 for heard in await cluster.ingested())

        await eventually(both_routed, "batches routed by both ingests", 15)
    sent = device.stats.messages  # stopped: it sends no more

    async def all_heard() -> bool:
        return sum(heard["batches_heard"] for heard in await cluster.ingested()) == sent

    await eventually(all_heard, f"the {sent} batches heard", 10)
    ingested = await cluster.ingested()
    assert sum(heard["batches_heard"] for heard in ingested) == sent  # none twice
    assert all(heard["batches_heard"] > 0 for heard in ingested)
    routed = sum(heard["batches_routed"] for heard in ingested)

    async def all_owned() -> bool:
        owned = await cluster.owned()
        return owned["batches"] + owned["batches_dropped"] >= routed

    await eventually(all_owned, f"the {routed} routed batches at the owner", 10)
    owned = await cluster.owned()
    # every batch routed reached the owner once; those it did not fold were heard before the
    # pairing (held at an ingest that learned of it a moment later, and needed by no gap)
    assert owned["batches"] + owned["batches_dropped"] == routed
    assert owned["samples_lost"] == 0  # from its first batch on, none missing
    assert owned["batches"] > 0
    folded = owned["batches"]
    assert await cluster.engine.metric("dreamcommons_cluster_device_batches_total") == folded
    for ingest, heard in zip(cluster.ingests, ingested, strict=True):
        routed_here = await ingest.metric("dreamcommons_cluster_device_batches_routed_total")
        assert routed_here == heard["batches_routed"]


async def test_commands_are_acknowledged_by_the_device_through_the_cluster(
    cluster: Cluster,
) -> None:
    config = pod("pod-kai", "KQKK23ZZZZ", 8)
    async with a_pod_and_two(cluster, "commands", config, ("Kai", "Mia")) as (device, kai, mia):
        await kai.pair_device("KQKK23ZZZZ")
        lit = await kai.command("pod-kai", "light", 0.5)
        assert (lit.ok, lit.error) == (True, None)
        assert device.actuators["light"] == 0.5
        paced = await kai.command("pod-kai", "pace", 0.1)
        assert (paced.ok, paced.error) == (True, None)
        assert device.pace_hz == 0.1
        with pytest.raises(Refused, match="forbidden"):
            await mia.command("pod-kai", "light", 0.2)  # not hers
        assert device.actuators["light"] == 0.5


async def test_without_an_ingest_process_devices_are_no_devices(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("no-ingest")
    async with (
        NatsProcess(store_dir=root / "nats") as nats,
        node(nats, "all", root / "state") as alone,  # no broker: no ingest
        DreamClient(f"{alone.url}/commons", "Noor") as noor,
    ):
        health: dict[str, Any] = (await alone.health())["cluster"]
        assert "ingest" not in health
        with pytest.raises(Refused, match="no_devices"):
            await noor.pair_device("KYRA42ZZZZ")
        with pytest.raises(Refused, match="no_devices"):
            await noor.command("pod-lyra", "light", 0.5)


async def test_a_pairing_outlives_its_sessions_owner(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """kill -9 the owner: the engine that takes the session over gets the pod's batches, and
    its sleeper's commands go on reaching it, with no pairing again."""
    root = tmp_path_factory.mktemp("takeover")
    state = root / "state"
    config = pod("pod-noor", "NQSY22ZZZZ", 9)
    async with (
        NatsProcess(store_dir=root / "nats") as nats,
        MosquittoProcess() as mosquitto,
        node(nats, "engine", state) as first,
        node(nats, "engine", state) as second,
        node(nats, "gateway", state) as gateway,
        node(nats, "ingest", state, "--broker", mosquitto.url) as ingest,
        SimulatedDevice(config, mosquitto.url) as device,
        DreamClient(f"{gateway.url}/isle", "Noor") as noor,
    ):

        async def heard() -> bool:
            return bool((await ingest.health())["cluster"]["ingest"]["devices_online"])

        await eventually(heard, "the pod online", 10)
        await noor.pair_device("NQSY22ZZZZ")
        owns_it = "isle" in (await first.health())["cluster"]["owns"]
        dead, survivor = (first, second) if owns_it else (second, first)
        assert "isle" in (await dead.health())["cluster"]["owns"]
        epoch, pid = noor.state.epoch, noor.participant
        await dead.kill()

        def back(state: DreamscapeState) -> bool:
            return state.epoch != epoch and any(
                p.id == pid and p.present for p in state.participants
            )

        await noor.wait_for(back, within(15))

        async def folded() -> bool:
            return bool((await survivor.health())["cluster"]["devices"]["batches"])

        await eventually(folded, "the pod's batches at the new owner", 10)
        lit = await noor.command("pod-noor", "light", 0.7)
        assert (lit.ok, lit.error) == (True, None)
        assert device.actuators["light"] == 0.7
