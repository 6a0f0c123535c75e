"""The wearable's Lab Streaming Layer streams: found by type (and name), read into windows.

This is the only module that touches pylsl; ``confine_to_this_machine`` must have run before
it is imported (``dreamcommons lsl-bridge`` sees to it).

Each role is looked for under the stream types that the common apps give it (muselsl's
``EEG``, ``PPG`` and ``ACC``; ``ECG``, ``HeartRate``, ``Respiration`` ...), the first type
found wins. A role nobody streams is simply not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pylsl

from dreamcommons.lsl_bridge.readings import HeartSource, Role, Window, window_length
from dreamcommons.lsl_bridge.signals import Samples

# For each role, the stream types looked for, in order, and what a heart stream carries.
STREAM_TYPES: Final[dict[Role, tuple[str, ...]]] = {
    "eeg": ("EEG",),
    "heart": ("ECG", "PPG", "HeartRate", "HR"),
    "respiration": ("Respiration", "RESP", "Resp", "Breathing", "Stretch"),
    "motion": ("ACC", "Accelerometer", "Accel"),
}
_HEART_SOURCES: Final[dict[str, HeartSource]] = {
    "ECG": "ecg",
    "PPG": "ppg",
    "HeartRate": "rate",
    "HR": "rate",
}
_OPEN_TIMEOUT_S: Final = 5.0
_AUXILIARY: Final = "aux"  # in the label of a channel not on the scalp (muselsl's "Right AUX")


@dataclass(slots=True)
class StreamReader:
    """One inlet and the latest window of its samples; ``last_data`` is when samples last came
    (``time.monotonic()``), None before the first."""

    role: Role
    info: pylsl.StreamInfo
    inlet: pylsl.StreamInlet
    channels: list[int]
    heart_source: HeartSource | None = None
    last_data: float | None = None
    last_stamp: float | None = None  # the LSL time stamp of the latest sample
    _samples: Samples = field(default_factory=lambda: np.empty((0, 0)))

    @property
    def fs(self) -> float:
        return float(self.info.nominal_srate())

    @property
    def label(self) -> str:
        return f"{self.info.type()} '{self.info.name()}' ({self.info.channel_count()} ch)"

    def pull(self, now: float) -> None:
        """Take whatever the stream has sent since the last pull, without waiting."""
        chunk, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=4096)
        data = np.asarray(chunk, dtype=np.float64)
        if data.size == 0:
            return
        self.last_stamp = float(stamps[-1])
        data = data.reshape(len(data), -1)[:, self.channels]  # LSL chunks: samples x channels
        keep = window_length(self.role, self.fs)
        merged = data if self._samples.size == 0 else np.concatenate((self._samples, data))
        self._samples = merged[-keep:]
        self.last_data = now

    def window(self) -> Window:
        """The window, aged from its latest sample's time stamp to LSL's clock now."""
        age = 0.0 if self.last_stamp is None else pylsl.local_clock() - self.last_stamp
        return Window(self.role, self.fs, self._samples, self.heart_source, age)


def find_streams(name: str | None, wait_s: float) -> dict[Role, StreamReader]:
    """The wearable's streams on this machine, one per role (only those named ``name`` when
    given), each with an open inlet. Discovery listens for ``wait_s`` seconds."""
    if name is None:
        present = pylsl.resolve_streams(wait_time=wait_s)
    else:
        present = pylsl.resolve_byprop("name", name, minimum=0, timeout=wait_s)
    by_type: dict[str, pylsl.StreamInfo] = {}
    for info in sorted(present, key=lambda info: (info.name(), info.source_id())):
        by_type.setdefault(info.type(), info)
    readers: dict[Role, StreamReader] = {}
    for role, types in STREAM_TYPES.items():
        chosen = next((by_type[t] for t in types if t in by_type), None)
        if chosen is not None:
            readers[role] = _reader(role, chosen)
    return readers


def _reader(role: Role, info: pylsl.StreamInfo) -> StreamReader:
    # Time stamps smoothed (chunks arrive in bursts); no clock synchronization is needed, all
    # streams being on this machine's clock.
    flags = pylsl.proc_dejitter
    inlet = pylsl.StreamInlet(info, max_buflen=60, recover=True, processing_flags=flags)
    inlet.open_stream(timeout=_OPEN_TIMEOUT_S)
    full = inlet.info(timeout=_OPEN_TIMEOUT_S)  # with its description: the channel labels
    return StreamReader(
        role=role,
        info=full,
        inlet=inlet,
        channels=_channels(role, full),
        heart_source=_HEART_SOURCES.get(full.type()) if role == "heart" else None,
    )


def _channels(role: Role, info: pylsl.StreamInfo) -> list[int]:
    """The channels to read: EEG without auxiliary inputs; the first three axes of motion."""
    count = int(info.channel_count())
    if role == "motion":
        return list(range(min(3, count)))
    if role != "eeg":
        return list(range(count))
    labels = _labels(info, count)
    scalp = [i for i, label in enumerate(labels) if _AUXILIARY not in label.lower()]
    return scalp or list(range(count))


def _labels(info: pylsl.StreamInfo, count: int) -> Sequence[str]:
    labels: list[str] = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty() and len(labels) < count:
        labels.append(channel.child_value("label"))
        channel = channel.next_sibling()
    return labels + [""] * (count - len(labels))


def stalled(reader: StreamReader, now: float, after_s: float, started: float) -> bool:
    """Whether ``reader``'s stream has sent nothing for ``after_s`` seconds (counted from the
    start while it has sent nothing yet)."""
    last = started if reader.last_data is None else reader.last_data
    return now - last > after_s
