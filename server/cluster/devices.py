"""The devices of the sessions an engine owns, served by the cluster's ingest processes.

The owner folds each batch an ingest routed to it (``dreamcommons.owner.S.samples``) exactly
as one process does (``SleeperFold``), and counts each device's losses by sequence here,
where all of its batches meet (each ingest hears only some of them). Pairings, commands and
pacings go to one ingest (``dreamcommons.devices.commands``, ``ingest.py``); none answering
is ``no_devices``, never a wait without end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from dreamcommons.contracts import device_protocol
from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import (
    Command,
    CommandResult,
    Encoding,
    Pair,
    Paired,
    encode,
)
from dreamcommons.server.cluster.names import DEVICE_COMMANDS
from dreamcommons.server.cluster.wire import answer, frame_bytes, pack, unpack
from dreamcommons.server.devices.fold import SleeperFold, pace_reference
from dreamcommons.server.devices.hub import log_pacing
from dreamcommons.server.devices.registry import SEQ_MODULUS, batch_gap
from dreamcommons.server.engine import Pace
from dreamcommons.server.session import DreamSession, Member

log = logging.getLogger(__name__)


_LATE_KEPT = 256  # batches counted as lost that may still come, late, per device


@dataclass(slots=True)
class _Sequence:
    """One device's batches as the owner heard them. Two ingests may deliver two batches in
    the other order: one counted as lost that comes later is taken, and is lost no more."""

    last_seq: int | None = None
    last_bd_seq: int | None = None
    missing: dict[int, int] = field(default_factory=dict)  # seq -> samples counted as lost


class BatchCounts:
    """Every device's batches as the owner heard them, from whichever ingest: how many, their
    samples, and the samples lost before them (gaps in each device's sequence)."""

    def __init__(self) -> None:
        self.batches = 0
        self.samples = 0
        self.lost = 0
        self.dropped = 0  # duplicates, and held batches that were not needed
        self._sequences: dict[str, _Sequence] = {}

    def count(self, device: str, batch: SampleBatch, *, held: bool = False) -> bool:
        """Count the batch and the samples lost before it; False for a duplicate (or one older
        than what may still come), which is not to be folded. A ``held`` batch (heard before
        its ingest knew of the pairing) never begins a device's sequence: from before the
        pairing, it would make a gap of batches nobody routed."""
        sequence = self._sequences.setdefault(device, _Sequence())
        if held and sequence.last_seq is None:
            self.dropped += 1
            return False
        gap = batch_gap(sequence.last_seq, sequence.last_bd_seq, batch)
        if gap is None:
            late = sequence.missing.pop(batch.seq, None)
            if late is None:
                self.dropped += 1
                return False
            self.lost -= late
        else:
            if sequence.last_seq is not None and batch.bd_seq != sequence.last_bd_seq:
                sequence.missing.clear()  # a new connection: the old one's are gone
            if gap:
                log.info("%s: %d batches missing before batch %d", device, gap, batch.seq)
            for skipped in range(1, min(gap, _LATE_KEPT) + 1):
                seq = (batch.seq - skipped) % SEQ_MODULUS
                sequence.missing[seq] = len(batch.samples)
            while len(sequence.missing) > _LATE_KEPT:
                del sequence.missing[next(iter(sequence.missing))]
            self.lost += gap * len(batch.samples)
            sequence.last_seq, sequence.last_bd_seq = batch.seq, batch.bd_seq
        self.batches += 1
        self.samples += len(batch.samples)
        return True


class OwnedDevices:
    """What an engine's sessions have of their devices; ``wait_s``: how long a device
    request may take at an ingest (a command's ack time-out included)."""

    def __init__(self, nc: Client, *, wait_s: float) -> None:
        self.nc = nc
        self.wait_s = wait_s
        self.fold = SleeperFold()
        self.counts = BatchCounts()
        self._posting: set[asyncio.Task[None]] = set()

    def health(self) -> dict[str, int]:
        counts = self.counts
        return {
            "batches": counts.batches,
            "samples": counts.samples,
            "samples_lost": counts.lost,
            "batches_dropped": counts.dropped,
        }

    def heard(self, session: DreamSession, message: dict[str, Any]) -> None:
        """One message from an ingest on the session's samples subject."""
        op = message.get("op")
        pid = str(message["pid"])
        if op == "devices":
            session.devices_changed(pid, int(message["online"]))
        elif op == "batch":
            batch = device_protocol.unpack(message["batch"], SampleBatch)
            held = bool(message.get("held", False))
            if self.counts.count(str(message["device"]), batch, held=held):
                self.fold.fold(session, f"{session.id}/{pid}", batch, time.monotonic())

    async def pair(self, session: DreamSession, member: Member, request: Pair) -> bytes:
        """The ``paired`` frame, in the member's encoding, once an ingest paired the device."""
        asked = {"op": "pair", "session": session.id, "pid": member.pid, "code": request.code}
        device = answer(await self._ask(asked))
        session.paired(member.pid, str(device["device"]))
        paired = Paired(cid=request.cid, **device)
        return frame_bytes(encode(paired, member.encoding))

    async def command(self, session: DreamSession, member: Member, request: Command) -> bytes:
        """The ``command_result`` frame, in the member's encoding, with the device's ack."""
        asked = {
            "op": "command",
            "owner": f"{session.id}/{member.pid}",
            "command": frame_bytes(encode(request, Encoding.MSGPACK)),
        }
        result = CommandResult(**answer(await self._ask(asked)))
        return frame_bytes(encode(result, member.encoding))

    def pace(self, session: DreamSession, intent: Pace) -> None:
        """The engine's pacing intent, to the participants' devices through one ingest."""
        asked = {
            "op": "pace",
            "owners": [f"{session.id}/{pid}" for pid in intent.participants],
            "hz": intent.hz,
            "reference": pace_reference(session, intent),
        }
        task = asyncio.get_running_loop().create_task(self._post(asked), name="pace-devices")
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)
        log_pacing(session.id, intent)

    async def _post(self, payload: Mapping[str, object]) -> None:
        try:
            await self.nc.publish(DEVICE_COMMANDS, pack(payload))
        except Exception as error:  # NATS away: that pacing is not carried out
            log.warning("pacing not sent to the devices: %s", error)

    async def _ask(self, payload: Mapping[str, object]) -> dict[str, Any]:
        try:
            reply = await self.nc.request(DEVICE_COMMANDS, pack(payload), timeout=self.wait_s)
        except NoRespondersError:
            raise NotAllowed(
                ErrorCode.NO_DEVICES, "no device ingest process is running in this cluster"
            ) from None
        except (TimeoutError, NatsError) as error:
            raise NotAllowed(
                ErrorCode.NO_DEVICES, f"no device ingest process answered ({error})"
            ) from None
        return unpack(reply.data)
