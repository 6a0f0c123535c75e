"""Many simulated devices in one process: one event loop, one MQTT connection per device (as
real firmware has), and one sampling task that ticks every sleeper, rather than a timer each.

    async with Fleet.generate("mqtt://127.0.0.1:1883", 500, seed=7) as fleet:
        await fleet.wait_connected()
        print(fleet.codes(), fleet.stats())
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict, Unpack

from dreamcommons.contracts.device_protocol import DeviceKind
from dreamcommons.firmware_sim.device import (
    DeviceConfig,
    DeviceStats,
    SimulatedDevice,
    run_sample_clock,
)
from dreamcommons.firmware_sim.faults import Faults
from dreamcommons.firmware_sim.stopping import BackgroundRun

__all__ = ["Fleet", "FleetStats", "fleet_configs"]

# A fleet's devices do not all dial the broker in the same instant: they spread their first
# connections over this many seconds per device, at most _MAX_SPREAD_S.
_SPREAD_PER_DEVICE_S = 0.002
_MAX_SPREAD_S = 2.0


@dataclass(frozen=True, slots=True)
class FleetStats:
    """A fleet at one instant: how many devices, how many connected, and their summed stats."""

    devices: int
    connected: int
    totals: DeviceStats


class FleetShape(TypedDict, total=False):
    """What ``fleet_configs`` draws a fleet from, besides its size (the same keywords)."""

    fabric_share: float
    seed: int
    sample_hz: float
    batch: int
    acceleration: float
    time_scale: float
    desynchronized: bool
    session: str | None


def fleet_configs(
    count: int,
    *,
    fabric_share: float = 0.3,
    seed: int = 0,
    sample_hz: float = 5.0,
    batch: int = 5,
    acceleration: float = 60.0,
    time_scale: float = 1.0,
    desynchronized: bool = False,
    session: str | None = None,
) -> list[DeviceConfig]:
    """``count`` devices, ``round(count * fabric_share)`` of them fabric, with unique ids and
    pairing codes, all drawn from ``seed``. ``desynchronized`` starts their sleepers' breathing
    evenly spread around the cycle (no common rhythm at all), rather than at seeded phases.
    With a ``session``, only that session may pair them."""
    if count < 1:
        raise ValueError(f"a fleet needs at least one device, got {count}")
    if not 0.0 <= fabric_share <= 1.0:
        raise ValueError(f"fabric_share must be in [0, 1], got {fabric_share}")
    rng = random.Random(f"dreamcommons.fleet:{seed}")
    fabrics = round(count * fabric_share)
    kinds: list[DeviceKind] = ["fabric" if i < fabrics else "pod" for i in range(count)]
    rng.shuffle(kinds)
    ids: set[str] = set()
    codes: set[str] = set()
    configs = []
    for i, kind in enumerate(kinds):
        while True:
            config = DeviceConfig.generate(
                kind,
                rng.getrandbits(32),
                sample_hz=sample_hz,
                batch=batch,
                acceleration=acceleration,
                time_scale=time_scale,
                breath_phase=math.tau * i / count if desynchronized else None,
                session=session,
            )
            if config.device_id not in ids and config.pairing_code not in codes:
                break
        ids.add(config.device_id)
        codes.add(config.pairing_code)
        configs.append(config)
    return configs


class Fleet(BackgroundRun):
    """Devices sharing one event loop and one sampling clock.

    ``async with Fleet(url, configs) as fleet:`` or ``await fleet.start()`` / ``await
    fleet.stop()``; ``Fleet.generate(url, count, ...)`` draws the configs from a seed.
    """

    grace_s = 10.0

    def __init__(
        self,
        broker_url: str,
        configs: Sequence[DeviceConfig],
        *,
        faults: Faults | None = None,
        connect_spread_s: float = 0.0,
        passwords: Mapping[str, str] | None = None,
        ephemeral: bool = False,
        ha_discovery: bool = False,
    ) -> None:
        if not configs:
            raise ValueError("a fleet needs at least one device")
        rates = {config.sample_hz for config in configs}
        if len(rates) != 1:
            raise ValueError("a fleet samples all its devices on one clock: give them one rate")
        if len({config.device_id for config in configs}) != len(configs):
            raise ValueError("device ids in a fleet must be unique")
        self.sample_hz = rates.pop()
        self.broker_url = broker_url
        count = len(configs)
        self.devices = [
            SimulatedDevice(
                config,
                broker_url,
                faults=faults,
                start_delay_s=connect_spread_s * i / count,
                password=(passwords or {}).get(config.device_id),
                ephemeral=ephemeral,
                ha_discovery=ha_discovery,
            )
            for i, config in enumerate(configs)
        ]
        self._by_id = {device.device_id: device for device in self.devices}
        super().__init__()

    @classmethod
    def generate(
        cls,
        broker_url: str,
        count: int,
        *,
        faults: Faults | None = None,
        connect_spread_s: float | None = None,
        passwords: Mapping[str, str] | None = None,
        ephemeral: bool = False,
        ha_discovery: bool = False,
        **shape: Unpack[FleetShape],
    ) -> Fleet:
        """A fleet of ``count`` seeded devices (see ``fleet_configs``). Unless given, the first
        connections spread over up to 2 s, 2 ms per device. An ``ephemeral`` fleet leaves for
        good when it stops: its devices clear their retained birth and status. With
        ``ha_discovery`` every device shows itself to Home Assistant."""
        configs = fleet_configs(count, **shape)
        if connect_spread_s is None:
            connect_spread_s = min(_MAX_SPREAD_S, count * _SPREAD_PER_DEVICE_S)
        return cls(
            broker_url,
            configs,
            faults=faults,
            connect_spread_s=connect_spread_s,
            passwords=passwords,
            ephemeral=ephemeral,
            ha_discovery=ha_discovery,
        )

    def device(self, device_id: str) -> SimulatedDevice:
        return self._by_id[device_id]

    def codes(self) -> dict[str, str]:
        """Every device's pairing code (normalized), by device id."""
        return {device.device_id: device.config.pairing_code for device in self.devices}

    def connected_count(self) -> int:
        return sum(1 for device in self.devices if device.online)

    def stats(self) -> FleetStats:
        return FleetStats(
            devices=len(self.devices),
            connected=self.connected_count(),
            totals=DeviceStats.total([device.stats for device in self.devices]),
        )

    async def wait_connected(self) -> None:
        """Return once every device has been connected (wrap it in ``asyncio.timeout``)."""
        await asyncio.gather(*(device.connected.wait() for device in self.devices))

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run every device and the shared clock until ``request_stop()``, then stop cleanly."""
        async with asyncio.TaskGroup() as group:
            for device in self.devices:
                group.create_task(device.run(clock=False), name=f"device:{device.device_id}")
            clock = group.create_task(
                run_sample_clock(self.devices, self.sample_hz), name="fleet:clock"
            )
            await self._stopping.wait()
            clock.cancel()
            for device in self.devices:
                device.request_stop()

    async def start(self) -> None:
        """Run the fleet in a background task until ``stop()``, which stops every device
        cleanly or cancels what is left after ``grace_s``."""
        self._launch(self.run(), "fleet")
