"""The host's garbage collection: survivors frozen, the young generation collected less often."""

from __future__ import annotations

import gc

from dreamcommons.server import collector


def test_the_host_collects_the_young_generation_every_young_threshold_allocations() -> None:
    before = gc.get_threshold()
    installed = collector._after_collection in gc.callbacks
    try:
        collector.keep_full_collections_short()
        assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, before[1], before[2])
        assert collector._after_collection in gc.callbacks
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        if not installed:
            gc.callbacks.remove(collector._after_collection)
            collector._state["installed"] = False
