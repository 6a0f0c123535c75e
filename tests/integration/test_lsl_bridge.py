"""``dreamcommons lsl-bridge`` for real: LSL outlets in this process stream synthetic signals of
known properties (EEG with an alpha peak at 10 Hz, respiration at 0.25 Hz, an ECG-like pulse
train at 60 beats/min, a still accelerometer); the bridge runs as a child process, on a real
Mosquitto, next to a real server. LSL is confined to this machine (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiomqtt
import numpy as np
import pytest

from dreamcommons.cli.main import _parser
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.device_protocol import BioSample, SampleBatch, device_topic, unpack
from dreamcommons.contracts.venues import load_venue
from dreamcommons.lsl_bridge.loopback import ENVIRONMENT, LOOPBACK_CONFIG, stays_on_this_machine
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.devices.biometrics import SleepStage
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import PYLSL_IMPORTED_BEFORE_CONFINEMENT, within
from tests.processes import dreamcommons, read_until
from tests.waiting import eventually

pytestmark = pytest.mark.integration

DEVICE = "wearable-test"
CODE = "WRST23ZZZZ"
# Tolerances of the readings against the synthetic signals.
ALPHA_AT_LEAST = 0.6  # the alpha band's share of the four bands' power
BREATHS_PER_MIN = (15.0, 0.75)  # 0.25 Hz, give or take
BEATS_PER_MIN = (60.0, 2.0)
BREATH_HZ = (0.25, 0.02)  # the server's estimate, from the phase's advance


@dataclass
class Synthetic:
    """One outlet and the signal it streams in real time, from ``history_s`` before the first
    consumer connected (so that the bridge's windows fill at once)."""

    outlet: Any
    fs: float
    wave: Callable[[np.ndarray], np.ndarray]
    history_s: float = 30.0
    streaming: bool = True
    sent: int = 0

    async def feed(self) -> None:
        await asyncio.to_thread(self.outlet.wait_for_consumers, within(15))
        start = time.monotonic() - self.history_s
        while True:
            due = int((time.monotonic() - start) * self.fs)
            if due > self.sent:
                if self.streaming:
                    t = np.arange(self.sent, due) / self.fs
                    self.outlet.push_chunk(self.wave(t).astype(np.float32))
                self.sent = due
            await asyncio.sleep(0.05)


def alpha_eeg(t: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(len(t))
    return np.column_stack(
        [20 * np.sin(2 * np.pi * 10 * t + k) + 5 * rng.standard_normal(t.size) for k in range(4)]
    )


def breathing(t: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * 0.25 * t)[:, np.newaxis]


def ecg(t: np.ndarray) -> np.ndarray:
    return np.exp(-(((t % 1.0) - 0.5) ** 2) / (2 * 0.01**2))[:, np.newaxis]


def still(t: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(len(t))
    return np.column_stack([0.002 * rng.standard_normal(t.size)] * 2 + [np.ones(t.size)])


@dataclass
class SyntheticWearable:
    """A wearable's four streams, all under one LSL name."""

    lsl: ModuleType
    name: str = field(default_factory=lambda: f"dc-test-{secrets.token_hex(4)}")
    streams: dict[str, Synthetic] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role, kind, channels, fs, wave in (
            ("eeg", "EEG", 4, 256.0, alpha_eeg),
            ("respiration", "Respiration", 1, 25.0, breathing),
            ("heart", "ECG", 1, 250.0, ecg),
            ("motion", "ACC", 3, 52.0, still),
        ):
            info = self.lsl.StreamInfo(
                self.name, kind, channels, fs, "float32", f"{self.name}-{role}"
            )
            self.streams[role] = Synthetic(self.lsl.StreamOutlet(info), fs, wave)

    @contextlib.asynccontextmanager
    async def streaming(self) -> AsyncIterator[SyntheticWearable]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(s.feed()) for s in self.streams.values()]
            try:
                yield self
            finally:
                for task in tasks:
                    task.cancel()


class Batches:
    """Every sample batch the device publishes, as a subscriber on the broker sees them."""

    def __init__(self) -> None:
        self.samples: list[BioSample] = []

    async def collect(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            self.samples.extend(unpack(message.payload, SampleBatch).samples)

    async def next(self, wanted: Callable[[BioSample], bool], what: str) -> BioSample:
        """The first sample from now on that is ``wanted``."""
        start = len(self.samples)

        def found() -> BioSample | None:
            return next((s for s in self.samples[start:] if wanted(s)), None)

        try:
            await eventually(found, what, 15)
        except AssertionError as missing:
            last = self.samples[-1] if self.samples else "no sample at all"
            raise AssertionError(f"{missing}; the last was {last}") from None
        sample = found()
        assert sample is not None
        return sample


@contextlib.asynccontextmanager
async def batches_of(broker: MosquittoProcess, device_id: str) -> AsyncIterator[Batches]:
    batches = Batches()
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="lsl-test-reader") as client:
        await client.subscribe(device_topic(device_id, "samples"), qos=0)
        async with asyncio.TaskGroup() as group:
            reader = group.create_task(batches.collect(client))
            try:
                yield batches
            finally:
                reader.cancel()


@pytest.fixture
async def server(mosquitto: MosquittoProcess) -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, broker=mosquitto.url, open_sessions=("*",))
    async with DreamServer(settings, load_venue("sleep-commons")) as dream_server:
        yield dream_server


def test_lsl_is_confined_to_this_machine_before_any_outlet(lsl_on_loopback: ModuleType) -> None:
    """The fixture that every LSL test asks for first saw liblsl load the loopback
    configuration on its first use; here, what that configuration says."""
    assert not PYLSL_IMPORTED_BEFORE_CONFINEMENT
    import os

    assert os.environ[ENVIRONMENT] == str(LOOPBACK_CONFIG)
    assert stays_on_this_machine(LOOPBACK_CONFIG)
    text = LOOPBACK_CONFIG.read_text()
    for setting in ("ResolveScope = machine", "KnownPeers = {127.0.0.1}", "IPv6 = disable"):
        assert setting in text


async def test_a_wearable_on_lsl_is_a_device_that_estimates_its_sleeper(
    lsl_on_loopback: ModuleType, server: DreamServer, mosquitto: MosquittoProcess
) -> None:
    wearable = SyntheticWearable(lsl_on_loopback)
    bridge_args = ("--broker", mosquitto.url, "--pair", CODE, "--name", wearable.name)
    async with (
        wearable.streaming(),
        batches_of(mosquitto, DEVICE) as batches,
        dreamcommons(
            "lsl-bridge", *bridge_args, "--id", DEVICE, "--wait", "1", "--stale-after", "1"
        ) as bridge,
        DreamClient(f"ws://127.0.0.1:{server.port}/commons", "Noor") as noor,
    ):
        said = await read_until(bridge, "pairing code: WRST-23ZZ-ZZ", within(15))
        for role in ("eeg: EEG", "heart: ECG", "respiration: Respiration", "motion: ACC"):
            assert role in said

        sample = await batches.next(
            lambda s: None not in (s.eeg, s.hr, s.resp, s.phase, s.move), "a full reading"
        )
        assert sample.eeg is not None
        assert sample.eeg[2] >= ALPHA_AT_LEAST
        assert sample.eeg[2] == max(sample.eeg)
        assert sample.resp == pytest.approx(BREATHS_PER_MIN[0], abs=BREATHS_PER_MIN[1])
        assert sample.hr == pytest.approx(BEATS_PER_MIN[0], abs=BEATS_PER_MIN[1])
        assert sample.move is not None
        assert sample.move < 0.1
        assert sample.stale is None

        record = server.devices.registry.devices[DEVICE]
        assert record.kind == "wearable"
        assert set(record.birth.sensors) == {"eeg", "hr", "hrv", "resp", "phase", "move"}
        paired = await noor.pair_device(CODE)
        assert (paired.device, paired.kind) == (DEVICE, "wearable")

        owner = f"commons/{noor.participant}"

        def breathing_estimated() -> bool:
            estimate = server.devices.sleepers.last(owner)
            hz, tolerance = BREATH_HZ
            return (
                estimate is not None
                and estimate.breath_hz is not None
                and abs(estimate.breath_hz - hz) <= tolerance
            )

        await eventually(breathing_estimated, "the sleeper's breathing estimated", 10)
        estimate = server.devices.sleepers.last(owner)
        assert estimate is not None
        assert estimate.stage == SleepStage.WAKE  # eyes-closed alpha, still: awake
        assert estimate.breath_phase is not None
        assert 0.0 <= estimate.breath_phase < 2 * math.pi

        wearable.streams["heart"].streaming = False  # the ECG stalls; the rest goes on
        sample = await batches.next(lambda s: s.stale is not None, "the heart rate stale")
        assert sample.stale == ("hr", "hrv")
        assert (sample.hr, sample.hrv) == (None, None)
        assert sample.eeg is not None
        await eventually(lambda: record.stale == ("hr", "hrv"), "the registry told", 5)
        assert record.online

        wearable.streams["heart"].streaming = True
        sample = await batches.next(lambda s: s.hr is not None, "the heart rate back")
        assert sample.stale is None

        bridge.send_signal(signal.SIGTERM)
        said = await read_until(bridge, "stopped:", within(10))
        assert await bridge.wait() == 0
        await eventually(lambda: not record.online, "the wearable offline after its goodbye", 5)


def test_the_bridge_says_when_it_finds_no_stream(
    lsl_on_loopback: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody = f"dc-test-{secrets.token_hex(4)}"
    argv = ["lsl-bridge", "--broker", "mqtt://127.0.0.1:1", "--name", nobody, "--wait", "0.2"]
    args = _parser().parse_args(argv)
    assert args.run(args) == 1
    kinds = "EEG, ECG, PPG, heart rate, respiration or accelerometer"
    said = capsys.readouterr().out
    assert f"looking for LSL streams named {nobody} on this machine ({LOOPBACK_CONFIG})" in said
    assert f"no {kinds} stream named {nobody} found" in said


def muse_outlet(lsl: ModuleType, name: str, kind: str, labels: tuple[str, ...], fs: float) -> Any:
    """An outlet shaped as muselsl makes them: one name, channel labels in the description."""
    info = lsl.StreamInfo(name, kind, len(labels), fs, "float32", f"Muse{name}{kind}")
    channels = info.desc().append_child("channels")
    for label in labels:
        channels.append_child("channel").append_child_value("label", label)
    return lsl.StreamOutlet(info)


async def test_a_muse_through_muselsl_is_one_device(lsl_on_loopback: ModuleType) -> None:
    from dreamcommons.lsl_bridge.streams import find_streams
    from dreamcommons.lsl_bridge.wearable import wearable_id, wearable_model

    name = f"dc-test-{secrets.token_hex(4)}"
    eeg_labels = ("TP9", "AF7", "AF8", "TP10", "Right AUX")
    outlets = [
        muse_outlet(lsl_on_loopback, name, "EEG", eeg_labels, 256.0),
        muse_outlet(lsl_on_loopback, name, "PPG", ("PPG1", "PPG2", "PPG3"), 64.0),
        muse_outlet(lsl_on_loopback, name, "ACC", ("X", "Y", "Z"), 52.0),
        muse_outlet(lsl_on_loopback, name, "GYRO", ("X", "Y", "Z"), 52.0),
    ]
    readers = await asyncio.to_thread(find_streams, name, 1.0)
    assert sorted(readers) == ["eeg", "heart", "motion"]  # no respiration; the gyroscope unread
    assert readers["eeg"].channels == [0, 1, 2, 3]  # the AUX input is not on the scalp
    assert readers["heart"].heart_source == "ppg"
    assert readers["motion"].channels == [0, 1, 2]
    assert wearable_model(readers) == f"{name} (LSL)"
    assert wearable_id(readers) == wearable_id(readers).lower()
    assert wearable_id(readers).startswith("wearable-")

    t = np.arange(512) / 256.0
    aux = 1000 * np.sin(2 * np.pi * 20 * t)  # were it read, beta would win
    outlets[0].push_chunk(np.column_stack([*alpha_eeg(t).T, aux]).astype(np.float32))

    def pulled() -> bool:
        readers["eeg"].pull(time.monotonic())
        return readers["eeg"].last_data is not None and len(readers["eeg"].window().samples) == 512

    await eventually(pulled, "the EEG pulled", 5)
    window = readers["eeg"].window()
    assert window.samples.shape == (512, 4)
    assert window.age_s >= 0.0
    readers.clear()  # the inlets close before their outlets
    outlets.clear()
