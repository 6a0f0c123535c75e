"""Simulated pods and fabric on a real Mosquitto, watched by a real aiomqtt subscriber."""

from __future__ import annotations

import asyncio
import cmath
import contextlib
import itertools
import math
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import aiomqtt
import pytest
from pydantic import BaseModel

from dreamcommons.contracts.device_protocol import (
    CommandAck,
    DeviceBirth,
    DeviceCommand,
    DeviceEvent,
    DeviceStatus,
    ProtocolError,
    SampleBatch,
    device_topic,
    pack,
    parse_topic,
    unpack,
)
from dreamcommons.firmware_sim.device import MODELS, DeviceConfig, SimulatedDevice
from dreamcommons.firmware_sim.faults import Faults
from dreamcommons.firmware_sim.fleet import Fleet, fleet_configs
from dreamcommons.firmware_sim.physiology import order_parameter
from dreamcommons.server.broker import MosquittoProcess
from tests.conftest import within
from tests.processes import dreamcommons, read_until
from tests.waiting import eventually

pytestmark = pytest.mark.integration

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_recorders = itertools.count()


@dataclass(frozen=True, slots=True)
class Received:
    device_id: str
    leaf: str
    payload: bytes
    retain: bool


@dataclass
class Recorder:
    """What a subscriber to every device topic heard, and a way to wait for what it will hear."""

    client: aiomqtt.Client
    heard: list[Received] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def consume(self) -> None:
        async for message in self.client.messages:
            where = parse_topic(str(message.topic))
            assert where is not None, message.topic
            assert isinstance(message.payload, bytes)
            self.heard.append(Received(*where, message.payload, message.retain))
            self.changed.set()

    def raw(self, device_id: str, leaf: str) -> list[Received]:
        return [r for r in self.heard if r.device_id == device_id and r.leaf == leaf]

    def decoded(self, device_id: str, leaf: str, model: type[M]) -> list[M]:
        return [unpack(r.payload, model) for r in self.raw(device_id, leaf)]

    async def wait_for(self, found: Callable[[], T | None], seconds: float = 5.0) -> T:
        """The first truthy ``found()``, re-checked on every message, or a failed test."""
        try:
            async with asyncio.timeout(within(seconds)):
                while not (result := found()):
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"nothing satisfied {found} within {seconds}s") from None
        return result

    async def samples_from(self, device_id: str, count: int, seconds: float = 5.0) -> None:
        """Wait until ``device_id`` has published ``count`` sample messages."""
        await self.wait_for(lambda: len(self.raw(device_id, "samples")) >= count, seconds)

    async def command(self, device_id: str, command: DeviceCommand | bytes) -> None:
        payload = command if isinstance(command, bytes) else pack(command)
        await self.client.publish(device_topic(device_id, "commands"), payload, qos=1)

    async def ack(self, device_id: str, command_id: int) -> CommandAck:
        def found() -> CommandAck | None:
            acks = [a for a in self.decoded(device_id, "acks", CommandAck) if a.id == command_id]
            return acks[0] if acks else None

        return await self.wait_for(found)


@contextlib.asynccontextmanager
async def recording(broker: MosquittoProcess) -> AsyncIterator[Recorder]:
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=f"test-recorder-{next(_recorders)}",
        max_queued_incoming_messages=100_000,
    ) as client:
        await client.subscribe("dreamcommons/v1/devices/#", qos=1)
        recorder = Recorder(client)
        task = asyncio.create_task(recorder.consume(), name="test:recorder")
        try:
            yield recorder
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def pod(device_id: str = "pod-lyra", *, sample_hz: float = 5.0, batch: int = 5) -> DeviceConfig:
    return DeviceConfig.generate(
        "pod", 11, device_id=device_id, pairing_code="KYRA42ZZZZ", sample_hz=sample_hz, batch=batch
    )


def fabric(device_id: str = "fabric-kai") -> DeviceConfig:
    return DeviceConfig.generate("fabric", 12, device_id=device_id, sample_hz=10, batch=2)


def seqs(recorder: Recorder, device_id: str) -> list[int]:
    return [b.seq for b in recorder.decoded(device_id, "samples", SampleBatch)]


