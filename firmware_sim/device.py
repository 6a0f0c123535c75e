"""One simulated sleep pod or smart-fabric device that behaves like real firmware on MQTT.

A ``SimulatedDevice`` owns a seeded ``Sleeper`` and one MQTT session, named by its device id.
Its session follows ``contracts.device_protocol``: a retained ``lost`` will carrying the
connection's ``bd_seq`` and status key, a retained birth (with a pairing offer while unpaired:
a salted scrypt of the code, never the code, which only the device's owner sees) and ``ready``
status on every connection, sample batches at QoS 0, command acks and events at QoS 1, and a
retained ``disconnected`` status on a clean stop; an ``ephemeral`` device, which leaves for
good, then clears its retained birth and status. With ``ha_discovery`` it also shows itself
to Home Assistant (``firmware_sim.ha_discovery``). When the broker goes away the device backs
off (exponential, jittered, seeded) and reconnects by itself; batches finished while offline
are dropped and counted, and ``seq`` keeps counting so the server sees the gap.

Sampling is driven from outside by ``tick(now)``, so that a fleet can drive a thousand devices
from one task (``run_sample_clock``); a device run on its own starts a clock of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Final, Literal, get_args

import aiomqtt
import msgpack
from pydantic import TypeAdapter, ValidationError

from dreamcommons.contracts.backoff import backoff_delay
from dreamcommons.contracts.broker_access import broker_credentials, parse_broker_url
from dreamcommons.contracts.device_protocol import (
    LEAVES,
    MAX_SAMPLES_PER_BATCH,
    BioSample,
    CommandAck,
    CommandAction,
    DeviceBirth,
    DeviceCommand,
    DeviceEvent,
    DeviceId,
    DeviceKind,
    DeviceStatus,
    PairingCode,
    PairingOffer,
    ProtocolError,
    SampleBatch,
    device_topic,
    pack,
    unpack,
)
from dreamcommons.contracts.pairing import SALT_BYTES, new_code, status_digest
from dreamcommons.contracts.protocol import SESSION_ID_PATTERN
from dreamcommons.firmware_sim.faults import FaultInjector, Faults
from dreamcommons.firmware_sim.ha_discovery import HomeAssistantLink
from dreamcommons.firmware_sim.physiology import Sample, Sleeper
from dreamcommons.firmware_sim.stopping import BackgroundRun

__all__ = [
    "ACTIONS",
    "FIRMWARE",
    "MODELS",
    "SENSORS",
    "DeviceConfig",
    "DeviceStats",
    "SimulatedDevice",
    "run_sample_clock",
]

log = logging.getLogger(__name__)

FIRMWARE: Final = "dreamcommons-sim 0.1"
MODELS: Final[dict[DeviceKind, tuple[str, ...]]] = {
    "pod": ("FlexiSleep Synthesizer", "Chrono-Cocoon", "Biomolecular Bed", "Adaptive Sleep Pod"),
    "fabric": ("Kai Nanotech Fabric",),
}
SENSORS: Final[dict[DeviceKind, tuple[str, ...]]] = {
    "pod": ("hr", "hrv", "resp", "phase", "eeg", "move"),
    "fabric": ("resp", "phase", "move", "temp"),
}
ACTIONS: Final[dict[DeviceKind, tuple[CommandAction, ...]]] = {
    "pod": ("light", "sound", "pace", "paired", "unpaired"),
    "fabric": ("warmth", "pressure", "pace", "paired", "unpaired"),
}
_LEVEL_ACTIONS: Final = frozenset({"light", "sound", "warmth", "pressure"})
_SEQ_MODULUS: Final = 2**32
_BD_MODULUS: Final = 256

_KEEPALIVE_S: Final = 30
_MQTT_TIMEOUT_S: Final = 10.0
_GOODBYE_TIMEOUT_S: Final = 2.0
# Bounded queues. Outbox: finished batches waiting for the socket; beyond this the newest is
# dropped and counted (QoS 0 data is worthless late). Inbox: commands; aiomqtt discards beyond
# this with a warning, and the server sees the missing ack.
_OUTBOX_SIZE: Final = 32
_INBOX_SIZE: Final = 64

_device_ids: TypeAdapter[str] = TypeAdapter(DeviceId)
_pairing_codes: TypeAdapter[str] = TypeAdapter(PairingCode)
_SESSION = re.compile(SESSION_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """Who a device is and how it samples. ``generate`` fills what is not given from the seed.

    ``time_scale`` is how fast the body's real-time rhythms (breathing, heart) run against the
    wall clock: 1 in every real use, so that the sleeper's real-time clock is Unix time and
    devices paced by one command converge on one phase; tests may raise it to watch
    entrainment sooner. ``breath_phase`` starts the sleeper's breathing at that phase (radians;
    drawn from the seed when None), so that a fleet can start its sleepers out of step.
    ``pairing_code`` may be given as typed (any case, dashes); it is kept normalized, with the
    ``pairing_salt`` (hex) its offer is salted with. ``session`` binds the offer to a session.
    """

    device_id: str
    kind: DeviceKind
    model: str
    seed: int
    pairing_code: str
    sample_hz: float = 5.0
    batch: int = 5
    acceleration: float = 60.0
    time_scale: float = 1.0
    breath_phase: float | None = None
    pairing_salt: str = ""
    session: str | None = None

    def __post_init__(self) -> None:
        try:
            _device_ids.validate_python(self.device_id)
        except ValidationError:
            raise ValueError(
                f"device id {self.device_id!r} must match ^[a-z0-9][a-z0-9-]{{2,47}}$"
            ) from None
        try:
            code = _pairing_codes.validate_python(self.pairing_code)
        except ValidationError:
            raise ValueError(
                f"pairing code {self.pairing_code!r} must be 10 characters of "
                "2-9 and A-Z without I, L, O and U"
            ) from None
        object.__setattr__(self, "pairing_code", code)
        if not self.pairing_salt:
            draw = random.Random(f"dreamcommons.pairing-salt:{self.seed}:{self.device_id}")
            object.__setattr__(self, "pairing_salt", draw.randbytes(SALT_BYTES).hex())
        if self.session is not None and not _SESSION.match(self.session):
            raise ValueError(f"session {self.session!r} is not a session name")
        if self.kind not in get_args(DeviceKind):
            raise ValueError(f"kind must be pod, fabric or wearable, got {self.kind!r}")
        if not 1 <= len(self.model) <= 64:
            raise ValueError("model must be 1 to 64 characters")
        if not (math.isfinite(self.sample_hz) and 0.0 < self.sample_hz <= 100.0):
            raise ValueError(f"sample_hz must be in (0, 100], got {self.sample_hz}")
        if not 1 <= self.batch <= MAX_SAMPLES_PER_BATCH:
            raise ValueError(f"batch must be in [1, {MAX_SAMPLES_PER_BATCH}], got {self.batch}")
        for name in ("acceleration", "time_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be positive, got {value}")
        if self.breath_phase is not None and not math.isfinite(self.breath_phase):
            raise ValueError(f"breath_phase must be finite, got {self.breath_phase}")

    @classmethod
    def generate(
        cls,
        kind: DeviceKind,
        seed: int,
        *,
        device_id: str | None = None,
        pairing_code: str | None = None,
        model: str | None = None,
        sample_hz: float = 5.0,
        batch: int = 5,
        acceleration: float = 60.0,
        time_scale: float = 1.0,
        breath_phase: float | None = None,
        session: str | None = None,
    ) -> DeviceConfig:
        """A device of ``kind``; id (``pod-<6 hex>``), model and code drawn from ``seed``."""
        if kind not in MODELS:
            raise ValueError(f"kind must be pod or fabric, got {kind!r}")
        rng = random.Random(f"dreamcommons.device:{seed}")
        drawn_id = f"{kind}-{rng.getrandbits(24):06x}"
        drawn_code = new_code(rng)
        drawn_model = rng.choice(MODELS[kind])
        return cls(
            device_id=device_id or drawn_id,
            kind=kind,
            model=model or drawn_model,
            seed=seed,
            pairing_code=pairing_code or drawn_code,
            sample_hz=sample_hz,
            batch=batch,
            acceleration=acceleration,
            time_scale=time_scale,
            breath_phase=breath_phase,
            session=session,
        )

    def reset(self) -> DeviceConfig:
        """The same device after a factory reset: a fresh code and salt, from the system's
        randomness."""
        return dataclasses.replace(
            self, pairing_code=new_code(), pairing_salt=secrets.token_bytes(SALT_BYTES).hex()
        )


@dataclass(slots=True)
class DeviceStats:
    """What one device did (or a fleet, summed by ``DeviceStats.total``)."""

    samples: int = 0  # sleeper samples taken
    messages: int = 0  # sample batches handed to the broker
    dropped_offline: int = 0  # batches finished while not connected
    dropped_backlog: int = 0  # batches dropped because the outbox was full
    dropped_fault: int = 0  # batches swallowed by the dropout fault
    garbled: int = 0  # batches replaced by garbage (and sent)
    invalid_samples: int = 0  # readings the protocol model refused (a physiology bug)
    commands: int = 0  # commands received, valid or not
    commands_rejected: int = 0  # commands acked not ok, or unreadable
    events: int = 0  # events published
    connects: int = 0  # successful connections
    reconnects: int = 0  # successful connections after the first

    @staticmethod
    def total(many: Sequence[DeviceStats]) -> DeviceStats:
        out = DeviceStats()
        for item in fields(DeviceStats):
            setattr(out, item.name, sum(getattr(s, item.name) for s in many))
        return out


def reading_fields(kind: DeviceKind, sample: Sample, t: float) -> dict[str, object]:
    """The ``BioSample`` fields a device of ``kind`` reports of ``sample``, stamped ``t``: a pod
    its heart, breath, brain and movement; fabric its breath, movement and skin."""
    if kind == "pod":
        return {
            "t": t,
            "hr": sample.heart_rate,
            "hrv": sample.hrv_rmssd,
            "resp": sample.respiration_rate,
            "phase": sample.breath_phase,
            "eeg": (sample.eeg_delta, sample.eeg_theta, sample.eeg_alpha, sample.eeg_beta),
            "move": sample.movement,
        }
    return {
        "t": t,
        "resp": sample.respiration_rate,
        "phase": sample.breath_phase,
        "move": sample.movement,
        "temp": sample.skin_temp,
    }


class SimulatedDevice(BackgroundRun):
    """One pod or fabric: ``async with SimulatedDevice(config, broker_url) as device: ...``.

    ``await start()`` / ``await stop()`` do the same without a block. By default the device
    samples on a clock of its own; a fleet passes ``clock=False`` and calls ``tick`` itself.
    A stop is a pause (a restart keeps the retained birth and status on the broker) unless
    the device is ``ephemeral``: then it leaves for good and clears them.
    """

    def __init__(
        self,
        config: DeviceConfig,
        broker_url: str,
        *,
        faults: Faults | None = None,
        start_delay_s: float = 0.0,
        password: str | None = None,
        ephemeral: bool = False,
        ha_discovery: bool = False,
    ) -> None:
        self.config = config
        self.device_id = config.device_id
        self.ephemeral = ephemeral
        self.host, self.port = parse_broker_url(broker_url)
        username, from_url = broker_credentials(broker_url)
        # A secured broker knows each device by its id as username (see broker-config).
        self._password = password or from_url
        self._username = username or (config.device_id if self._password else None)
        self.faults = FaultInjector(faults or Faults(), config.seed)
        self.stats = DeviceStats()
        self.connected = asyncio.Event()  # set while the session is up
        self.disconnected = asyncio.Event()  # set while it is not
        self.disconnected.set()
        self.paired = False
        self.actuators: dict[str, float] = {
            name: 0.0 for name in self.actions if name in _LEVEL_ACTIONS
        }
        self.pace_hz: float | None = None
        self.bd_seq: int | None = None  # of the current (or last) connection
        self._next_bd_seq = 0
        self._seq = 0
        self._event_seq = 0
        self._start_delay_s = start_delay_s
        self._rng = random.Random(f"dreamcommons.backoff:{config.seed}")
        self._sleeper = Sleeper(
            config.seed,
            acceleration=config.acceleration,
            real_time_start=self._body_time(time.time()),
            breath_phase=config.breath_phase,
        )
        self._pending: list[BioSample] = []
        # Devices of a fleet finish their batches on different ticks, not all on the same one.
        self._batch_target = config.batch - self._rng.randrange(config.batch)
        self._first_tick: float | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(_OUTBOX_SIZE)
        self._online = False
        super().__init__()
        self._topics = {leaf: device_topic(config.device_id, leaf) for leaf in LEAVES}
        self._offer: PairingOffer | None = None  # the scrypt of the code, made once
        self._client: aiomqtt.Client | None = None
        self._status_key = secrets.token_hex(16)
        self.last_reading: BioSample | None = None
        self.home_assistant = (
            HomeAssistantLink(self, SENSORS[config.kind], FIRMWARE) if ha_discovery else None
        )

    @property
    def kind(self) -> DeviceKind:
        return self.config.kind

    # What the birth says the device is; another kind of device (a bridge) says otherwise.
    firmware: str = FIRMWARE

    @property
    def sensors(self) -> tuple[str, ...]:
        return SENSORS[self.config.kind]

    @property
    def actions(self) -> tuple[CommandAction, ...]:
        return ACTIONS[self.config.kind]

    @property
    def seq(self) -> int:
        """The ``seq`` the next sample batch will carry."""
        return self._seq

    @property
    def online(self) -> bool:
        return self._online

    async def offer(self) -> PairingOffer:
        """What the birth says of the pairing code (made once, in a thread: a scrypt)."""
        if self._offer is None:
            config = self.config
            self._offer = await asyncio.to_thread(
                PairingOffer.of, config.pairing_code, config.pairing_salt, config.session
            )
        return self._offer

    async def reset(self) -> str:
        """A factory reset: forget the pairing, show a fresh code (returned) and offer it; the
        next pairing takes the device, from whoever had it."""
        self.config = self.config.reset()
        self._offer = None
        self.paired = False
        if self._client is not None:
            await self._publish_birth(self._client)
        return self.config.pairing_code

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, *, clock: bool = True) -> None:
        """Run the device in a background task until ``stop()``; stopping says
        ``disconnected``, then DISCONNECTs."""
        self._launch(self.run(clock=clock), f"device:{self.device_id}")

    async def run(self, *, clock: bool = True) -> None:
        """Keep the MQTT session up (and, with ``clock``, sample) until ``request_stop()``."""
        async with asyncio.TaskGroup() as group:
            ticker = None
            if clock:
                ticker = group.create_task(
                    run_sample_clock([self], self.config.sample_hz),
                    name=f"device:{self.device_id}:clock",
                )
            await self._stay_connected()
            if ticker is not None:
                ticker.cancel()

    # --- sampling ----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Advance the sleeper to Unix time ``now`` and queue a batch when one is full."""
        body_now = self._body_time(now)
        sample = self._sleeper.advance(max(0.0, body_now - self._sleeper.real_time))
        self.stats.samples += 1
        if self._first_tick is None:
            self._first_tick = now
        if self.faults.stress_due(now - self._first_tick):
            settings = self.faults.faults
            self._sleeper.stress_episode(settings.stress_level, settings.stress_duration_s)
        self.add_reading(self.faults.freeze(self._reading(sample, self.faults.device_time(now))))

    def add_reading(self, reading: dict[str, object]) -> None:
        """Queue one ``BioSample``'s fields; a batch is sealed when full."""
        try:
            self._pending.append(BioSample.model_validate(reading))
        except ValidationError:
            self.stats.invalid_samples += 1
            return
        self.last_reading = self._pending[-1]
        if len(self._pending) >= self._batch_target:
            self._seal()

    def _reading(self, sample: Sample, t: float) -> dict[str, object]:
        return reading_fields(self.config.kind, sample, t)

    def _seal(self) -> None:
        """Close the pending batch under the next ``seq``: send it, or drop and count it."""
        seq, self._seq = self._seq, (self._seq + 1) % _SEQ_MODULUS
        samples = tuple(self._pending)
        self._pending.clear()
        self._batch_target = self.config.batch
        fate = self.faults.fate()
        if fate == "drop":
            self.stats.dropped_fault += 1
            return
        if not self._online or self.bd_seq is None:
            self.stats.dropped_offline += 1
            return
        payload = pack(SampleBatch(seq=seq, bd_seq=self.bd_seq, samples=samples))
        if fate == "garble":
            payload = self.faults.garble(payload)
            self.stats.garbled += 1
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            self.stats.dropped_backlog += 1

    def _body_time(self, unix_time: float) -> float:
        return unix_time * self.config.time_scale

    # --- the MQTT session --------------------------------------------------------------------

    async def _stay_connected(self) -> None:
        attempt = 0
        if self._start_delay_s > 0.0:
            await self._sleep_unless_stopping(self._start_delay_s)
        while not self._stopping.is_set():
            connects = self.stats.connects
            try:
                await self._session()
            except* (aiomqtt.MqttError, OSError) as group:
                log.info("%s: connection lost (%s)", self.device_id, group.exceptions[0])
            if self._stopping.is_set():
                return
            if self.stats.connects > connects:
                attempt = 0  # it was up: start the backoff again from the bottom
            pause = backoff_delay(attempt, self._rng)
            attempt += 1
            log.debug("%s: reconnecting in %.2fs", self.device_id, pause)
            await self._sleep_unless_stopping(pause)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _session(self) -> None:
        """One connection, from CONNECT (with its will) to a clean or broken end."""
        bd_seq = self._next_bd_seq
        # Only this connection knows its key; the birth shows its digest, the last words the key.
        self._status_key = secrets.token_hex(16)
        await self.offer()
        will = aiomqtt.Will(
            self._topics["status"],
            pack(DeviceStatus(state="lost", bd_seq=bd_seq, key=self._status_key)),
            qos=1,
            retain=True,
        )
        async with aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.device_id,
            username=self._username,
            password=self._password,
            will=will,
            clean_session=True,
            keepalive=_KEEPALIVE_S,
            timeout=_MQTT_TIMEOUT_S,
            max_queued_incoming_messages=_INBOX_SIZE,
        ) as client:
            self.bd_seq, self._next_bd_seq = bd_seq, (bd_seq + 1) % _BD_MODULUS
            if self.stats.connects:
                self.stats.reconnects += 1
            self.stats.connects += 1
            await client.subscribe(self._topics["commands"], qos=1)
            home_assistant = self.home_assistant
            for topic in home_assistant.subscriptions if home_assistant else ():
                await client.subscribe(topic, qos=1)
            await self._publish_birth(client)
            await client.publish(
                self._topics["status"],
                pack(DeviceStatus(state="ready", bd_seq=bd_seq)),
                qos=1,
                retain=True,
            )
            log.info("%s: ready on %s:%d (bd_seq %d)", self.device_id, self.host, self.port, bd_seq)
            if home_assistant is not None:
                await home_assistant.connected(client)
            try:
                self._client = client
                self._online = True
                self.connected.set()
                self.disconnected.clear()
                async with asyncio.TaskGroup() as group:
                    sender = group.create_task(
                        self._send_batches(client), name=f"device:{self.device_id}:samples"
                    )
                    listener = group.create_task(
                        self._listen(client), name=f"device:{self.device_id}:commands"
                    )
                    tasks = [sender, listener]
                    if home_assistant is not None:
                        tasks.append(
                            group.create_task(
                                home_assistant.publish_states(client),
                                name=f"device:{self.device_id}:ha-state",
                            )
                        )
                    await self._stopping.wait()
                    for task in tasks:
                        task.cancel()
            finally:
                self._client = None
                self._online = False
                self.connected.clear()
                self.disconnected.set()
                while not self._outbox.empty():
                    self._outbox.get_nowait()
                    self.stats.dropped_offline += 1
            await client.publish(
                self._topics["status"],
                pack(DeviceStatus(state="disconnected", bd_seq=bd_seq, key=self._status_key)),
                qos=1,
                retain=True,
                timeout=_GOODBYE_TIMEOUT_S,
            )
            if home_assistant is not None:
                await home_assistant.leaving(
                    client, for_good=self.ephemeral, within_s=_GOODBYE_TIMEOUT_S
                )
            if self.ephemeral:  # gone for good: leave no last words on the broker
                for leaf in ("birth", "status"):
                    await client.publish(
                        self._topics[leaf], b"", qos=1, retain=True, timeout=_GOODBYE_TIMEOUT_S
                    )

    async def _publish_birth(self, client: aiomqtt.Client) -> None:
        if self.bd_seq is None:
            return
        birth = DeviceBirth(
            kind=self.config.kind,
            model=self.config.model,
            firmware=self.firmware,
            bd_seq=self.bd_seq,
            sample_hz=self.config.sample_hz,
            sensors=self.sensors,
            actions=self.actions,
            pairing=None if self.paired else await self.offer(),
            status_digest=status_digest(self._status_key),
        )
        await client.publish(self._topics["birth"], pack(birth), qos=1, retain=True)

    async def _send_batches(self, client: aiomqtt.Client) -> None:
        topic = self._topics["samples"]
        while True:
            payload = await self._outbox.get()
            await client.publish(topic, payload, qos=0)
            self.stats.messages += 1

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if self.home_assistant is not None and self.home_assistant.hears(str(message.topic)):
                await self.home_assistant.heard(client, message)
            else:
                await self._on_command(client, message.payload)

    # --- commands ----------------------------------------------------------------------------

    async def _on_command(self, client: aiomqtt.Client, payload: object) -> None:
        self.stats.commands += 1
        try:
            if not isinstance(payload, bytes | bytearray):
                raise ProtocolError("a command must be a msgpack map")
            command = unpack(payload, DeviceCommand)
        except ProtocolError as error:
            self.stats.commands_rejected += 1
            ref = _readable_id(payload)
            if ref is None:
                await self._event(client, "fault", f"unreadable command: {error.message}")
            else:
                await self._ack(client, ref, error.message)
            return
        await self.obey(client, command)

    async def obey(self, client: aiomqtt.Client, command: DeviceCommand) -> None:
        """Carry out ``command`` and acknowledge it (ok, or the reason it was refused)."""
        error_text = await self._execute(client, command)
        if error_text is not None:
            self.stats.commands_rejected += 1
        await self._ack(client, command.id, error_text)

    async def refuse(self, client: aiomqtt.Client, command_id: int, reason: str) -> None:
        """Acknowledge a command that could not be read as not ok, saying why."""
        self.stats.commands += 1
        self.stats.commands_rejected += 1
        await self._ack(client, command_id, reason)

    async def _execute(self, client: aiomqtt.Client, command: DeviceCommand) -> str | None:
        """Carry out ``command``; the reason it was refused, or None."""
        action, value = command.action, command.value
        if action not in self.actions:
            return (
                f"{action} is not an action of a {self.config.kind} "
                f"(it takes {', '.join(self.actions)})"
            )
        if action in _LEVEL_ACTIONS:
            if value is None:
                return f"{action} needs a value in [0, 1]"
            self.actuators[action] = value
        elif action == "pace":
            return self._pace(value, command.reference_time)
        elif action in ("paired", "unpaired"):
            self.paired = action == "paired"
            await self._publish_birth(client)
        return None

    def _pace(self, hz: float | None, reference_time: float | None) -> str | None:
        # The reference is an instant on the device's own (maybe skewed) clock: the body is
        # paced from the moment that clock reads it, in true time.
        now = self.faults.device_time(time.time())
        reference = self.faults.true_time(now if reference_time is None else reference_time)
        try:
            self._sleeper.pace(hz, reference_time=self._body_time(reference))
        except ValueError as error:
            return str(error)
        self.pace_hz = hz
        return None

    async def _ack(self, client: aiomqtt.Client, command_id: int, error: str | None) -> None:
        ack = CommandAck(id=command_id, ok=error is None, error=_clip(error))
        await client.publish(self._topics["acks"], pack(ack), qos=1)

    async def _event(
        self, client: aiomqtt.Client, kind: Literal["fault", "button", "info"], detail: str
    ) -> None:
        event = DeviceEvent(seq=self._event_seq, kind=kind, detail=_clip(detail) or "")
        self._event_seq = (self._event_seq + 1) % _SEQ_MODULUS
        self.stats.events += 1
        await client.publish(self._topics["events"], pack(event), qos=1)


def _clip(text: str | None, limit: int = 200) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _readable_id(payload: object) -> int | None:
    """The ``id`` of a command that failed validation, if one can still be read from it."""
    if not isinstance(payload, bytes | bytearray):
        return None
    try:
        raw = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception:  # msgpack raises several unrelated types for bad input
        return None
    ref = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < 2**53:
        return ref
    return None


async def run_sample_clock(devices: Sequence[SimulatedDevice], hz: float) -> None:
    """Tick every device ``hz`` times a second from this one task, until cancelled.

    Ticks are scheduled on the loop's clock, so they do not drift; when the process falls more
    than a period behind, the missed ticks are skipped rather than fired in a burst (each
    sleeper then takes one longer step, which its exact integration allows).
    """
    period = 1.0 / hz
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        now = time.time()
        for device in devices:
            device.tick(now)
        due += period
        current = loop.time()
        if current - due > period:
            due = current
        await asyncio.sleep(max(0.0, due - current))
