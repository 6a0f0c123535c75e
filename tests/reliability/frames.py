"""Hypothesis strategies for client frames: valid ones, mutated ones, and noise."""

from __future__ import annotations

import json
import random
from typing import Any

import msgpack
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import Encoding

TEMPLATES: list[dict[str, Any]] = [
    {"type": "join", "session": "commons", "name": "Lyra"},
    {"type": "join", "v": 1, "session": "commons", "name": "Q", "role": "watcher", "resume": "x"},
    {"type": "contribute", "cid": 1, "motif": "moon"},
    {
        "type": "contribute",
        "cid": 2,
        "motif": "river",
        "intensity": 0.5,
        "valence": -0.2,
        "arousal": 0.1,
        "private": True,
    },
    {"type": "whisper", "cid": 3, "text": "the cocoons pulse together"},
    {"type": "resync"},
    {"type": "pair", "cid": 4, "code": "ABC123"},
    {"type": "command", "cid": 5, "device": "pod-lyra", "action": "pace", "value": 0.2},
    {"type": "share", "cid": 6, "level": 0.5},
    {"type": "host", "cid": 7, "action": "remove", "participant": "p1"},
    {"type": "ping", "n": 3},
]

FIELDS = sorted({key for template in TEMPLATES for key in template} | {"colour", "", "💤"})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["join", "contribute", "moon", "commons", "p1", "pace", "ABC123", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_messages(draw: st.DrawFn) -> Any:
    """A template with fields dropped, retyped, added, or the whole thing replaced."""
    message = dict(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "retype", "add", "wrap"]))
        key = draw(st.sampled_from(sorted(message) or ["type"]))
        if action == "drop":
            message.pop(key, None)
        elif action == "retype":
            message[key] = draw(values)
        elif action == "add":
            message[draw(st.sampled_from(FIELDS))] = draw(values)
        else:
            return draw(st.sampled_from([[message], message.get(key), {"type": message}]))
    return message


def pack(message: Any, encoding: Encoding) -> bytes | str | None:
    """The message in the encoding; None when the encoding cannot carry it."""
    try:
        if encoding is Encoding.MSGPACK:
            packed: bytes = msgpack.packb(message, use_bin_type=True)
            return packed
        return json.dumps(message)
    except (TypeError, ValueError, OverflowError):
        return None


@st.composite
def frames(draw: st.DrawFn, encoding: Encoding) -> bytes | str:
    """One frame for a connection of ``encoding``: encoded messages, mangled bytes, noise."""
    kind = draw(st.sampled_from(["message", "mangled", "noise", "wrong-kind"]))
    if kind == "noise":
        return draw(st.binary(max_size=200)) if encoding is Encoding.MSGPACK else draw(st.text())
    if kind == "wrong-kind":  # text on a binary connection, or the other way round
        return draw(st.text(max_size=50)) if encoding is Encoding.MSGPACK else draw(st.binary())
    frame = pack(draw(mutated_messages()), encoding)
    if frame is None:
        return b"\xc1" if encoding is Encoding.MSGPACK else "{"
    if kind == "message":
        return frame
    raw = frame if isinstance(frame, bytes) else frame.encode()
    raw = mangle(draw, raw)
    return raw if encoding is Encoding.MSGPACK else raw.decode("utf-8", "replace")


def mangle(draw: st.DrawFn, raw: bytes) -> bytes:
    """Truncate, flip, insert or duplicate bytes."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["cut", "flip", "insert", "repeat"]))
        if how == "cut":
            del data[at:]
        elif how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


def mutants(frame: bytes | str, rng: random.Random, count: int) -> list[bytes | str]:
    """``count`` byte-level mutations of ``frame`` (cheap: the bulk of a fuzz run)."""
    raw = frame if isinstance(frame, bytes) else frame.encode()
    out: list[bytes | str] = []
    for _ in range(count):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            how = rng.choice(("cut", "flip", "insert", "repeat", "delete"))
            if how == "cut":
                del data[at:]
            elif how == "flip" and at < len(data):
                data[at] ^= rng.randrange(1, 256)
            elif how == "insert":
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            elif how == "repeat":
                data[at:at] = data[at : at + rng.randint(1, 16)]
            else:
                del data[at : at + rng.randint(1, 4)]
        out.append(bytes(data) if isinstance(frame, bytes) else data.decode("utf-8", "replace"))
    return out
