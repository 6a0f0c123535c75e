"""Keeping Python's full garbage collections out of the tick's way.

A full (generation 2) collection walks every tracked object. With a thousand connections that
is a pause of 150-200 ms on this machine's kind, every second or two, collecting next to
nothing: the survivors of one full collection are, almost all, the connections, sessions and
engines still in use. So after each full collection the survivors are frozen (moved out of
the collector's sight, ``gc.freeze``), and the next full collection walks only what is new.
Cycles among frozen objects that die later are reclaimed by an unfreeze now and then
(``every_s``), one long pause instead of one every other second.

The young generations are collected less often too: at the default threshold (700 net
allocations) a room of 2,000 triggered a young collection 20 times a second and a
generation-1 collection every half second, 23 ms each, which promoted what a tick holds for
a moment (contributions waiting for the tick, acks waiting for the commit) only to free it
later: 1.9 s of every 25 in the collector, 7.6 % of the server's core. At ``YOUNG_THRESHOLD``
most of that dies before anyone looks: 0.15 s of every 25.
"""

from __future__ import annotations

import gc
import time
from typing import Any

_state = {"installed": False, "unfrozen_at": 0.0, "every_s": 600.0}
YOUNG_THRESHOLD = 7000  # net allocations between young collections (CPython's default: 700)


def keep_full_collections_short(every_s: float = 600.0) -> None:
    """Freeze what exists now, and the survivors of every full collection from now on; collect
    the young generation every ``YOUNG_THRESHOLD`` net allocations."""
    _state["every_s"] = every_s
    _state["unfrozen_at"] = time.monotonic()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.freeze()
    if not _state["installed"]:
        gc.callbacks.append(_after_collection)
        _state["installed"] = True


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase != "stop" or info["generation"] != 2:
        return
    now = time.monotonic()
    if now - _state["unfrozen_at"] >= _state["every_s"]:
        _state["unfrozen_at"] = now
        gc.unfreeze()  # the next full collection sees everything once more
    else:
        gc.freeze()
