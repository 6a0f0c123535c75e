"""The device wire: MQTT topics and msgpack payloads shared by the server and the firmware.

Topic layout, one subtree per device (``docs/devices.md`` is the reference for firmware):

    dreamcommons/v1/devices/{device_id}/birth     retained, QoS 1   DeviceBirth
    dreamcommons/v1/devices/{device_id}/status    retained, QoS 1   DeviceStatus (the will: lost)
    dreamcommons/v1/devices/{device_id}/samples   QoS 0             SampleBatch
    dreamcommons/v1/devices/{device_id}/events    QoS 1             DeviceEvent
    dreamcommons/v1/devices/{device_id}/commands  QoS 1             DeviceCommand (server -> device)
    dreamcommons/v1/devices/{device_id}/acks      QoS 1             CommandAck
    dreamcommons/v1/servers/{server}/status       retained, QoS 1   online | offline (the will)

Every device payload is a msgpack map of one of the models below. Birth and status carry ``bd_seq``,
which increases with each connection of the device (mod 256), so that a late will from an
old connection cannot mark a newer one lost.
"""

from __future__ import annotations

import hmac
import math
from typing import Annotated, Any, Final, Literal, TypeVar

import msgpack
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from dreamcommons.contracts.errors import (
    FrameTooLarge,
    InvalidField,
    MalformedFrame,
    ProtocolError,
)
from dreamcommons.contracts.pairing import (
    HINT_PATTERN,
    PairingCode,
    code_hint,
    code_verifier,
    status_digest,
)
from dreamcommons.contracts.protocol import SESSION_ID_PATTERN

TOPIC_ROOT: Final = "dreamcommons/v1/devices"
SERVER_ROOT: Final = "dreamcommons/v1/servers"
LEAVES: Final = ("birth", "status", "samples", "events", "commands", "acks")

DeviceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,47}$")]
Hex16 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
DeviceKind = Literal["pod", "fabric", "wearable"]
# The readings of a ``BioSample``, as named in its ``stale``.
Reading = Literal["hr", "hrv", "resp", "phase", "eeg", "move", "temp"]
CommandAction = Literal["light", "sound", "pace", "warmth", "pressure", "paired", "unpaired"]
ByteSeq = Annotated[int, Field(ge=0, le=255)]
MAX_SAMPLES_PER_BATCH: Final = 64
MAX_PAYLOAD_BYTES: Final = 16_384


def device_topic(device_id: str, leaf: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{leaf}"


def server_status_topic(server: str) -> str:
    """The server's retained ``online``, and its will ``offline`` (plain text, QoS 1)."""
    return f"{SERVER_ROOT}/{server}/status"


def server_subscriptions() -> list[str]:
    """What the server subscribes to: everything devices publish, nothing they receive."""
    return [f"{TOPIC_ROOT}/+/{leaf}" for leaf in ("birth", "status", "samples", "events", "acks")]


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(device_id, leaf)`` of a device topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != TOPIC_ROOT or parts[4] not in LEAVES:
        return None
    return parts[3], parts[4]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PairingOffer(_Model):
    """What a birth says of the pairing code the device shows its owner: never the code. The
    ``hint`` (its first two characters) files the offer; a typed code is the device's when its
    salted scrypt equals ``verifier``. With a ``session``, only that session may pair it."""

    hint: Annotated[str, StringConstraints(pattern=HINT_PATTERN)]
    salt: Hex16
    verifier: Hex32
    session: Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)] | None = None

    @classmethod
    def of(cls, code: str, salt_hex: str, session: str | None = None) -> PairingOffer:
        """The offer of ``code`` (a scrypt: about 20 ms)."""
        return cls(
            hint=code_hint(code),
            salt=salt_hex,
            verifier=code_verifier(code, salt_hex),
            session=session,
        )

    def accepts(self, code: str) -> bool:
        """Whether ``code`` (normalized) is the device's: the scrypt check, about 20 ms."""
        return code_hint(code) == self.hint and hmac.compare_digest(
            code_verifier(code, self.salt), self.verifier
        )


