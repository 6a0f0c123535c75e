"""Which devices exist, whether they are up, who they belong to, and what they lost.

Pure bookkeeping, fed by the MQTT ingest: births, statuses and batch sequence numbers in,
availability, pairing and loss counts out. Two rules keep "online" honest:

- **Only the device itself brings it online.** A birth or status the broker kept (retained,
  replayed at subscribe time) makes a device known, not online: the broker may be holding the
  last words of a device that will never come back. A live birth, a live ``ready`` or a
  sample batch brings it online.
- **After its last word, a birth.** Once a device's current connection said ``lost`` (its
  will) or ``disconnected``, its samples are ignored, and counted, until it is born again,
  as in Sparkplug: a new connection always begins with a birth. A last word counts only when
  it shows the key whose digest the connection's birth published.
- **Nothing is online while the broker is away.** When the server's broker connection drops,
  every device becomes unknown (not online; ``last_seen`` says when it was last heard) until
  it is heard again.

Pairing: a birth may offer a pairing (``PairingOffer``: never the code, a salted scrypt of
it). A typed code is checked against the offers filed under its first two characters, of
devices that are online and bound to the pairing's session or to none. A verifier that paired
once is spent; a device that was reset offers a new one, and its next pairing replaces the
owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dreamcommons.contracts.device_protocol import (
    DeviceBirth,
    DeviceStatus,
    PairingOffer,
    SampleBatch,
)
from dreamcommons.contracts.pairing import code_hint

SEQ_MODULUS = 2**32


@dataclass(slots=True)
class DeviceRecord:
    device_id: str
    birth: DeviceBirth
    online: bool = True
    owner: str | None = None  # the pairing key "session/participant" once paired
    last_seq: int | None = None
    last_bd_seq: int | None = None  # the connection that sent the batch of ``last_seq``
    messages: int = 0
    samples: int = 0
    lost: int = 0
    rejected: int = 0
    awaiting_birth: bool = False  # its last word was lost or disconnected: samples ignored
    ignored: int = 0  # sample batches ignored while awaiting a birth
    last_seen: float | None = None  # Unix time of its last live message
    spent: set[str] = field(default_factory=set)  # verifiers that paired it once
    stale: tuple[str, ...] = ()  # the readings its last batch said are stale

    @property
    def kind(self) -> str:
        return self.birth.kind


class PairingRefused(ValueError):
    """No device waits for that code (none offers it, it is spent, or it is bound to another
    session: the refusal does not say which)."""


class UnprovenStatus(ValueError):
    """A ``lost`` or ``disconnected`` without the key of the connection's birth: not the
    device's own last word."""


NO_OFFER = "no device is waiting for that pairing code"


def batch_gap(last_seq: int | None, last_bd_seq: int | None, batch: SampleBatch) -> int | None:
    """How many batches were lost between the last one counted (``last_seq`` of connection
    ``last_bd_seq``) and ``batch``; None when ``batch`` is a duplicate or a reordered old one.
    ``seq`` keeps counting across a device's connections, so a gap after a broker restart is
    a loss; going back on a new connection means the device restarted and counts from zero."""
    if last_seq is None:
        return 0
    gap = (batch.seq - last_seq - 1) % SEQ_MODULUS
    if gap < SEQ_MODULUS // 2:
        return gap
    return None if batch.bd_seq == last_bd_seq else 0


