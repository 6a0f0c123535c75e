"""Devices as the sessions see them: who owns which device, pairing, and commands from a
participant to their own devices. Estimates each paired sleeper from their devices' stream
and tells the owner's session, through its public methods only."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable

from dreamcommons.contracts.device_protocol import PairingOffer, SampleBatch
from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Command, CommandResult, Pair, Paired
from dreamcommons.server.devices.fold import SleeperFold, pace_reference
from dreamcommons.server.devices.ingest import CommandFailed, DeviceGateway, Presence
from dreamcommons.server.devices.registry import (
    NO_OFFER,
    DeviceRecord,
    DeviceRegistry,
    PairingRefused,
)
from dreamcommons.server.engine import Pace
from dreamcommons.server.session import DreamSession, Member

log = logging.getLogger(__name__)


class DeviceHub:
    """The registry and the MQTT gateway (when a broker is configured), seen from sessions."""

    def __init__(
        self,
        broker_url: str | None,
        find_session: Callable[[str], DreamSession | None],
        *,
        command_wait_s: float = 5.0,
        presence: Presence | None = None,
    ) -> None:
        self.registry = DeviceRegistry()
        self.fold = SleeperFold()
        self.sleepers = self.fold.sleepers
        self.command_wait_s = command_wait_s
        self._find_session = find_session
        self._checking = asyncio.Lock()
        self.gateway: DeviceGateway | None = None
        self.pace_elsewhere: Callable[[DreamSession, Pace], None] | None = None
        """Where pacing intents go when another process serves the devices (a cluster's)."""
        if broker_url is not None:
            self.gateway = DeviceGateway(
                broker_url,
                self.registry,
                on_batch=self._batch,
                on_status=self._status,
                on_broker_lost=self._broker_lost,
                client_id=f"dreamcommons-server-{secrets.token_hex(4)}",  # brokers are shared
                presence=presence,
            )

    def _owner(self, record: DeviceRecord) -> tuple[DreamSession, str] | None:
        if record.owner is None:
            return None
        session_id, pid = record.owner.split("/", 1)
        session = self._find_session(session_id)
        return None if session is None else (session, pid)

    def _batch(self, record: DeviceRecord, batch: SampleBatch, arrived: float) -> None:
        owner = self._owner(record)
        if owner is not None and record.owner is not None:
            self.fold.fold(owner[0], record.owner, batch, arrived)

    def _status(self, record: DeviceRecord) -> None:
        self._tell_owner(record.owner)

    def _tell_owner(self, owner_key: str | None) -> None:
        """The owner's session hears how many of their devices are online now."""
        if owner_key is None:
            return
        session_id, pid = owner_key.split("/", 1)
        session = self._find_session(session_id)
        if session is not None:
            online = sum(1 for d in self.registry.owned_by(owner_key) if d.online)
            session.devices_changed(pid, online)

    def _broker_lost(self, were_online: list[DeviceRecord]) -> None:
        for owner_key in {d.owner for d in were_online}:
            self._tell_owner(owner_key)

    async def pair(self, session: DreamSession, member: Member, request: Pair) -> Paired:
        """Give the device showing ``code`` to ``member``; the code is spent. A device that was
        reset (it offers a new code) passes from its previous owner to ``member``."""
        gateway = self._require_gateway()
        owner = f"{session.id}/{member.pid}"
        try:
            device, offer = await find_offer(
                self.registry, request.code, session.id, self._checking
            )
            previous = self.registry.claim(device, offer, owner)
        except PairingRefused as refused:
            raise NotAllowed(ErrorCode.PAIRING_REFUSED, str(refused)) from None
        gateway.command_soon(device.device_id, "paired", wait_s=self.command_wait_s)
        session.paired(member.pid, device.device_id)
        self._status(device)
        if previous is not None and previous != owner:
            self._tell_owner(previous)
            log.info("%s passes from %s to %s/%s", device.device_id, previous, *owner.split("/"))
        log.info("%s paired %s (%s)", member.pid, device.device_id, device.birth.model)
        return Paired(
            cid=request.cid, device=device.device_id, kind=device.kind, model=device.birth.model
        )

    async def command(
        self, session: DreamSession, member: Member, request: Command
    ) -> CommandResult:
        """Send a participant's command to one of their own devices and report the ack."""
        gateway = self._require_gateway()
        owner = f"{session.id}/{member.pid}"
        return await command_device(gateway, self.registry, owner, request, self.command_wait_s)

    def _require_gateway(self) -> DeviceGateway:
        if self.gateway is None:
            raise NotAllowed(ErrorCode.NO_DEVICES, "this server has no device broker")
        return self.gateway

    def pace(self, session: DreamSession, intent: Pace) -> None:
        """Carry out the engine's pacing intent on the participants' own devices."""
        if self.gateway is None:
            if self.pace_elsewhere is not None:
                self.pace_elsewhere(session, intent)
            return
        owners = [f"{session.id}/{pid}" for pid in intent.participants]
        pace_devices(
            self.gateway,
            self.registry,
            owners,
            intent.hz,
            pace_reference(session, intent),
            self.command_wait_s,
        )
        log_pacing(session.id, intent)

    def summary(self) -> dict[str, int]:
        devices = self.registry.devices.values()
        stats = self.gateway.stats if self.gateway else None
        return {
            "broker_connected": int(self.registry.broker_connected),
            "devices_online": self.registry.online_count() or 0,
            "devices_paired": sum(1 for d in devices if d.owner is not None),
            "bio_messages": sum(d.messages for d in devices),
            "bio_samples": sum(d.samples for d in devices),
            "samples_lost": sum(d.lost for d in devices),
            "device_messages_rejected": sum(stats.rejected.values()) if stats else 0,
        }


async def find_offer(
    registry: DeviceRegistry, code: str, session_id: str, checking: asyncio.Lock
) -> tuple[DeviceRecord, PairingOffer]:
    """The offer ``code`` opens: the scrypt checks run in a thread, one at a time (under
    ``checking``), so that guessing costs the event loop nothing and the server one core at
    most. ``PairingRefused`` when none does."""
    for record, offer in registry.offers(code, session_id):
        async with checking:
            if await asyncio.to_thread(offer.accepts, code):
                return record, offer
    raise PairingRefused(NO_OFFER)


async def command_device(
    gateway: DeviceGateway, registry: DeviceRegistry, owner: str, request: Command, wait_s: float
) -> CommandResult:
    """Send ``owner``'s command to one of their own devices (``forbidden`` for another's) and
    report its ack: an offline device, a refusal or no ack in time is a result that failed."""
    record = registry.devices.get(request.device)
    if record is None or record.owner != owner:
        raise NotAllowed(ErrorCode.FORBIDDEN, f"{request.device} is not one of your devices")
    result = CommandResult(cid=request.cid, device=request.device, action=request.action, ok=False)
    if not record.online:
        return result.model_copy(update={"error": f"{request.device} is offline"})
    reference = time.time() if request.action == "pace" else None
    try:
        ack = await gateway.command(
            request.device, request.action, request.value, reference_time=reference, wait_s=wait_s
        )
    except CommandFailed as failed:
        return result.model_copy(update={"error": str(failed)})
    return result.model_copy(update={"ok": ack.ok, "error": ack.error})


def pace_devices(
    gateway: DeviceGateway,
    registry: DeviceRegistry,
    owners: Iterable[str],
    hz: float | None,
    reference: float,
    wait_s: float,
) -> None:
    """Pace (or, ``hz`` None, stop pacing) every online device of ``owners`` that paces."""
    for owner in owners:
        for record in registry.owned_by(owner):
            if record.online and "pace" in record.birth.actions:
                gateway.command_soon(
                    record.device_id, "pace", hz, reference_time=reference, wait_s=wait_s
                )


def log_pacing(session_id: str, intent: Pace) -> None:
    log.info(
        "session %s: %s for %d sleepers",
        session_id,
        "pacing stopped" if intent.hz is None else f"pacing at {intent.hz} Hz",
        len(intent.participants),
    )
