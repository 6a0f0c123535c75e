"""A session's recent delta frames, per encoding, as they were sent: what a client that comes
back is replayed when it says which seq it holds.

The frames are the bytes (or text) the broadcast already encoded, keyed by seq; nothing is
decoded or encoded again, so a gateway that only forwards frames can keep the same ring. Each
encoding holds one unbroken run of seqs, at most ``capacity`` of them: a frame that does not
follow the last one held (nobody listened in that encoding for a while) starts the run anew.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

Frame = bytes | str
K = TypeVar("K", bound=Hashable)


class RecentDeltas(Generic[K]):
    """The last ``capacity`` delta frames of each encoding (``K``), in seq order."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"a ring of {capacity} frames")
        self.capacity = capacity
        self._runs: dict[K, deque[tuple[int, Frame]]] = {}

    def record(self, encoding: K, seq: int, frame: Frame) -> None:
        """Keep the frame of delta ``seq``, evicting the oldest past ``capacity``."""
        if self.capacity == 0:
            return
        run = self._runs.get(encoding)
        if run is None:
            run = self._runs[encoding] = deque(maxlen=self.capacity)
        elif run and run[-1][0] + 1 != seq:
            run.clear()  # a gap: what came before can no longer reach the newest delta
        run.append((seq, frame))

    def held(self, encoding: K) -> tuple[int, int] | None:
        """The first and last seq held in ``encoding``, or None when none is."""
        run = self._runs.get(encoding)
        if not run:
            return None
        return run[0][0], run[-1][0]

    def after(self, encoding: K, seq: int, newest: int) -> list[Frame] | None:
        """The frames of every delta after ``seq`` up to ``newest``, in order, or None unless
        all of them are held (an empty list: nothing came after ``seq``)."""
        if seq == newest:
            return []
        held = self.held(encoding)
        if seq > newest or held is None:
            return None
        first, last = held
        if last != newest or seq + 1 < first:
            return None
        run = self._runs[encoding]
        return [frame for _, frame in list(run)[seq + 1 - first :]]
