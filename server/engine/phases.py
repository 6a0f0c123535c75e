"""The arc of a session: gathering, descent, the shared dream, awakening, then ended.

Each phase lasts as long as the venue's preset says once the session has started; the host
may pause the clock, advance to the next phase, or end the session at once.
"""

from __future__ import annotations

from typing import Literal

PhaseName = Literal["gathering", "descent", "dream", "awakening", "ended"]
ORDER: tuple[PhaseName, ...] = ("gathering", "descent", "dream", "awakening", "ended")


class PhaseClock:
    def __init__(self, durations: dict[PhaseName, float], *, started: bool) -> None:
        self.durations = durations
        self.phase: PhaseName = "gathering"
        self.started = started
        self.paused = False
        self._elapsed = 0.0  # in the current phase
        self._last_t: float | None = None

    def advance_time(self, now: float) -> bool:
        """Move the clock to ``now``; True when the phase changed."""
        dt = 0.0 if self._last_t is None else max(0.0, now - self._last_t)
        self._last_t = now
        if not self.started or self.paused or self.phase == "ended":
            return False
        self._elapsed += dt
        changed = False
        while True:
            phase: PhaseName = self.phase
            if phase == "ended" or self._elapsed < self.durations[phase]:
                return changed
            self._elapsed -= self.durations[phase]
            self.phase = ORDER[ORDER.index(phase) + 1]
            changed = True

    def remaining(self) -> float | None:
        if self.phase == "ended" or not self.started:
            return None
        return max(0.0, self.durations[self.phase] - self._elapsed)

    def start(self) -> None:
        self.started = True
        self.paused = False

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def next_phase(self) -> None:
        if self.phase != "ended":
            self.phase = ORDER[ORDER.index(self.phase) + 1]
            self._elapsed = 0.0
            self.started = True

    def end(self) -> None:
        self.phase = "ended"
        self._elapsed = 0.0
