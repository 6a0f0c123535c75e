"""How many biometric messages a second one server ingests, validates and applies.

    python -m bench.ingest                        # offered rates 2,000 / 5,000 / 8,000 msg/s
    python -m bench.ingest --rates 5000 --json

The server runs in its own process, pinned to core 0, with a Mosquitto of its own. On the
other core, one MQTT publisher speaks for M devices (births, then one-sample batches at the
offered rate, spread evenly over the devices), and M bench participants each pair one of
those devices, so that every batch goes all the way: decoded, validated, counted for loss,
folded into its sleeper's estimate and, when it matters, into the engine. The samples are
the simulated physiology's own (one sleeper per device), so the estimator does real work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from bench.commons import LOAD_CORE, SERVER_CORE, SESSION, child, machine, wait_until
from bench.loadgen import Latencies, Window, connect_all
from bench.measure import Scrape, cpu_seconds, histogram_quantile, pin
from dreamcommons.contracts.device_protocol import (
    BioSample,
    DeviceBirth,
    DeviceStatus,
    PairingOffer,
    SampleBatch,
    device_topic,
    pack,
)
from dreamcommons.contracts.pairing import new_code
from dreamcommons.firmware_sim.physiology import Sleeper
from dreamcommons.server.broker import MosquittoProcess
from tests.processes import free_port

COLUMNS = (
    ("offered_msgs_per_s", "offered msg/s"),
    ("ingested_msgs_per_s", "ingested msg/s"),
    ("samples_per_s", "samples/s"),
    ("not_ingested", "not ingested"),
    ("samples_lost", "samples lost"),
    ("rejected", "rejected"),
    ("server_cpu_pct", "server CPU %"),
    ("tick_p99_ms", "tick p99 ms"),
)


def device_id(index: int) -> str:
    return f"bench-pod-{index:04d}"


def pairing_code(index: int) -> str:
    return new_code(random.Random(f"bench-pod:{index}"))


@functools.cache
def pairing_offer(index: int) -> PairingOffer:
    """The birth's offer of the device's code (a scrypt: made once per device)."""
    return PairingOffer.of(pairing_code(index), f"{index:032x}")


async def announce(client: aiomqtt.Client, devices: int) -> None:
    """Births and readiness, retained, as each device's firmware would publish them."""
    for index in range(devices):
        birth = DeviceBirth(
            kind="pod", model="bench pod", firmware="bench", bd_seq=1, sample_hz=5.0,
            sensors=("hr", "hrv", "resp", "phase", "eeg", "move"), actions=("pace",),
            pairing=pairing_offer(index),
        )  # fmt: skip
        await client.publish(device_topic(device_id(index), "birth"), pack(birth), 1, True)
        ready = DeviceStatus(state="ready", bd_seq=1)
        await client.publish(device_topic(device_id(index), "status"), pack(ready), 1, True)


async def forget(client: aiomqtt.Client, devices: int) -> None:
    """The bench's devices leave for good: their goodbye, then their retained birth and status
    cleared, so that no server meets them again on this broker."""
    for index in range(devices):
        gone = DeviceStatus(state="disconnected", bd_seq=1)
        await client.publish(device_topic(device_id(index), "status"), pack(gone), 1, True)
        for leaf in ("birth", "status"):
            await client.publish(device_topic(device_id(index), leaf), b"", 1, True)


async def announced(client: aiomqtt.Client, port: int, devices: int) -> None:
    """Announce until the server counts every device online. A birth the server hears only
    as the broker's retained copy (it subscribed after it was sent) does not make a device
    online: the device has to speak for itself, so announce again."""
    for _ in range(11):
        await announce(client, devices)
        with contextlib.suppress(RuntimeError):
            await wait_until(lambda: _devices_online(port) >= devices, "devices online", 5)
            return
    raise RuntimeError("timed out waiting for devices online")


def sample_payloads(devices: int, per_device: int) -> list[list[bytes]]:
    """Each device's next ``per_device`` batches, packed ahead so the publisher only sends."""
    payloads = []
    for index in range(devices):
        sleeper = Sleeper(seed=index, acceleration=60.0)
        batches = []
        for seq in range(per_device):
            s = sleeper.advance(0.2)
            sample = BioSample(
                t=seq * 0.2, hr=s.heart_rate, hrv=s.hrv_rmssd, resp=s.respiration_rate,
                phase=s.breath_phase, move=s.movement,
                eeg=(s.eeg_delta, s.eeg_theta, s.eeg_alpha, s.eeg_beta),
            )  # fmt: skip
            batches.append(pack(SampleBatch(seq=seq, bd_seq=1, samples=(sample,))))
        payloads.append(batches)
    return payloads


