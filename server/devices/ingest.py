"""The server's MQTT side: one aiomqtt connection that hears every device and commands them.

Every payload is validated with the device protocol's models; what fails is counted by reason
and logged (at most once per device and reason a minute), never raised. The connection is
re-established with jittered exponential backoff when the broker goes away; devices count
their messages, so what was lost meanwhile shows up in the registry's loss counts. A
``presence`` (``server.presence``) rides on the same connection: its will, its birth on every
connection, the topics it subscribes to, and its goodbye when the gateway is cancelled.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import aiomqtt

from dreamcommons.contracts.backoff import backoff_delay
from dreamcommons.contracts.broker_access import broker_credentials, parse_broker_url
from dreamcommons.contracts.device_protocol import (
    CommandAck,
    DeviceBirth,
    DeviceCommand,
    DeviceEvent,
    DeviceStatus,
    ProtocolError,
    SampleBatch,
    device_topic,
    pack,
    parse_topic,
    server_subscriptions,
    unpack,
)
from dreamcommons.contracts.errors import DreamcommonsError, ErrorCode
from dreamcommons.server.cancelling import raise_if_cancelling
from dreamcommons.server.devices.paho_matcher import match_without_cycles
from dreamcommons.server.devices.registry import DeviceRecord, DeviceRegistry, UnprovenStatus

log = logging.getLogger(__name__)

BatchHandler = Callable[[DeviceRecord, SampleBatch, float], None]
"""Every counted batch of a device that is up (``arrived``: ``time.monotonic()``)."""
StatusHandler = Callable[[DeviceRecord], None]
BrokerLostHandler = Callable[[list[DeviceRecord]], None]

_PENDING_COMMANDS_WARNING = 5_000
_SHARED_LEAVES = ("/samples", "/events")  # what one of a shared group hears; the rest, all
_INCOMING_QUEUE = 50_000  # aiomqtt drops (with a warning) beyond this: size it for bursts


class Presence(Protocol):
    """What rides on the gateway's connection besides the devices (``ServerPresence``)."""

    @property
    def will(self) -> aiomqtt.Will: ...

    @property
    def subscriptions(self) -> Sequence[str]: ...

    async def connected(self, client: aiomqtt.Client) -> None: ...

    def hears(self, topic: str) -> bool: ...

    async def heard(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None: ...

    async def leaving(self, client: aiomqtt.Client) -> None: ...


class CommandFailed(DreamcommonsError):
    """A device command was not acknowledged in time, or not accepted."""


@dataclass(slots=True)
class IngestStats:
    messages: int = 0
    samples: int = 0
    connects: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class DeviceGateway:
    """Hears births, statuses, samples, events and acks; sends commands and awaits their acks."""

    def __init__(
        self,
        broker_url: str,
        registry: DeviceRegistry,
        *,
        on_batch: BatchHandler,
        on_status: StatusHandler,
        on_broker_lost: BrokerLostHandler | None = None,
        client_id: str = "dreamcommons-server",
        presence: Presence | None = None,
        shared_group: str | None = None,
    ) -> None:
        """``shared_group``: hear the devices' samples and events through the MQTT 5 shared
        subscription ``$share/GROUP/...``, so that each reaches one of the group's gateways
        (a cluster's ingest processes); births, statuses and acks are heard by every one."""
        self.host, self.port = parse_broker_url(broker_url)
        self._username, self._password = broker_credentials(broker_url)
        self.registry = registry
        self.stats = IngestStats()
        self.connected = asyncio.Event()
        self._on_batch = on_batch
        self._on_status = on_status
        self._on_broker_lost = on_broker_lost
        self._client_id = client_id
        self._presence = presence
        self._shared_group = shared_group
        self._client: aiomqtt.Client | None = None
        self._acks: dict[int, asyncio.Future[CommandAck]] = {}
        self._command_ids = itertools.count(int(time.time() * 1000) % 2**40)
        self._complaints: dict[tuple[str, str], float] = {}
        self._random = random.Random(client_id)
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with backoff."""
        attempt = 0
        up = False  # connected since the last complaint: a failure now is a loss
        complained = False  # said once that the broker does not answer; quiet until it does
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    identifier=self._client_id,
                    username=self._username,
                    password=self._password,
                    protocol=None if self._shared_group is None else aiomqtt.ProtocolVersion.V5,
                    clean_session=None if self._shared_group is not None else True,
                    max_queued_incoming_messages=_INCOMING_QUEUE,
                    will=None if self._presence is None else self._presence.will,
                ) as client:
                    match_without_cycles(client)
                    # harmonizing a room sends one pacing command per device at once: not a
                    # backlog worth a warning per command
                    client.pending_calls_threshold = _PENDING_COMMANDS_WARNING
                    presence = self._presence
                    extra = () if presence is None else presence.subscriptions
                    for topic in [*self._subscriptions(), *extra]:
                        await client.subscribe(topic, qos=1)
                    self._client = client
                    self.stats.connects += 1
                    self.registry.broker_up()
                    self.connected.set()
                    log.info("listening to devices on mqtt://%s:%d", self.host, self.port)
                    attempt = 0  # it was up: the next retry starts from the short delay
                    up, complained = True, False
                    try:
                        if presence is not None:
                            await presence.connected(client)
                        raise_if_cancelling()  # one the publish's wait_for dropped
                        await self._hear(client)
                    except asyncio.CancelledError:
                        if presence is not None:
                            await presence.leaving(client)  # a clean stop: no will
                        raise
            except aiomqtt.MqttError as error:
                self._complain(error, lost=up, again=complained)
                up, complained = False, True
            finally:
                self._client = None
                self.connected.clear()
                self._broker_lost()
            delay = backoff_delay(attempt, self._random)
            attempt += 1
            log.debug("reconnecting to the device broker in %.2fs", delay)
            await asyncio.sleep(delay)

    def _subscriptions(self) -> list[str]:
        group = self._shared_group
        if group is None:
            return server_subscriptions()
        return [
            f"$share/{group}/{topic}" if topic.endswith(_SHARED_LEAVES) else topic
            for topic in server_subscriptions()
        ]

    async def _hear(self, client: aiomqtt.Client) -> None:
        presence = self._presence
        async for message in client.messages:
            topic = str(message.topic)
            if presence is not None and presence.hears(topic):
                await presence.heard(client, message)
            else:
                self._dispatch(topic, message.payload, message.retain)

    def _complain(self, error: aiomqtt.MqttError, *, lost: bool, again: bool) -> None:
        """A connection that was up and dropped is lost; one that never came up is a broker
        that does not answer, said once until it does (the retries go to the debug log)."""
        url = f"mqtt://{self.host}:{self.port}"
        if lost:
            log.warning("device broker connection lost (%s); reconnecting", error)
        elif again:
            log.debug("device broker at %s still unreachable (%s)", url, error)
        else:
            log.warning(
                "device broker unreachable (%s): is Mosquitto running at %s? "
                "retrying until it answers",
                error,
                url,
            )

    def _broker_lost(self) -> None:
        """Nothing is known of the devices while the broker is away."""
        were_online = self.registry.broker_lost()
        if self._on_broker_lost is not None and were_online:
            self._on_broker_lost(were_online)

    # --- incoming ------------------------------------------------------------------------

    def _dispatch(self, topic: str, payload: object, retained: bool = False) -> None:
        """One message; ``retained`` when the broker replays its copy at subscribe time."""
        self.stats.messages += 1
        where = parse_topic(topic)
        if where is None:
            self._reject("unknown_topic", topic, "not a device topic")
            return
        device_id, leaf = where
        if not isinstance(payload, bytes | bytearray):
            self._reject(ErrorCode.MALFORMED_FRAME.value, device_id, "a payload that is not bytes")
            return
        if not payload and leaf in ("birth", "status"):
            return  # a retained message being cleared
        try:
            self._handle(device_id, leaf, payload, retained)
        except ProtocolError as error:
            record = self.registry.devices.get(device_id)
            if record is not None:
                record.rejected += 1
            self._reject(error.code.value, device_id, error.message)
        except UnprovenStatus as unproven:
            self._reject("unproven_status", device_id, str(unproven))

    def _handle(
        self, device_id: str, leaf: str, payload: bytes | bytearray, retained: bool
    ) -> None:
        arrived = time.monotonic()
        if leaf == "samples":
            batch = unpack(payload, SampleBatch)
            known = self.registry.devices.get(device_id)
            lost_before = 0 if known is None else known.lost
            stale_before = () if known is None else known.stale
            was_online = known is not None and known.online
            record = self.registry.on_batch(device_id, batch)
            if record is None:
                self._reject("unknown_device", device_id, "samples before a birth")
                return
            record.last_seen = time.time()
            if record.awaiting_birth:
                self._reject("offline_device", device_id, "samples after its will, before a birth")
                return
            if record.lost > lost_before:
                log.warning(
                    "%s: %d samples lost before batch %d (%d in all)",
                    device_id,
                    record.lost - lost_before,
                    batch.seq,
                    record.lost,
                )
            if record.stale != stale_before:
                log.info("%s: stale readings: %s", device_id, ", ".join(record.stale) or "none")
            self.stats.samples += len(batch.samples)
            if record.online and not was_online:
                self._on_status(record)  # heard again: back online
            self._on_batch(record, batch, arrived)  # paired or not: the handler's to say
        elif leaf == "birth":
            birth = unpack(payload, DeviceBirth)
            record = self.registry.on_birth(device_id, birth, retained=retained)
            if not retained:
                record.last_seen = time.time()
            self._on_status(record)
        elif leaf == "status":
            status = unpack(payload, DeviceStatus)
            status_record = self.registry.on_status(device_id, status, retained=retained)
            if status_record is not None:
                if not retained:
                    status_record.last_seen = time.time()
                self._on_status(status_record)
        elif leaf == "acks":
            ack = unpack(payload, CommandAck)
            future = self._acks.pop(ack.id, None)
            if future is not None and not future.done():
                future.set_result(ack)
        elif leaf == "events":
            event = unpack(payload, DeviceEvent)
            log.info("device %s reports %s: %s", device_id, event.kind, event.detail)

    def _reject(self, reason: str, source: str, detail: str) -> None:
        self.stats.rejected[reason] += 1
        now = time.monotonic()
        if now - self._complaints.get((source, reason), -1e9) > 60.0:
            self._complaints[(source, reason)] = now
            log.warning("rejected a device message from %s (%s): %s", source, reason, detail)

    # --- commands ------------------------------------------------------------------------

    async def command(
        self,
        device_id: str,
        action: str,
        value: float | None = None,
        *,
        reference_time: float | None = None,
        wait_s: float = 5.0,
    ) -> CommandAck:
        """Send one command and wait for the device's acknowledgement (or ``CommandFailed``)."""
        client = self._client
        if client is None:
            raise CommandFailed("not connected to the device broker")
        command = DeviceCommand(
            id=next(self._command_ids),
            action=action,
            value=value,
            reference_time=reference_time,
        )
        future: asyncio.Future[CommandAck] = asyncio.get_running_loop().create_future()
        self._acks[command.id] = future
        try:
            await client.publish(device_topic(device_id, "commands"), pack(command), qos=1)
            async with asyncio.timeout(wait_s):
                ack = await future
        except TimeoutError:
            raise CommandFailed(f"{device_id} did not acknowledge {action} in {wait_s}s") from None
        except aiomqtt.MqttError as error:
            raise CommandFailed(f"could not send to {device_id}: {error}") from None
        finally:
            self._acks.pop(command.id, None)
        return ack

    def command_soon(
        self,
        device_id: str,
        action: str,
        value: float | None = None,
        *,
        reference_time: float | None = None,
        wait_s: float = 5.0,
    ) -> None:
        """Fire a command in the background; its failure is logged (a warning naming the
        device and the action), not raised."""

        async def send() -> None:
            try:
                ack = await self.command(
                    device_id, action, value, reference_time=reference_time, wait_s=wait_s
                )
            except CommandFailed as failed:
                log.warning("%s: %s was not carried out: %s", device_id, action, failed)
                return
            if not ack.ok:
                log.warning("%s refused %s: %s", device_id, action, ack.error)

        task = asyncio.get_running_loop().create_task(send(), name=f"command-{device_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
