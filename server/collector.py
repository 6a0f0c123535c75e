"""Keeping Python's full garbage collections out of the tick's way.

A full (generation 2) collection walks every tracked object. With a thousand connections that
is a pause of 150-200 ms on this machine's kind, every second or two, collecting next to
nothing: the survivors of one full collection are, almost all, the connections, sessions and
engines still in use. So after each full collection the survivors are frozen (moved out of
the collector's sight, ``gc.freeze``), and the next full collection walks only what is new.
Cycles among frozen objects that die later are reclaimed by an unfreeze now and then
(``every_s``), one long pause instead of one every other second.
"""

from __future__ import annotations

import gc
import time
from typing import Any

_state = {"installed": False, "unfrozen_at": 0.0, "every_s": 600.0}


def keep_full_collections_short(every_s: float = 600.0) -> None:
    """Freeze what exists now, and the survivors of every full collection from now on."""
    _state["every_s"] = every_s
    _state["unfrozen_at"] = time.monotonic()
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