class DeviceBirth(_Model):
    """Retained description of a device, published on every (re)connection."""

    kind: DeviceKind
    model: str = Field(min_length=1, max_length=64)
    firmware: str = Field(min_length=1, max_length=32)
    bd_seq: ByteSeq
    sample_hz: float = Field(gt=0.0, le=100.0)
    sensors: tuple[str, ...] = Field(max_length=16)
    actions: tuple[CommandAction, ...] = Field(max_length=16)
    pairing: PairingOffer | None = None  # while the device waits to be paired
    # SHA-256 of this connection's status key: a lost or disconnected status must show the key
    status_digest: Hex32 | None = None


class DeviceStatus(_Model):
    """Retained availability: ``ready`` when up, ``disconnected`` on a clean stop, ``lost``
    (the last will) when the connection dropped."""

    state: Literal["ready", "disconnected", "lost"]
    bd_seq: ByteSeq
    key: Hex16 | None = None  # on lost and disconnected: the key whose digest the birth carries

    def proves(self, birth: DeviceBirth) -> bool:
        """Whether this last word is the connection's own: the birth set no key, or the status
        shows the key whose digest the birth published."""
        if birth.status_digest is None:
            return True
        return self.key is not None and hmac.compare_digest(
            status_digest(self.key), birth.status_digest
        )


class BioSample(_Model):
    """One reading. A pod fills hr/hrv/resp/phase/eeg/move; a fabric resp/phase/move/temp; a
    wearable what its sensors give. A reading its sensor stopped giving is absent and named in
    ``stale``."""

    t: float = Field(description="device clock, seconds; only differences are trusted")
    hr: float | None = Field(default=None, ge=20.0, le=250.0, description="heart rate, bpm")
    hrv: float | None = Field(default=None, ge=0.0, le=500.0, description="RMSSD, ms")
    resp: float | None = Field(default=None, ge=0.0, le=60.0, description="breaths per minute")
    phase: float | None = Field(
        default=None, ge=0.0, le=2 * math.pi, description="breathing phase, radians"
    )
    eeg: tuple[float, float, float, float] | None = Field(
        default=None, description="relative band power: delta, theta, alpha, beta"
    )
    move: float | None = Field(default=None, ge=0.0, le=1.0)
    temp: float | None = Field(default=None, ge=20.0, le=45.0, description="skin, °C")
    stale: tuple[Reading, ...] | None = Field(
        default=None,
        max_length=7,
        description="readings the device has but cannot give now: its sensor stopped delivering",
    )


class SampleBatch(_Model):
    """Several samples in one message. ``seq`` counts messages (mod 2**32) so losses show."""

    seq: int = Field(ge=0, lt=2**32)
    bd_seq: ByteSeq
    samples: tuple[BioSample, ...] = Field(min_length=1, max_length=MAX_SAMPLES_PER_BATCH)


class DeviceEvent(_Model):
    seq: int = Field(ge=0, lt=2**32)
    kind: Literal["fault", "button", "info"]
    detail: str = Field(default="", max_length=200)


class DeviceCommand(_Model):
    """A command to one device. ``value``: 0..1 for light, sound, warmth and pressure; the
    pacing frequency in Hz for pace (None stops pacing), whose phase is zero at
    ``reference_time`` (Unix seconds), so that every paced device breathes in together."""

    id: int = Field(ge=0, lt=2**53)
    action: CommandAction
    value: float | None = Field(default=None, ge=0.0, le=1.0)
    reference_time: float | None = None


class CommandAck(_Model):
    id: int = Field(ge=0, lt=2**53)
    ok: bool
    error: str | None = Field(default=None, max_length=200)


M = TypeVar("M", bound=BaseModel)


def pack(message: BaseModel) -> bytes:
    packed: bytes = msgpack.packb(message.model_dump(mode="json", exclude_none=True))
    return packed


def unpack(payload: bytes | bytearray, model: type[M]) -> M:
    """The payload as ``model``, or a ``ProtocolError`` saying what is wrong with it."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FrameTooLarge(f"payload of {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    try:
        raw: Any = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise MalformedFrame(f"not valid msgpack: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise MalformedFrame("a payload must be a msgpack map")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise InvalidField(f"{model.__name__}.{where}: {first['msg']}") from None


__all__ = [
    "BioSample",
    "CommandAck",
    "DeviceBirth",
    "DeviceCommand",
    "DeviceEvent",
    "DeviceStatus",
    "PairingCode",
    "PairingOffer",
    "ProtocolError",
    "Reading",
    "SampleBatch",
    "device_topic",
    "pack",
    "parse_topic",
    "server_status_topic",
    "server_subscriptions",
    "unpack",
]