# --- pure ------------------------------------------------------------------------------------


def test_configs_are_seeded_valid_and_unique() -> None:
    assert DeviceConfig.generate("pod", 5) == DeviceConfig.generate("pod", 5)
    configs = fleet_configs(300, fabric_share=0.3, seed=9)
    assert sum(c.kind == "fabric" for c in configs) == 90
    assert len({c.device_id for c in configs}) == len({c.pairing_code for c in configs}) == 300
    assert all(c.model in MODELS[c.kind] for c in configs)
    with pytest.raises(ValueError, match="device id"):
        DeviceConfig.generate("pod", 1, device_id="Pod_Lyra")
    with pytest.raises(ValueError, match="pairing code"):
        DeviceConfig.generate("pod", 1, pairing_code="abc")


# --- session ---------------------------------------------------------------------------------


async def test_birth_and_ready_are_retained_for_a_late_subscriber(
    mosquitto: MosquittoProcess,
) -> None:
    async with SimulatedDevice(pod(), mosquitto.url) as device:
        async with asyncio.timeout(within(5)):
            await device.connected.wait()
        async with recording(mosquitto) as late:
            birth = await late.wait_for(lambda: late.raw("pod-lyra", "birth"))
            status = await late.wait_for(lambda: late.raw("pod-lyra", "status"))
    assert birth[0].retain
    assert status[0].retain
    described = unpack(birth[0].payload, DeviceBirth)
    assert described.pairing is not None
    assert described.pairing.accepts("KYRA42ZZZZ")
    assert b"KYRA42ZZZZ" not in birth[0].payload  # only its salted scrypt is published
    assert described.kind == "pod"
    assert described.model in MODELS["pod"]
    assert described.sensors == ("hr", "hrv", "resp", "phase", "eeg", "move")
    assert described.bd_seq == 0
    assert unpack(status[0].payload, DeviceStatus) == DeviceStatus(state="ready", bd_seq=0)


async def test_batches_have_consecutive_seqs_and_the_fields_of_their_kind(
    mosquitto: MosquittoProcess,
) -> None:
    async with (
        recording(mosquitto) as heard,
        SimulatedDevice(pod(sample_hz=10, batch=2), mosquitto.url),
        SimulatedDevice(fabric(), mosquitto.url),
    ):
        await heard.samples_from("pod-lyra", 6)
        await heard.samples_from("fabric-kai", 6)
    pods = heard.decoded("pod-lyra", "samples", SampleBatch)
    fabrics = heard.decoded("fabric-kai", "samples", SampleBatch)
    for batches in (pods, fabrics):
        numbers = [b.seq for b in batches]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert all(len(b.samples) <= 2 for b in batches)
        times = [s.t for b in batches for s in b.samples]
        assert times == sorted(times)
        assert abs(times[-1] - time.time()) < within(5)
    for sample in (s for b in pods for s in b.samples):
        assert None not in (sample.hr, sample.hrv, sample.resp, sample.phase, sample.eeg)
        assert sample.move is not None
        assert sample.temp is None
    for sample in (s for b in fabrics for s in b.samples):
        assert None not in (sample.resp, sample.phase, sample.move, sample.temp)
        assert sample.hr is None
        assert sample.eeg is None


async def test_a_killed_device_leaves_its_will_and_a_stopped_one_says_goodbye(
    mosquitto: MosquittoProcess,
) -> None:
    def device(
        kind: str, device_id: str
    ) -> contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]:
        return dreamcommons("device", kind, "--broker", mosquitto.url, "--id", device_id)

    def state(device_id: str) -> str | None:
        statuses = heard.decoded(device_id, "status", DeviceStatus)
        return statuses[-1].state if statuses else None

    async with (
        recording(mosquitto) as heard,
        device("pod", "pod-killed") as killed,
        device("fabric", "fabric-stopped") as stopped,
    ):
        code = (await read_until(killed, "pairing code", within(15))).split()[-1]
        await heard.wait_for(lambda: state("pod-killed") == "ready", 15)
        await heard.wait_for(lambda: state("fabric-stopped") == "ready", 15)
        offer = heard.decoded("pod-killed", "birth", DeviceBirth)[-1].pairing
        assert offer is not None
        assert offer.accepts(code.replace("-", ""))

        killed.kill()  # no DISCONNECT: the broker must send the will
        await killed.wait()
        await heard.wait_for(lambda: state("pod-killed") == "lost")
        assert heard.decoded("pod-killed", "status", DeviceStatus)[-1].bd_seq == 0

        stopped.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(stopped.communicate(), within(10))
        assert stopped.returncode == 0, output.decode()
        assert "stopped:" in output.decode()
        await heard.wait_for(lambda: state("fabric-stopped") == "disconnected")


