"""A wearable on Lab Streaming Layer, as a dreamcommons device on MQTT.

``LslWearable`` is a ``SimulatedDevice`` whose readings come from LSL streams instead of a
simulated sleeper: the same MQTT session (will, birth with the pairing offer, status, batches,
acks, reconnection), the same pairing. At every sample tick it takes what each stream sent,
computes the reading over each stream's window (``readings``) and queues it. A stream that has
sent nothing for ``stale_after_s`` seconds makes its readings stale (absent, and named in the
sample's ``stale``) until it sends again; the other streams go on being read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Final

from dreamcommons.contracts.device_protocol import CommandAction
from dreamcommons.firmware_sim.device import DeviceConfig, SimulatedDevice
from dreamcommons.lsl_bridge.defaults import DEFAULT_STALE_AFTER_S
from dreamcommons.lsl_bridge.readings import Role, reading, sensors
from dreamcommons.lsl_bridge.streams import StreamReader, stalled

log = logging.getLogger(__name__)

BRIDGE_FIRMWARE: Final = "dreamcommons-lsl-bridge 0.1"


def wearable_id(readers: Mapping[Role, StreamReader]) -> str:
    """A device id that stays the same for the same streams: ``wearable-`` and 6 hex digits
    of their source ids."""
    sources = "\n".join(sorted(reader.info.source_id() for reader in readers.values()))
    return f"wearable-{hashlib.sha256(sources.encode()).hexdigest()[:6]}"


def wearable_model(readers: Mapping[Role, StreamReader]) -> str:
    """The birth's model: the streams' name (``Muse (LSL)``)."""
    names = sorted({reader.info.name() for reader in readers.values()})
    return f"{' + '.join(names)} (LSL)"[:64]


class LslWearable(SimulatedDevice):
    """``async with LslWearable(config, broker_url, readers) as wearable: ...``."""

    firmware = BRIDGE_FIRMWARE

    def __init__(
        self,
        config: DeviceConfig,
        broker_url: str,
        readers: Mapping[Role, StreamReader],
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        password: str | None = None,
        ephemeral: bool = False,
    ) -> None:
        if not stale_after_s > 0.0:
            raise ValueError(f"stale_after_s must be positive, got {stale_after_s}")
        super().__init__(config, broker_url, password=password, ephemeral=ephemeral)
        self.readers = dict(readers)
        self.stale_after_s = stale_after_s
        self.stale: frozenset[Role] = frozenset()
        self._started = time.monotonic()

    @property
    def sensors(self) -> tuple[str, ...]:
        return sensors(self.readers)

    @property
    def actions(self) -> tuple[CommandAction, ...]:
        return ("paired", "unpaired")  # a wearable only measures

    def tick(self, now: float) -> None:
        """Read what the streams sent and queue the reading at Unix time ``now``."""
        clock = time.monotonic()
        for reader in self.readers.values():
            reader.pull(clock)
        stale = frozenset(
            role
            for role, reader in self.readers.items()
            if stalled(reader, clock, self.stale_after_s, self._started)
        )
        if stale != self.stale:
            for role in stale - self.stale:
                log.warning("%s stalled: its readings are stale", self.readers[role].label)
            for role in self.stale - stale:
                log.warning("%s streams again", self.readers[role].label)
            self.stale = stale
        self.stats.samples += 1
        windows = [reader.window() for reader in self.readers.values()]
        self.add_reading(reading(now, windows, stale))