class DeviceRegistry:
    """``shared``: this registry hears only some of each device's batches (an ingest process of
    a cluster, behind a shared subscription), so a gap in their sequence is no loss here: the
    session's owner, where all of a device's batches meet, counts losses."""

    def __init__(self, *, shared: bool = False) -> None:
        self.shared = shared
        self.devices: dict[str, DeviceRecord] = {}
        self.rejected_unknown = 0
        self._owners: dict[str, str] = {}  # pairings from before a restart, for devices unheard
        self.broker_connected = False

    def remember_owner(self, device_id: str, owner: str) -> None:
        """A pairing the journal kept across a restart: the device is ``owner``'s again."""
        record = self.devices.get(device_id)
        if record is None:
            self._owners[device_id] = owner
        else:
            record.owner = owner

    def online_count(self) -> int | None:
        """Devices online, or None while the broker is away: then nobody knows."""
        if not self.broker_connected:
            return None
        return sum(1 for d in self.devices.values() if d.online)

    def broker_up(self) -> None:
        self.broker_connected = True

    def broker_lost(self) -> list[DeviceRecord]:
        """The server no longer hears the broker: every device is unknown until heard again.
        The records that were online."""
        self.broker_connected = False
        were = [d for d in self.devices.values() if d.online]
        for record in were:
            record.online = False
        return were

    def on_birth(
        self, device_id: str, birth: DeviceBirth, *, retained: bool = False
    ) -> DeviceRecord:
        """A device describes itself: live, it is up; ``retained`` (the broker's copy, heard
        at subscribe time), it is only known until it speaks for itself."""
        record = self.devices.get(device_id)
        if record is None:
            owner = self._owners.pop(device_id, None)
            record = self.devices[device_id] = DeviceRecord(
                device_id, birth, online=False, owner=owner
            )
        else:
            if birth.bd_seq != record.birth.bd_seq:
                record.awaiting_birth = False  # born again since its last word
            record.birth = birth  # seq keeps counting across connections: gaps are losses
        if not retained:
            record.online = True
            record.awaiting_birth = False
        return record

    def on_status(
        self, device_id: str, status: DeviceStatus, *, retained: bool = False
    ) -> DeviceRecord | None:
        """Apply a status; a will left by an older connection (another bd_seq) is ignored,
        and a retained ``ready`` brings nobody online. ``UnprovenStatus`` for a last word of
        the current connection without its key."""
        record = self.devices.get(device_id)
        if record is None:
            return None
        if status.state == "ready":
            if not retained and not record.awaiting_birth:
                record.online = True
        elif status.bd_seq == record.birth.bd_seq:
            if not status.proves(record.birth):
                raise UnprovenStatus(f"a {status.state} without its connection's key")
            record.online = False
            record.awaiting_birth = True
        return record

    def on_batch(self, device_id: str, batch: SampleBatch) -> DeviceRecord | None:
        """Count the batch and the messages lost before it (``batch_gap``); None for an
        unknown device. Going back on the same connection is a duplicate (ignored).
        A device awaiting a birth gets its batch counted in ``ignored`` and nothing else.
        """
        record = self.devices.get(device_id)
        if record is None:
            self.rejected_unknown += 1
            return None
        if record.awaiting_birth:
            record.ignored += 1
            return record
        gap = batch_gap(record.last_seq, record.last_bd_seq, batch)
        if gap is None:
            return record  # a duplicate or reordered old message: already counted
        if not self.shared:
            record.lost += gap * len(batch.samples)
        record.last_seq = batch.seq
        record.last_bd_seq = batch.bd_seq
        record.online = True
        record.messages += 1
        record.samples += len(batch.samples)
        record.stale = batch.samples[-1].stale or ()
        return record

    def offers(self, code: str, session_id: str) -> list[tuple[DeviceRecord, PairingOffer]]:
        """The offers ``code`` might be (filed under its hint), for a pairing in ``session_id``:
        of online devices, not spent, bound to that session or to none."""
        hint = code_hint(code)
        found = []
        for record in self.devices.values():
            offer = record.birth.pairing
            if (
                record.online
                and offer is not None
                and offer.hint == hint
                and offer.verifier not in record.spent
                and offer.session in (None, session_id)
            ):
                found.append((record, offer))
        return found

    def claim(self, record: DeviceRecord, offer: PairingOffer, owner: str) -> str | None:
        """Give the device to ``owner`` for the ``offer`` a code was checked against (still
        its offer, or ``PairingRefused``); the offer is spent. The previous owner, if any."""
        if not record.online or record.birth.pairing != offer or offer.verifier in record.spent:
            raise PairingRefused(NO_OFFER)
        previous, record.owner = record.owner, owner
        record.spent.add(offer.verifier)
        record.birth = record.birth.model_copy(update={"pairing": None})
        return previous

    def paired_elsewhere(self, device_id: str, owner: str, verifier: str) -> str | None:
        """The device is ``owner``'s, paired by the offer of ``verifier`` (checked elsewhere:
        a cluster's ingest process, or another one), which is spent. The previous owner."""
        record = self.devices.get(device_id)
        if record is None:
            previous = self._owners.get(device_id)
            self._owners[device_id] = owner
            return previous
        previous, record.owner = record.owner, owner
        record.spent.add(verifier)
        offer = record.birth.pairing
        if offer is not None and offer.verifier == verifier:
            record.birth = record.birth.model_copy(update={"pairing": None})
        return previous

    def pair(self, code: str, owner: str) -> DeviceRecord:
        """Check ``code`` against the offers (a scrypt each: the hub runs this part in a
        thread) and give its device to ``owner`` ("session/participant")."""
        session_id = owner.split("/", 1)[0]
        for record, offer in self.offers(code, session_id):
            if offer.accepts(code):
                self.claim(record, offer, owner)
                return record
        raise PairingRefused(NO_OFFER)

    def owned_by(self, owner: str) -> list[DeviceRecord]:
        return [d for d in self.devices.values() if d.owner == owner]