async def test_a_clean_stop_in_process_publishes_disconnected(mosquitto: MosquittoProcess) -> None:
    async with recording(mosquitto) as heard:
        device = SimulatedDevice(fabric(), mosquitto.url)
        await device.start()
        await heard.wait_for(lambda: heard.raw("fabric-kai", "status"))
        await device.stop()
        await heard.wait_for(lambda: len(heard.raw("fabric-kai", "status")) == 2)
    statuses = heard.decoded("fabric-kai", "status", DeviceStatus)
    assert [s.state for s in statuses] == ["ready", "disconnected"]
    assert device.online is False


# --- commands --------------------------------------------------------------------------------


async def test_commands_are_carried_out_and_acked(mosquitto: MosquittoProcess) -> None:
    async with recording(mosquitto) as heard, SimulatedDevice(pod(), mosquitto.url) as device:
        await heard.wait_for(lambda: heard.raw("pod-lyra", "status"))
        await heard.command(
            "pod-lyra", DeviceCommand(id=1, action="pace", value=0.1, reference_time=time.time())
        )
        await heard.command("pod-lyra", DeviceCommand(id=2, action="light", value=0.3))
        await heard.command("pod-lyra", DeviceCommand(id=3, action="warmth", value=0.5))
        await heard.command("pod-lyra", DeviceCommand(id=4, action="pace", value=0.9))
        await heard.command("pod-lyra", DeviceCommand(id=5, action="pace"))
        acks = [await heard.ack("pod-lyra", n) for n in range(1, 6)]
    assert [a.ok for a in acks] == [True, True, False, False, True]
    assert "warmth is not an action of a pod" in str(acks[2].error)
    assert "pacing frequency" in str(acks[3].error)
    assert device.actuators["light"] == 0.3
    assert device.pace_hz is None  # the last command stopped pacing
    assert device.stats.commands == 5
    assert device.stats.commands_rejected == 2


async def test_bad_commands_are_refused_and_the_device_keeps_sampling(
    mosquitto: MosquittoProcess,
) -> None:
    config = pod(sample_hz=10, batch=1)
    async with recording(mosquitto) as heard, SimulatedDevice(config, mosquitto.url) as device:
        await heard.wait_for(lambda: heard.raw("pod-lyra", "samples"))
        await heard.command("pod-lyra", b"\xc1 definitely not msgpack")
        await heard.command("pod-lyra", pack(CommandAck(id=77, ok=True)))  # wrong model, an id
        await heard.command("pod-lyra", b"\x93\x01\x02\x03")  # msgpack, but not a map
        await heard.wait_for(lambda: len(heard.raw("pod-lyra", "events")) == 2)
        refused = await heard.ack("pod-lyra", 77)
        after = len(heard.raw("pod-lyra", "samples"))
        await heard.wait_for(lambda: len(heard.raw("pod-lyra", "samples")) >= after + 5)
    events = heard.decoded("pod-lyra", "events", DeviceEvent)
    assert [e.kind for e in events] == ["fault", "fault"]
    assert "unreadable command" in events[0].detail
    assert [e.seq for e in events] == [0, 1]
    assert not refused.ok
    assert "DeviceCommand" in str(refused.error)
    assert device.stats.commands_rejected == 3


