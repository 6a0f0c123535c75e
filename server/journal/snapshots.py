"""Snapshots as the journal keeps them: the engine's plain data (``engine.snapshot``), in
msgpack, with the encoding in its own column (``schema``).

A snapshot is only a shortcut: the journal keeps every event, so a session whose snapshots
cannot be loaded (a pickle from before snapshots had a format, a damaged row, a format from a
newer version) is recovered by replaying its events from the start, to the same state.
Loading one never runs code named in the data, so a snapshot is as safe to read as an event.
"""

from __future__ import annotations

import msgpack

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import (
    DreamEngine,
    SnapshotError,
    SnapshotVersionError,
    engine_from_snapshot,
    engine_to_snapshot,
)
from dreamcommons.server.journal.errors import SnapshotUnreadable, UnknownSnapshotFormat
from dreamcommons.server.journal.schema import SNAPSHOT_MSGPACK, SNAPSHOT_PICKLE


def encode_snapshot(engine: DreamEngine) -> bytes:
    """The engine as it is now, as the journal stores it (encoding ``SNAPSHOT_MSGPACK``)."""
    packed: bytes = msgpack.packb(
        engine_to_snapshot(engine), use_bin_type=True, unicode_errors="surrogatepass"
    )
    return packed


def decode_snapshot(encoding: str, blob: bytes, venue: VenuePreset) -> DreamEngine:
    """The engine a snapshot row holds, for the session's ``venue``. ``SnapshotUnreadable``
    (``UnknownSnapshotFormat`` for an encoding or format this version does not know) when it
    cannot be loaded; the message says why."""
    if encoding == SNAPSHOT_PICKLE:
        raise SnapshotUnreadable(
            "a pickle of the engine, written before snapshots had a format; not loaded"
        )
    if encoding != SNAPSHOT_MSGPACK:
        raise UnknownSnapshotFormat(f"snapshot encoding {encoding!r} unknown", encoding)
    try:
        data = msgpack.unpackb(blob, raw=False, strict_map_key=True, unicode_errors="surrogatepass")
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise SnapshotUnreadable(f"not valid msgpack ({exc})") from None
    try:
        return engine_from_snapshot(data, venue)
    except SnapshotVersionError as exc:
        raise UnknownSnapshotFormat(str(exc), exc.found) from None
    except SnapshotError as exc:
        raise SnapshotUnreadable(f"damaged: {exc}") from None
    except Exception as exc:  # whatever else a damaged row provokes: still only a shortcut lost
        raise SnapshotUnreadable(f"damaged: {type(exc).__name__}: {exc}") from None
