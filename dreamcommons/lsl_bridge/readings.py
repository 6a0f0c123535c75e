"""From the windows of a wearable's streams to one ``BioSample`` reading. Pure.

A wearable's streams each play one *role*: ``eeg`` (band powers), ``heart`` (an ECG or PPG
waveform, or a heart-rate series), ``respiration`` (a respiration or chest-stretch waveform)
and ``motion`` (an accelerometer). Each role fills its fields of the reading; a role with no
stream fills nothing. A role whose stream stalled fills nothing either and names its fields in
``stale``, as the device protocol says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from dreamcommons.contracts.device_protocol import Reading
from dreamcommons.lsl_bridge import signals

Role = Literal["eeg", "heart", "respiration", "motion"]
HeartSource = Literal["ecg", "ppg", "rate"]

ROLE_FIELDS: Final[dict[Role, tuple[Reading, ...]]] = {
    "eeg": ("eeg",),
    "heart": ("hr", "hrv"),
    "respiration": ("resp", "phase"),
    "motion": ("move",),
}
# How much of each stream the readings are computed over, in seconds.
WINDOW_S: Final[dict[Role, float]] = {
    "eeg": 4.0,
    "heart": 10.0,
    "respiration": 30.0,
    "motion": 2.0,
}


@dataclass(frozen=True, slots=True)
class Window:
    """The latest samples of one stream (rows; channels in columns) at ``fs`` Hz, the last
    taken ``age_s`` seconds before the reading."""

    role: Role
    fs: float
    samples: signals.Samples
    heart_source: HeartSource | None = None
    age_s: float = 0.0


def fields_of(window: Window) -> dict[str, object]:
    """The reading's fields that ``window`` gives (none while it cannot say yet)."""
    if window.role == "eeg":
        powers = signals.band_powers(window.samples, window.fs)
        return {} if powers is None else {"eeg": powers}
    if window.role == "heart":
        if window.heart_source == "rate":
            rate = signals.heart_rate_value(window.samples)
            return {} if rate is None else {"hr": rate}
        beats = signals.heart(window.samples, window.fs)
        if beats is None:
            return {}
        fields: dict[str, object] = {"hr": beats.rate}
        if beats.rmssd is not None:
            fields["hrv"] = beats.rmssd
        return fields
    if window.role == "respiration":
        breath = signals.breathing(window.samples, window.fs, window.age_s)
        if breath is None:
            return {}
        return {"resp": breath.rate, "phase": breath.phase}
    move = signals.movement(window.samples)
    return {} if move is None else {"move": move}


def reading(t: float, windows: Iterable[Window], stale: Iterable[Role]) -> dict[str, object]:
    """The ``BioSample`` fields at device time ``t``: what the live windows give, and the
    fields of the ``stale`` roles named as stale (a stale role's window is not read)."""
    stalled = set(stale)
    out: dict[str, object] = {"t": t}
    for window in windows:
        if window.role not in stalled:
            out.update(fields_of(window))
    names = [name for role in ROLE_FIELDS if role in stalled for name in ROLE_FIELDS[role]]
    if names:
        out["stale"] = tuple(names)
    return out


def window_length(role: Role, fs: float) -> int:
    """How many samples of a stream at ``fs`` Hz the role's window holds (an irregular
    stream, ``fs`` 0, keeps its last 16)."""
    return 16 if fs <= 0 else max(2, int(np.ceil(WINDOW_S[role] * fs)))


def sensors(roles: Mapping[Role, object]) -> tuple[str, ...]:
    """The birth's ``sensors``: the fields the present roles can fill."""
    return tuple(name for role in ROLE_FIELDS if role in roles for name in ROLE_FIELDS[role])
