"""A sleeper's stages by 30-s epoch of session time, from their sleeper updates."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

EPOCH_S = 30


@dataclass(slots=True)
class Hypnogram:
    """One sleeper's stages by 30-s epoch: the last known stage reported within each epoch."""

    stages: dict[int, int] = field(default_factory=dict)
    last_epoch: int = -1

    def add(self, t: float, stage: int | None) -> None:
        if not math.isfinite(t):
            return
        epoch = max(0, int(t // EPOCH_S))
        self.last_epoch = max(self.last_epoch, epoch)
        if stage is not None:
            self.stages[epoch] = stage

    def rows(self) -> list[tuple[int, int, int | str]]:
        """(epoch, epoch start in session seconds, stage or "" when unknown), from epoch 0."""
        return [
            (epoch, epoch * EPOCH_S, self.stages.get(epoch, ""))
            for epoch in range(self.last_epoch + 1)
        ]

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("epoch", "t", "stage"))
            writer.writerows(self.rows())
