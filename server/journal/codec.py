"""The journal's event codec: an engine event (or a tick) as a kind and a msgpack payload.

``kind`` is the event's class name; the payload is a msgpack map of the dataclass's fields,
so that a field added later with a default still decodes old rows. Floats travel as
float64, so a replay hands the engine bit-identical numbers. Strings keep lone surrogates
(``surrogatepass``): whatever the edge let through, the journal stores and gives back.
"""

from __future__ import annotations

import threading
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

import msgpack

from dreamcommons.server.engine.events import Event, MotifContributed, Whispered
from dreamcommons.server.journal.errors import JournalCorrupt


@dataclass(frozen=True, slots=True)
class Tick:
    """The session ticked the engine at session time ``t`` (seconds)."""

    t: float


@dataclass(frozen=True, slots=True)
class Erased:
    """A tombstone: here was a ``kind`` event of ``participant``, erased at their request.
    Replay skips it, as if the event had never been sent."""

    participant: str
    kind: str


JournalEvent = Event | Tick | Erased
"""Everything a journal row can decode to."""

# Every engine event, in the order of the ``Event`` union, and the journal's own two.
EVENT_CLASSES: tuple[type[JournalEvent], ...] = (*typing.get_args(Event), Tick, Erased)

_BY_KIND: dict[str, type[JournalEvent]] = {cls.__name__: cls for cls in EVENT_CLASSES}


def _accepted_types(hint: Any) -> tuple[type, ...]:
    """The runtime types a decoded value of a field with this annotation may have."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return tuple({type(arg) for arg in typing.get_args(hint)})
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _accepted_types(arg))
    if hint is type(None):
        return (type(None),)
    if hint is float:
        return (float, int)
    if isinstance(hint, type):
        return (hint,)
    raise TypeError(f"the journal codec cannot check fields of type {hint!r}")


# For each class: its fields and the types each may decode to (checked, so that a damaged row
# is reported as corrupt here rather than as a strange error deep inside the engine).
_FIELDS: dict[type[JournalEvent], tuple[tuple[str, tuple[type, ...]], ...]] = {
    cls: tuple((f.name, _accepted_types(typing.get_type_hints(cls)[f.name])) for f in fields(cls))
    for cls in EVENT_CLASSES
}


def kind_of(event: JournalEvent) -> str:
    """The ``kind`` a journal row stores for this event: its class name."""
    return type(event).__name__


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """An event's values of ``names``, in that order, as a tuple however many there are."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda event: (one(event),)
    return attrgetter(*names)


# An event's field names and how to read them at once: ``encode_event`` runs for every
# contribution, and reading the fields one ``getattr`` at a time was a quarter of its cost.
_ENCODERS: dict[type[JournalEvent], tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {
    cls: (names, _values(names))
    for cls, spec in _FIELDS.items()
    for names in [tuple(name for name, _ in spec)]
}
_packers = threading.local()  # a Packer each thread, made once: packb makes one every call


def encode_event(event: JournalEvent) -> bytes:
    """The msgpack payload of an event: a map of its dataclass fields."""
    encoder = _ENCODERS.get(type(event))
    if encoder is None:
        raise TypeError(f"not a journal event: {type(event).__name__}")
    names, values = encoder
    packer = getattr(_packers, "packer", None)
    if packer is None:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True, unicode_errors="surrogatepass")
    packed: bytes = packer.pack(dict(zip(names, values(event), strict=True)))
    return packed


def decode_event(kind: str, payload: bytes) -> JournalEvent:
    """The event a journal row holds; ``JournalCorrupt`` if the kind or payload is wrong."""
    cls = _BY_KIND.get(kind)
    if cls is None:
        raise JournalCorrupt(f"unknown event kind {kind!r} in the journal")
    try:
        body = msgpack.unpackb(
            payload, raw=False, strict_map_key=True, unicode_errors="surrogatepass"
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise JournalCorrupt(f"{kind}: payload is not valid msgpack ({exc})") from None
    if not isinstance(body, Mapping):
        raise JournalCorrupt(f"{kind}: payload is not a map of fields")
    spec = _FIELDS[cls]
    for name, accepted in spec:
        value = body.get(name)
        if name in body and not _is_instance(value, accepted):
            raise JournalCorrupt(f"{kind}.{name}: unexpected {type(value).__name__} {value!r}")
    try:
        return cls(**body)
    except TypeError as exc:  # a missing or unknown field
        raise JournalCorrupt(f"{kind}: {exc}") from None


def _is_instance(value: object, accepted: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in accepted:
        return False  # bool is an int to Python, never to the journal
    return isinstance(value, accepted)


def participant_of(event: JournalEvent) -> str | None:
    """Whose event this is (None for ticks and host commands): indexed, for erasure."""
    participant = getattr(event, "participant", None)
    return participant if isinstance(participant, str) else None


def cid_of(event: JournalEvent) -> int | None:
    """The contribution id of a contribution or whisper: indexed, for the last acked cid."""
    if isinstance(event, MotifContributed | Whispered):
        return event.cid
    return None
