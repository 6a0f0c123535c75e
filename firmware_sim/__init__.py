"""Simulated sleep pods and smart fabric: seeded physiology, MQTT firmware, fleets and faults.

A fleet next to a server, in the same event loop::

    async with Fleet.generate("mqtt://127.0.0.1:1883", 100, seed=7) as fleet:
        await fleet.wait_connected()
        codes = fleet.codes()  # device id -> pairing code
"""

from dreamcommons.firmware_sim.device import DeviceConfig, DeviceStats, SimulatedDevice
from dreamcommons.firmware_sim.faults import Faults
from dreamcommons.firmware_sim.fleet import Fleet, FleetShape, FleetStats, fleet_configs

__all__ = [
    "DeviceConfig",
    "DeviceStats",
    "Faults",
    "Fleet",
    "FleetShape",
    "FleetStats",
    "SimulatedDevice",
    "fleet_configs",
]