async def publish_at(
    client: aiomqtt.Client,
    payloads: list[list[bytes]],
    rate: float,
    seconds: float,
    *,
    skip: int = 0,
) -> int:
    """Send batches round-robin over the devices at ``rate`` a second, after the first
    ``skip`` batches (already sent); how many were sent."""
    devices = len(payloads)
    topics = [device_topic(device_id(i), "samples") for i in range(devices)]
    total = round(rate * seconds)
    start, sent = time.monotonic(), 0
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            index, nth = divmod(skip + sent, devices)[::-1]
            await client.publish(topics[index], payloads[index][nth], 0)
            sent += 1
        await asyncio.sleep(0.005)
    return sent


async def run_rate(rate: float, devices: int, seconds: float, workdir: Path) -> dict[str, Any]:
    port = free_port()
    per_device = int(rate * (seconds + 1) / devices) + 2
    payloads = await asyncio.to_thread(sample_payloads, devices, per_device)
    async with MosquittoProcess() as broker, contextlib.AsyncExitStack() as stack:
        assert broker._process is not None
        pin(broker._process.pid, LOAD_CORE)
        server = await stack.enter_async_context(
            child("host", "--port", str(port), "--broker", broker.url, "--open", SESSION,
                  log=workdir / f"ingest-{int(rate)}.log", core=SERVER_CORE)
        )  # fmt: skip
        await wait_until(lambda: _devices_online(port) >= 0, "the server", 30)
        client = await stack.enter_async_context(
            aiomqtt.Client(broker.host, broker.port, identifier="bench-publisher")
        )
        await asyncio.to_thread(lambda: [pairing_offer(i) for i in range(devices)])
        await announced(client, port, devices)
        before_warmup = _messages(port)
        participants = await connect_all(
            f"ws://127.0.0.1:{port}/{SESSION}", SESSION, devices, 0, Window(), Latencies()
        )
        for participant in participants:
            stack.callback(participant.close)
        await asyncio.gather(*(p.pair(pairing_code(i)) for i, p in enumerate(participants)))

        warmup = await publish_at(client, payloads, rate, 1.0)
        heard = before_warmup + warmup  # the warm-up arrives before measuring
        await wait_until(lambda: _messages(port) >= heard, "the warm-up to arrive", 30)
        first, cpu0, t0 = Scrape.of(port), cpu_seconds(server.pid), time.monotonic()
        sent = await publish_at(client, payloads, rate, seconds, skip=warmup)
        await asyncio.sleep(1.0)  # what is still in flight arrives
        last, cpu1, t1 = Scrape.of(port), cpu_seconds(server.pid), time.monotonic()
        await forget(client, devices)

    def delta(name: str) -> float:
        return last.value(name) - first.value(name)

    span = t1 - t0
    rejected = sum(
        value - first.samples.get(key, 0.0)
        for key, value in last.samples.items()
        if key[0] == "dreamcommons_mqtt_rejected_total"
    )
    tick = histogram_quantile(0.99, first, last, "dreamcommons_tick_seconds")
    return {
        "offered_msgs_per_s": round(sent / seconds),
        "ingested_msgs_per_s": round(delta("dreamcommons_mqtt_messages_total") / seconds),
        "samples_per_s": round(delta("dreamcommons_mqtt_samples_total") / seconds),
        "not_ingested": int(sent - delta("dreamcommons_mqtt_messages_total")),
        "samples_lost": int(last.value("dreamcommons_samples_lost_total")),
        "rejected": int(rejected),
        "server_cpu_pct": round(100 * (cpu1 - cpu0) / span, 1),
        "tick_p99_ms": None if tick is None else round(tick * 1000, 1),
        "devices": devices,
    }


def _messages(port: int) -> float:
    return Scrape.of(port).value("dreamcommons_mqtt_messages_total")


def _devices_online(port: int) -> float:
    try:
        return Scrape.of(port).value("dreamcommons_devices_online")
    except OSError:
        return -1.0


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(t for _, t in COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    pin(os.getpid(), LOAD_CORE)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dreamcommons-ingest-") as folder:
        for rate in (float(r) for r in args.rates.split(",")):
            print(f"# offering {rate:.0f} msg/s from {args.devices} devices", file=sys.stderr)
            rows.append(await run_rate(rate, args.devices, args.seconds, Path(folder)))
    print(table(rows))
    if args.json:
        print(json.dumps({"rows": rows, "machine": machine()}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="2000,5000,8000", help="offered msg/s per row")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