async def test_pairing_hides_the_code_and_unpairing_shows_it_again(
    mosquitto: MosquittoProcess,
) -> None:
    def births() -> list[DeviceBirth]:
        return heard.decoded("pod-lyra", "birth", DeviceBirth)

    async with recording(mosquitto) as heard, SimulatedDevice(pod(), mosquitto.url):
        await heard.wait_for(lambda: births())
        await heard.command("pod-lyra", DeviceCommand(id=1, action="paired"))
        assert (await heard.ack("pod-lyra", 1)).ok
        await heard.wait_for(lambda: len(births()) == 2)
        async with recording(mosquitto) as late:
            retained = await late.wait_for(lambda: late.decoded("pod-lyra", "birth", DeviceBirth))
        await heard.command("pod-lyra", DeviceCommand(id=2, action="unpaired"))
        assert (await heard.ack("pod-lyra", 2)).ok
        await heard.wait_for(lambda: len(births()) == 3)
    assert retained[0].pairing is None
    assert [b.pairing is not None for b in births()] == [True, False, True]


# --- reconnection ----------------------------------------------------------------------------


async def test_the_device_comes_back_by_itself_after_a_broker_restart(
    mosquitto: MosquittoProcess,
) -> None:
    config = pod(sample_hz=10, batch=1)
    async with SimulatedDevice(config, mosquitto.url) as device:
        async with recording(mosquitto) as before:
            await before.wait_for(lambda: len(seqs(before, "pod-lyra")) >= 3)
        last_before = seqs(before, "pod-lyra")[-1]
        dropped = device.stats.dropped_offline

        await mosquitto.stop()
        await eventually(lambda: device.stats.dropped_offline > dropped, "dropping offline")
        await mosquitto.start()

        async with recording(mosquitto) as after:
            births = await after.wait_for(lambda: after.decoded("pod-lyra", "birth", DeviceBirth))
            batches = await after.wait_for(
                lambda: after.decoded("pod-lyra", "samples", SampleBatch)
            )
    assert births[-1].bd_seq == 1
    assert batches[0].bd_seq == 1
    assert batches[0].seq > last_before + 1  # the samples made offline were lost, and counted
    assert device.stats.reconnects == 1
    assert device.stats.dropped_offline > dropped


# --- pacing ----------------------------------------------------------------------------------


async def test_devices_paced_together_come_to_breathe_together(
    mosquitto: MosquittoProcess,
) -> None:
    # The body clock runs 4x faster than the wall clock here, so the ~20 s the physiology takes
    # to engage and lock (its pacing time constant) pass in ~5 s of test.
    scale, pace_hz = 4.0, 0.1
    configs = fleet_configs(6, fabric_share=0.34, seed=21, sample_hz=5, batch=1, time_scale=scale)
    breathing = Breathing(size=6)
    async with recording(mosquitto) as heard, Fleet(mosquitto.url, configs) as fleet:
        async with asyncio.timeout(within(5)):
            await fleet.wait_connected()
        await heard.wait_for(lambda: len(breathing.coherence(heard)) >= 5)
        unpaced = breathing.coherence(heard)[-5:]
        start = time.time()
        for n, device in enumerate(fleet.devices):
            command = DeviceCommand(id=n, action="pace", value=pace_hz, reference_time=start)
            await heard.command(device.device_id, command)
        assert all([(await heard.ack(d.device_id, n)).ok for n, d in enumerate(fleet.devices)])
        # Locked: R above 0.8 for 10 instants in a row (2 s of wall clock, 8 s of body clock).
        await heard.wait_for(lambda: min(breathing.coherence(heard)[-10:]) > 0.8, 20)
        locked_after = time.time() - start
    # ...onto the commanded rhythm, whose phase was zero at ``start``: a locked oscillator that
    # is still faster than its pace leads it by asin(detuning / coupling), here about 0.4 rad.
    lag = breathing.mean_lag(last=10, pace=lambda t: math.tau * pace_hz * scale * (t - start))
    assert 0.0 < lag < 1.0, f"the group breathes {lag:.2f} rad off the pace"
    before = ", ".join(f"{r:.2f}" for r in unpaced)
    print(f"R unpaced {before}; locked after {locked_after:.1f}s, lag {lag:.2f} rad")


