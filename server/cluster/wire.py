"""The payloads between a gateway and a session's owner: msgpack maps, frames as bytes.

A request is ``{"op": ..., ...}`` on ``dreamcommons.owner.SESSION.requests``; a reply is
``{"ok": ...}`` or ``{"error": {"code", "message"}}``, the code an ``ErrorCode``. Frames travel
as the bytes a client receives: a JSON frame as its UTF-8 text, so that a gateway only turns it
back into text to send it as a text frame, never parsing it. A delta message carries its seq
and kind in headers, so that a gateway never decodes a frame to learn them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgpack

from dreamcommons.contracts.errors import ErrorCode, NotAllowed, ProtocolError
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.server.recent_deltas import Frame

SEQ_HEADER: Final = "Dreamcommons-Seq"
KIND_HEADER: Final = "Dreamcommons-Kind"  # "delta", or "snapshot": the state at that seq
EPOCH_HEADER: Final = "Dreamcommons-Epoch"  # the history the seq belongs to (a new owner's)
DELTA: Final = "delta"
SNAPSHOT: Final = "snapshot"


def pack(payload: Mapping[str, object]) -> bytes:
    packed: bytes = msgpack.packb(payload, use_bin_type=True)
    return packed


def unpack(data: bytes) -> dict[str, Any]:
    payload = msgpack.unpackb(data, raw=False)
    if not isinstance(payload, dict):
        raise ValueError("a cluster payload is a map")
    return payload


def refusal(error: ProtocolError) -> bytes:
    return pack({"error": {"code": error.code.value, "message": error.message}})


def answer(payload: dict[str, Any], ref: int | None = None) -> Any:
    """The reply's ``ok`` part; the owner's refusal raised again, with the same code."""
    error = payload.get("error")
    if error is not None:
        raise NotAllowed(ErrorCode(error["code"]), str(error["message"]), ref=ref)
    return payload["ok"]


def frame_bytes(frame: Frame) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


def as_frame(data: bytes, encoding: Encoding) -> Frame:
    """``data`` as the frame a WebSocket sends: text for JSON, binary for msgpack."""
    return data.decode() if encoding is Encoding.JSON else data
