"""Devices as the sessions see them: who owns which device, pairing, and commands from a
participant to their own devices. Estimates each paired sleeper from their devices' stream
and tells the owner's session, through its public methods only."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from dreamcommons.contracts.device_protocol import PairingOffer, SampleBatch
from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Command, CommandResult, Pair, Paired
from dreamcommons.server.devices.ingest import CommandFailed, DeviceGateway, Presence
from dreamcommons.server.devices.registry import (
    NO_OFFER,
    DeviceRecord,
    DeviceRegistry,
    PairingRefused,
)
from dreamcommons.server.devices.signals import SignalRecorder
from dreamcommons.server.devices.sleepers import SleeperEstimates, as_event
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
        self.sleepers = SleeperEstimates()
        self.signals = SignalRecorder()
        self.command_wait_s = command_wait_s
        self._find_session = find_session
        self._checking = asyncio.Lock()
        self.gateway: DeviceGateway | None = None
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
        """Fold a paired device's batch into its sleeper's estimate; their session hears it
        when it moved enough to matter."""
        owner = self._owner(record)
        if owner is None or record.owner is None:
            return
        session, pid = owner
        if session.member(pid) is None:
            return  # removed from the session: nobody to estimate for
        estimate = self.sleepers.add(record.owner, batch, arrived)
        t = session.clock(arrived)
        if estimate is not None:
            session.sleeper_updated(as_event(pid, estimate, t))
        if session.keeps_signals:
            wall = time.time() - (time.monotonic() - arrived)  # ``arrived`` is monotonic
            for second in self.signals.add(record.owner, batch, t, wall):
                session.signals_recorded(pid, second)

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
            device, offer = await self._check_code(request.code, session.id)
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

    async def _check_code(self, code: str, session_id: str) -> tuple[DeviceRecord, PairingOffer]:
        """The offer ``code`` opens: the scrypt checks run in a thread, one at a time, so that
        guessing costs the event loop nothing and the server one core at most."""
        for record, offer in self.registry.offers(code, session_id):
            async with self._checking:
                if await asyncio.to_thread(offer.accepts, code):
                    return record, offer
        raise PairingRefused(NO_OFFER)

    async def command(
        self, session: DreamSession, member: Member, request: Command
    ) -> CommandResult:
        """Send a participant's command to one of their own devices and report the ack."""
        gateway = self._require_gateway()
        record = self.registry.devices.get(request.device)
        if record is None or record.owner != f"{session.id}/{member.pid}":
            raise NotAllowed(ErrorCode.FORBIDDEN, f"{request.device} is not one of your devices")
        result = CommandResult(
            cid=request.cid, device=request.device, action=request.action, ok=False
        )
        if not record.online:
            return result.model_copy(update={"error": f"{request.device} is offline"})
        reference = time.time() if request.action == "pace" else None
        try:
            ack = await gateway.command(
                request.device,
                request.action,
                request.value,
                reference_time=reference,
                wait_s=self.command_wait_s,
            )
        except CommandFailed as failed:
            return result.model_copy(update={"error": str(failed)})
        return result.model_copy(update={"ok": ack.ok, "error": ack.error})

    def _require_gateway(self) -> DeviceGateway:
        if self.gateway is None:
            raise NotAllowed(ErrorCode.NO_DEVICES, "this server has no device broker")
        return self.gateway

    def pace(self, session: DreamSession, intent: Pace) -> None:
        """Carry out the engine's pacing intent on the participants' own devices."""
        if self.gateway is None:
            return
        # One instant for all, the pacing's start, so that paced sleepers breathe in together,
        # those who join it later included: the wall-clock time of the intent's session time.
        late = max(0.0, session.clock(time.monotonic()) - intent.t)
        reference = time.time() - late
        for pid in intent.participants:
            for record in self.registry.owned_by(f"{session.id}/{pid}"):
                if record.online and "pace" in record.birth.actions:
                    self.gateway.command_soon(
                        record.device_id,
                        "pace",
                        intent.hz,
                        reference_time=reference,
                        wait_s=self.command_wait_s,
                    )
        log.info(
            "session %s: %s for %d sleepers",
            session.id,
            "pacing stopped" if intent.hz is None else f"pacing at {intent.hz} Hz",
            len(intent.participants),
        )

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
