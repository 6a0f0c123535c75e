"""An ingest process (``--role ingest``, or ``all`` with ``--broker``): the cluster's devices.

It hears the devices on the broker as one process does (``DeviceGateway``), except that each
sample batch and event reaches one ingest of the group, through the MQTT 5 shared
subscription ``$share/dreamcommons-ingest/...``; births, statuses and acks reach every one.
A paired device's batch goes to its session's owner on ``dreamcommons.owner.S.samples``:

    batch     {device, pid, batch (the SampleBatch, msgpack), held}   held: heard here
              before this ingest learned of the pairing made at another (``HELD_S``)
    devices   {pid, online}   how many of the participant's devices are online now

Pairings are kept in the cluster, in ``dreamcommons-pairings`` (device -> msgpack
``{owner: "S/PID", verifier}``, the verifier of the offer it was paired by, spent from then
on), which every ingest watches: any of them routes a paired device's batches, and a
takeover of the session keeps them. Owners ask one ingest (queue group
``dreamcommons-ingest``) on ``dreamcommons.devices.commands``:

    pair      {session, pid, code}        -> {ok: {device, kind, model}}
    command   {owner, command (msgpack)}  -> {ok: CommandResult's fields}
    pace      {owners, hz, reference}     no reply: every online device of those owners paces

A refusal is ``{error: {code, message}}``: ``pairing_refused``, ``forbidden``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from dreamcommons.contracts import device_protocol
from dreamcommons.contracts.device_protocol import SampleBatch
from dreamcommons.contracts.errors import ErrorCode, NotAllowed, ProtocolError
from dreamcommons.contracts.protocol import Command, Encoding, decode_client
from dreamcommons.server.cluster.lease import watch_entries
from dreamcommons.server.cluster.names import (
    DEVICE_COMMANDS,
    INGEST_QUEUE,
    PAIRINGS_BUCKET,
    pairing_key,
    samples_subject,
)
from dreamcommons.server.cluster.wire import pack, refusal, unpack
from dreamcommons.server.devices.hub import command_device, find_offer, pace_devices
from dreamcommons.server.devices.ingest import DeviceGateway
from dreamcommons.server.devices.registry import (
    NO_OFFER,
    DeviceRecord,
    DeviceRegistry,
    PairingRefused,
)

log = logging.getLogger(__name__)

HELD_S = 2.0
"""How long an ingest keeps an unpaired device's batches: a pairing made at another ingest
reaches this one through the bucket's watch a moment later, and what it heard meanwhile is
routed then, marked ``held`` (the owner takes only those that fill a gap)."""


class IngestNode:
    """The devices of the cluster, as heard by process ``node_id``."""

    def __init__(self, nc: Client, broker_url: str, node_id: str, *, command_wait_s: float) -> None:
        self.nc = nc
        self.node_id = node_id
        self.command_wait_s = command_wait_s
        self.registry = DeviceRegistry(shared=True)
        self.gateway = DeviceGateway(
            broker_url,
            self.registry,
            on_batch=self._batch,
            on_status=self._status,
            on_broker_lost=self._broker_lost,
            client_id=f"dreamcommons-ingest-{node_id}",
            shared_group=INGEST_QUEUE,
        )
        self.batches_routed = 0
        self.samples_routed = 0
        self._held: dict[str, deque[tuple[float, SampleBatch]]] = {}
        self._kv: KeyValue | None = None
        self._checking = asyncio.Lock()
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._subscription: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        js = self.nc.jetstream()
        try:
            self._kv = await js.key_value(PAIRINGS_BUCKET)
        except BucketNotFoundError:
            self._kv = await js.create_key_value(
                KeyValueConfig(bucket=PAIRINGS_BUCKET, history=1, storage=StorageType.FILE)
            )
        self._spawn(self._watch_pairings(self._kv), "pairings")
        self._spawn(self._publish_queued(), "ingest-publish")
        self._subscription = await self.nc.subscribe(
            DEVICE_COMMANDS, queue=INGEST_QUEUE, cb=self._on_request
        )
        await self.nc.flush()
        self._spawn(self.gateway.run(), "ingest-broker")

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):  # NATS away: the subscription dies with it
                await self._subscription.unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def health(self) -> dict[str, int]:
        return {
            "broker_connected": int(self.registry.broker_connected),
            "devices_online": self.registry.online_count() or 0,
            "batches_heard": sum(d.messages for d in self.registry.devices.values()),
            "batches_routed": self.batches_routed,
            "samples_routed": self.samples_routed,
        }

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- to the owners -------------------------------------------------------------------

    def _post(self, session: str, payload: dict[str, object]) -> None:
        self._outbox.put_nowait((samples_subject(session), pack(payload)))

    async def _publish_queued(self) -> None:
        while True:
            subject, payload = await self._outbox.get()
            try:
                await self.nc.publish(subject, payload)
            except Exception as error:  # NATS away and its buffer full: that one is missed
                log.warning("not published on %s: %s", subject, error)

    def _batch(self, record: DeviceRecord, batch: SampleBatch, arrived: float) -> None:
        if record.owner is None:
            held = self._held.setdefault(record.device_id, deque())
            held.append((arrived, batch))
            while arrived - held[0][0] > HELD_S:
                held.popleft()
            return
        self._route(record.device_id, record.owner, batch, held=False)

    def _route(self, device: str, owner: str, batch: SampleBatch, *, held: bool) -> None:
        session, pid = owner.split("/", 1)
        data = device_protocol.pack(batch)
        self._post(
            session, {"op": "batch", "device": device, "pid": pid, "batch": data, "held": held}
        )
        self.batches_routed += 1
        self.samples_routed += len(batch.samples)

    def _route_held(self, device: str, owner: str) -> None:
        """The batches heard here of a device just paired elsewhere, while it was."""
        now = time.monotonic()
        for arrived, batch in self._held.pop(device, ()):
            if now - arrived <= HELD_S:
                self._route(device, owner, batch, held=True)

    def _status(self, record: DeviceRecord) -> None:
        self._tell(record.owner)

    def _broker_lost(self, were_online: list[DeviceRecord]) -> None:
        for owner in {d.owner for d in were_online}:
            self._tell(owner)

    def _tell(self, owner: str | None) -> None:
        """The owner's session hears how many of their devices are online now."""
        if owner is None:
            return
        session, pid = owner.split("/", 1)
        online = sum(1 for d in self.registry.owned_by(owner) if d.online)
        self._post(session, {"op": "devices", "pid": pid, "online": online})

    # --- pairings ------------------------------------------------------------------------

    async def _watch_pairings(self, kv: KeyValue) -> None:
        """Every ingest knows every pairing, whichever ingest made it: its offer is spent."""
        async for entry in watch_entries(self.nc, kv, "pairings"):
            if entry.operation in (KV_DEL, KV_PURGE) or entry.value is None:
                continue
            try:
                pairing = unpack(entry.value)
                owner = str(pairing["owner"])
                self.registry.paired_elsewhere(entry.key, owner, str(pairing["verifier"]))
                self._route_held(entry.key, owner)
            except (KeyError, ValueError, TypeError) as error:
                log.warning("pairing of %s unreadable: %s", entry.key, error)

    async def _pair(self, request: dict[str, Any]) -> dict[str, object]:
        session, pid, code = str(request["session"]), str(request["pid"]), str(request["code"])
        owner = f"{session}/{pid}"
        try:
            record, offer = await find_offer(self.registry, code, session, self._checking)
        except PairingRefused as refused:
            raise NotAllowed(ErrorCode.PAIRING_REFUSED, str(refused)) from None
        assert self._kv is not None
        try:
            key = pairing_key(record.device_id)
        except ValueError:
            raise NotAllowed(ErrorCode.PAIRING_REFUSED, NO_OFFER) from None
        value = pack({"owner": owner, "verifier": offer.verifier})
        # The bucket decides: an offer spent at another ingest, or paired there at the same
        # moment, is refused here (a compare-and-set on the pairing the code was checked by).
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            entry = None
        try:
            if entry is None or entry.value is None:
                await self._kv.create(key, value)
            elif unpack(entry.value).get("verifier") == offer.verifier:
                raise NotAllowed(ErrorCode.PAIRING_REFUSED, NO_OFFER)
            else:
                await self._kv.update(key, value, last=entry.revision)
        except KeyWrongLastSequenceError:
            raise NotAllowed(ErrorCode.PAIRING_REFUSED, NO_OFFER) from None
        previous = self.registry.paired_elsewhere(record.device_id, owner, offer.verifier)
        self._held.pop(record.device_id, None)  # heard before its pairing: not its owner's
        self.gateway.command_soon(record.device_id, "paired", wait_s=self.command_wait_s)
        self._tell(owner)
        if previous is not None and previous != owner:
            self._tell(previous)
            log.info("%s passes from %s to %s", record.device_id, previous, owner)
        log.info("%s paired %s (%s)", owner, record.device_id, record.birth.model)
        return {"device": record.device_id, "kind": record.kind, "model": record.birth.model}

    # --- requests ------------------------------------------------------------------------

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        try:
            request = unpack(msg.data)
            op = request.get("op")
            if op == "pair":
                reply = pack({"ok": await self._pair(request)})
            elif op == "command":
                command = decode_client(request["command"], Encoding.MSGPACK)
                if not isinstance(command, Command):
                    raise NotAllowed(ErrorCode.INVALID_FIELD, "a command request without one")
                owner = str(request["owner"])
                wait_s = self.command_wait_s
                result = await command_device(self.gateway, self.registry, owner, command, wait_s)
                reply = pack({"ok": result.model_dump()})
            elif op == "pace":
                owners = [str(owner) for owner in request["owners"]]
                hz, reference = request["hz"], float(request["reference"])
                pace_devices(
                    self.gateway, self.registry, owners, hz, reference, self.command_wait_s
                )
                return
            else:
                raise NotAllowed(ErrorCode.INVALID_FIELD, f"no such device request: {op!r}")
        except ProtocolError as error:
            reply = refusal(error)
        except (KeyError, ValueError, TypeError, NatsError, TimeoutError) as error:
            log.warning("device request not carried out: %s", error)
            reply = refusal(NotAllowed(ErrorCode.INTERNAL, "the device request failed here"))
        if msg.reply:
            with contextlib.suppress(Exception):  # the owner gave up waiting: it said so
                await msg.respond(reply)