class Breathing:
    """The breathing phases the devices of one fleet published, by sample instant."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.phases: dict[float, dict[str, float]] = {}
        self._read = 0

    def coherence(self, recorder: Recorder) -> list[float]:
        """R at every instant for which every device reported its phase, in time order."""
        for received in recorder.heard[self._read :]:
            if received.leaf == "samples":
                for sample in unpack(received.payload, SampleBatch).samples:
                    assert sample.phase is not None
                    self.phases.setdefault(sample.t, {})[received.device_id] = sample.phase
        self._read = len(recorder.heard)
        return [order_parameter(list(p.values())) for p in self._complete()]

    def mean_lag(self, last: int, pace: Callable[[float], float]) -> float:
        """Circular mean of (phase - pace phase) over the ``last`` complete instants, radians."""
        instants = sorted(t for t, p in self.phases.items() if len(p) == self.size)[-last:]
        offsets = [
            cmath.exp(1j * (phase - pace(t))) for t in instants for phase in self.phases[t].values()
        ]
        return cmath.phase(sum(offsets) / len(offsets))

    def _complete(self) -> list[dict[str, float]]:
        return [p for _, p in sorted(self.phases.items()) if len(p) == self.size]


# --- faults ----------------------------------------------------------------------------------


async def test_faults_show_on_the_wire(mosquitto: MosquittoProcess) -> None:
    skew = 3600.0
    devices = [
        SimulatedDevice(
            pod("pod-dropout", sample_hz=20, batch=1), mosquitto.url, faults=Faults(dropout=0.3)
        ),
        SimulatedDevice(
            pod("pod-garbage", sample_hz=20, batch=1), mosquitto.url, faults=Faults(garbage=0.3)
        ),
        SimulatedDevice(fabric("fabric-skewed"), mosquitto.url, faults=Faults(clock_skew_s=skew)),
        SimulatedDevice(
            pod("pod-stuck", sample_hz=20, batch=4), mosquitto.url, faults=Faults(stuck_sensor="hr")
        ),
    ]
    async with recording(mosquitto) as heard, contextlib.AsyncExitStack() as stack:
        for device in devices:
            await stack.enter_async_context(device)
        for device, count in zip(devices, (20, 20, 3, 5), strict=True):
            await heard.samples_from(device.device_id, count)

    numbers = seqs(heard, "pod-dropout")
    missing = set(range(numbers[0], numbers[-1])) - set(numbers)
    assert numbers == sorted(numbers)
    assert missing
    assert devices[0].stats.dropped_fault >= len(missing)

    good, bad = 0, 0
    for received in heard.raw("pod-garbage", "samples"):
        try:
            unpack(received.payload, SampleBatch)
            good += 1
        except ProtocolError:
            bad += 1
    assert good > 0
    assert bad > 0
    assert bad <= devices[1].stats.garbled  # the last garbled batches may be still in flight

    times = [s.t for b in heard.decoded("fabric-skewed", "samples", SampleBatch) for s in b.samples]
    assert abs(times[-1] - time.time() - skew) < within(5)

    heart = {s.hr for b in heard.decoded("pod-stuck", "samples", SampleBatch) for s in b.samples}
    assert len(heart) == 1


# --- fleet -----------------------------------------------------------------------------------


async def test_a_fleet_of_fifty_connects_publishes_and_stops_cleanly(
    mosquitto: MosquittoProcess,
) -> None:
    fleet = Fleet.generate(mosquitto.url, 50, seed=3)
    codes = fleet.codes()

    def said(state: str) -> set[str]:
        return {
            r.device_id
            for r in heard.heard
            if r.leaf == "status" and unpack(r.payload, DeviceStatus).state == state
        }

    async with recording(mosquitto) as heard:
        async with fleet:
            async with asyncio.timeout(within(10)):
                await fleet.wait_connected()
            await heard.wait_for(
                lambda: len({r.device_id for r in heard.heard if r.leaf == "samples"}) == 50
            )
            births = {
                r.device_id: unpack(r.payload, DeviceBirth)
                for r in heard.heard
                if r.leaf == "birth"
            }
            running = fleet.stats()
        await heard.wait_for(lambda: len(said("disconnected")) == 50)
    assert {device_id: b.pairing and b.pairing.hint for device_id, b in births.items()} == {
        device_id: code[:2] for device_id, code in codes.items()
    }
    assert running.connected == 50
    assert running.totals.messages >= 50
    assert fleet.stats().connected == 0
