"""An engine's state as plain data and back: what the journal keeps as a snapshot.

A snapshot is a map of plain values (numbers, strings, booleans, None, lists and maps with
string keys) holding everything the engine needs to go on exactly as it would have: the same
events after it give the same states and deltas, bit for bit. Its ``format`` says how to
read the rest; a reader refuses a format it does not know (``SnapshotVersionError``) rather
than guess. The venue is not in it: the engine is restored with the session's own preset.

Format 3 (lists keep the engine's order: float sums depend on it)::

    format        3
    session       the session's id
    venue         the venue preset's name (a snapshot restores only into that venue)
    now           session time of the last tick, seconds
    seq           the number of the last tick
    state         the dreamscape of the last tick, as the wire's DreamscapeState (v2: each
                  motif as parameters; format 1 held v1's views and is not read: a journal
                  with only those recovers by replaying its events)
    participants  [{id, name, role, share, present, left, stage, stress, devices,
                    rhythm: [phase, hz, t] or None, show_stage, tag (may be missing)}]
    pending       what was applied since the last tick and waits for the next one:
                  [{kind: "MotifContributed", participant, cid, motif, intensity, valence,
                    arousal, private} or {kind: "Whispered", participant, cid, text}]
    changed       ids of the participants whose view the next tick updates (sorted)
    left          ids of the participants who left since the last tick, in order
    motifs        {t_ref, motifs: [{name, colour, home: [x, y], total: [w, wi, wv, wa],
                   shared: [w, wi, wv, wa], parts: [[pid, [w, wi, wv, wa]], ...]}],
                   totals: [[pid, w], ...]}
                  weights in the store's units, which do not decay: a true weight is
                  ``w / 2 ** ((t - t_ref) / half_life_s)`` (``wi``, ``wv``, ``wa``: weight
                  times intensity, valence, arousal); ``shared``: the parts summed at their
                  contributors' share levels, as the engine added them up
    phases        {phase, started, paused, elapsed, last_t}
    coherence     {samples: [[t, R], ...], sum, fractured, regions_at: [t, [region, ...]]
                   or None, chance_samples: [[t, R], ...], chance_sum, shifts}: a region
                  as the wire's RegionView; ``chance_*`` the chance baseline's window of
                  surrogate R, ``shifts`` the state of the engine's generator (an integer)
    harmonize     {since, healed_since, requested}
    intents       pacing not yet drained: [{participants: [id, ...], hz, t}]
    counters      {fractures, harmonizations, coherence_min, private_contributions,
                   damped_contributions}

Format 2 is format 3 without ``shared``: it is summed again from the parts and the
participants' share levels.

The participants' views and the whispers shown are the state's own (``state.participants``,
``state.whispers``), so they are not repeated; in a room too large to list everyone, the views
of those the state does not list are made again from ``participants``.
"""

from __future__ import annotations

import typing
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from dreamcommons.contracts.protocol import DreamscapeState, ParticipantView, RegionView, Role
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine.coherence import Rhythm
from dreamcommons.server.engine.core import DreamEngine, EngineCounters, Pace, _Participant
from dreamcommons.server.engine.events import MotifContributed, Whispered
from dreamcommons.server.engine.motifs import _Motif
from dreamcommons.server.engine.phases import ORDER

FORMAT = 3
"""The format ``engine_to_snapshot`` writes."""

FORMATS = (2, 3)
"""The formats ``engine_from_snapshot`` reads."""

Snapshot = dict[str, Any]
"""A snapshot: plain values only, as described above."""

_ROLES: tuple[str, ...] = typing.get_args(Role)
_M = TypeVar("_M", bound=BaseModel)


class SnapshotError(ValueError):
    """Data that is not a snapshot this engine can restore (damaged, or not one at all)."""


class SnapshotVersionError(SnapshotError):
    """A snapshot in a format this code does not read (``found``), written by another version."""

    def __init__(self, found: object) -> None:
        known = ", ".join(str(f) for f in FORMATS)
        super().__init__(f"snapshot format {found!r} unknown (this version reads {known})")
        self.found = found


# --- engine -> snapshot ---------------------------------------------------------------------


def engine_to_snapshot(engine: DreamEngine) -> Snapshot:
    """The engine's whole state, as plain data in the current ``FORMAT``."""
    store = engine._store
    clock = engine._phases
    window = engine._coherence
    regions_at = engine._regions_at
    return {
        "format": FORMAT,
        "session": engine.session,
        "venue": engine.venue.name,
        "now": engine._now,
        "seq": engine._seq,
        "state": engine._state.model_dump(mode="json"),
        "participants": [
            {
                "id": pid,
                "name": p.name,
                "role": p.role,
                "share": p.share,
                "present": p.present,
                "left": p.left,
                "stage": p.stage,
                "stress": p.stress,
                "devices": p.devices,
                "rhythm": None if p.rhythm is None else [p.rhythm.phase, p.rhythm.hz, p.rhythm.t],
                "show_stage": p.show_stage,
                "tag": p.tag,
            }
            for pid, p in engine._participants.items()
        ],
        "pending": [_pending_to_plain(event) for event in engine._pending],
        "changed": sorted(engine._changed_people),
        "left": list(engine._left_people),
        "motifs": {
            "t_ref": store._t_ref,
            "motifs": [
                {
                    "name": name,
                    "colour": motif.colour,
                    "home": list(motif.home),
                    "total": list(motif.total),
                    "shared": list(motif.shared),
                    "parts": [[pid, list(part)] for pid, part in motif.parts.items()],
                }
                for name, motif in store._motifs.items()
            ],
            "totals": [[pid, total] for pid, total in store.totals.items()],
        },
        "phases": {
            "phase": clock.phase,
            "started": clock.started,
            "paused": clock.paused,
            "elapsed": clock._elapsed,
            "last_t": clock._last_t,
        },
        "coherence": {
            "samples": [[t, r] for t, r in window._samples],
            "sum": window._sum,
            "fractured": engine._fractured,
            "regions_at": None
            if regions_at is None
            else [regions_at[0], [region.model_dump(mode="json") for region in regions_at[1]]],
            "chance_samples": [[t, r] for t, r in engine._chance._samples],
            "chance_sum": engine._chance._sum,
            "shifts": engine._shifts.state,
        },
        "harmonize": {
            "since": engine._harmonizing_since,
            "healed_since": engine._healed_since,
            "requested": engine._harmonize_requested,
        },
        "intents": [
            {"participants": list(pace.participants), "hz": pace.hz, "t": pace.t}
            for pace in engine._intents
        ],
        "counters": {
            "fractures": engine.counters.fractures,
            "harmonizations": engine.counters.harmonizations,
            "coherence_min": engine.counters.coherence_min,
            "private_contributions": engine.counters.private_contributions,
            "damped_contributions": engine.counters.damped_contributions,
        },
    }


def _pending_to_plain(event: MotifContributed | Whispered) -> dict[str, Any]:
    if isinstance(event, Whispered):
        return {
            "kind": "Whispered",
            "participant": event.participant,
            "cid": event.cid,
            "text": event.text,
        }
    return {
        "kind": "MotifContributed",
        "participant": event.participant,
        "cid": event.cid,
        "motif": event.motif,
        "intensity": event.intensity,
        "valence": event.valence,
        "arousal": event.arousal,
        "private": event.private,
    }


# --- snapshot -> engine ---------------------------------------------------------------------


def engine_from_snapshot(data: object, venue: VenuePreset) -> DreamEngine:
    """The engine a snapshot describes, for ``venue``. ``SnapshotVersionError`` for a format
    this code does not read, ``SnapshotError`` for anything else it cannot use."""
    top = _map(data, "snapshot")
    found = top.get("format")
    if type(found) is not int or found not in FORMATS:
        raise SnapshotVersionError(found)
    name = _str(top, "venue")
    if name != venue.name:
        raise SnapshotError(f"snapshot of venue {name!r}, not of {venue.name!r}")
    engine = DreamEngine(venue, _str(top, "session"), start=_float(top, "now"))
    engine._seq = _int(top, "seq")
    engine._state = _model(DreamscapeState, top.get("state"), "state")
    engine._whispers = deque(engine._state.whispers, maxlen=venue.max_whispers)
    engine._participants = dict(
        _participant(_map(item, "participants[]")) for item in _list(top, "participants")
    )
    engine._departed = {pid for pid, p in engine._participants.items() if p.left}
    engine._pending = [_pending(_map(item, "pending[]")) for item in _list(top, "pending")]
    engine._changed_people = {_as_str(pid, "changed[]") for pid in _list(top, "changed")}
    engine._left_people = [_as_str(pid, "left[]") for pid in _list(top, "left")]
    engine._views = _views(engine)
    _restore_store(engine, _map(top.get("motifs"), "motifs"), summed=found >= 3)
    _restore_phases(engine, _map(top.get("phases"), "phases"))
    _restore_coherence(engine, _map(top.get("coherence"), "coherence"))
    harmonize = _map(top.get("harmonize"), "harmonize")
    engine._harmonizing_since = _opt_float(harmonize, "since")
    engine._healed_since = _opt_float(harmonize, "healed_since")
    engine._harmonize_requested = _bool(harmonize, "requested")
    engine._intents = [_pace(_map(item, "intents[]")) for item in _list(top, "intents")]
    counters = _map(top.get("counters"), "counters")
    engine.counters = EngineCounters(
        fractures=_int(counters, "fractures"),
        harmonizations=_int(counters, "harmonizations"),
        coherence_min=_opt_float(counters, "coherence_min"),
        private_contributions=_int(counters, "private_contributions"),
        damped_contributions=_int(counters, "damped_contributions"),
    )
    return engine


def _views(engine: DreamEngine) -> dict[str, ParticipantView]:
    """Everyone's view as of the last tick: those the state lists are the state's own; in a
    room too large to list everyone, the others' are made again from their records (a view
    changed since, or of someone new, is made anew at the next tick either way)."""
    views = {view.id: view for view in engine._state.participants}
    for pid, p in engine._participants.items():
        if pid not in views and not p.left and pid not in engine._changed_people:
            views[pid] = engine._view_of(pid)
    return views


def _participant(item: Mapping[str, object]) -> tuple[str, _Participant]:
    role = _str(item, "role")
    if role not in _ROLES:
        raise SnapshotError(f"participants[].role: unknown role {role!r}")
    rhythm = item.get("rhythm")
    member = _Participant(
        name=_str(item, "name"),
        role=cast(Role, role),
        share=_float(item, "share"),
        present=_bool(item, "present"),
        left=_bool(item, "left"),
        stage=_opt_int(item, "stage"),
        stress=_float(item, "stress"),
        devices=_int(item, "devices"),
        rhythm=None if rhythm is None else Rhythm(*_floats(rhythm, 3, "rhythm")),
        show_stage=_bool(item, "show_stage"),
        tag=_opt_int(item, "tag") if "tag" in item else None,  # snapshots before tags: none
    )
    return _str(item, "id"), member


def _pending(item: Mapping[str, object]) -> MotifContributed | Whispered:
    kind = item.get("kind")
    if kind == "Whispered":
        return Whispered(_str(item, "participant"), _int(item, "cid"), _str(item, "text"))
    if kind == "MotifContributed":
        return MotifContributed(
            _str(item, "participant"),
            _int(item, "cid"),
            _str(item, "motif"),
            _float(item, "intensity"),
            _float(item, "valence"),
            _float(item, "arousal"),
            private=_bool(item, "private"),
        )
    raise SnapshotError(f"pending[]: unknown kind {kind!r}")


def _restore_store(engine: DreamEngine, plain: Mapping[str, object], *, summed: bool) -> None:
    """The motif store; ``summed``: each motif holds its ``shared`` sum (format 3 on)."""
    store = engine._store
    store._t_ref = _float(plain, "t_ref")
    store.levels = {pid: p.share for pid, p in engine._participants.items() if p.share != 1.0}
    store._motifs = {}
    for item in _list(plain, "motifs"):
        motif = _map(item, "motifs[]")
        x, y = _floats(motif.get("home"), 2, "motifs[].home")
        total = _floats(motif.get("total"), 4, "motifs[].total")
        parts = {
            pid: _floats(part, 4, "motifs[].parts[]")
            for pid, part in _pairs(motif, "parts", "motifs[].parts[]")
        }
        if summed:
            shared = _floats(motif.get("shared"), 4, "motifs[].shared")
        else:
            shared = _shared_sum(total, parts, store.levels)
        store._motifs[_str(motif, "name")] = _Motif(
            colour=_str(motif, "colour"), home=(x, y), total=total, shared=shared, parts=parts
        )
    store.totals = {
        pid: _as_float(total, "totals[]") for pid, total in _pairs(plain, "totals", "totals[]")
    }


def _shared_sum(
    total: list[float], parts: Mapping[str, list[float]], levels: Mapping[str, float]
) -> list[float]:
    """A motif's parts summed at their share levels (its total, where all are at 1)."""
    if not any(pid in levels for pid in parts):
        return list(total)
    shared = [0.0, 0.0, 0.0, 0.0]
    for pid, part in parts.items():
        level = levels.get(pid, 1.0)
        for i in range(4):
            shared[i] += level * part[i]
    return shared


def _restore_phases(engine: DreamEngine, plain: Mapping[str, object]) -> None:
    clock = engine._phases
    phase = _str(plain, "phase")
    if phase not in ORDER:
        raise SnapshotError(f"phases.phase: unknown phase {phase!r}")
    clock.phase = phase
    clock.started = _bool(plain, "started")
    clock.paused = _bool(plain, "paused")
    clock._elapsed = _float(plain, "elapsed")
    clock._last_t = _opt_float(plain, "last_t")


def _restore_coherence(engine: DreamEngine, plain: Mapping[str, object]) -> None:
    window = engine._coherence
    window._samples = deque(
        (t, r) for t, r in (_floats(s, 2, "samples[]") for s in _list(plain, "samples"))
    )
    window._sum = _float(plain, "sum")
    chance = engine._chance
    samples = _list(plain, "chance_samples")
    pairs = (_floats(s, 2, "chance_samples[]") for s in samples)
    chance._samples = deque((t, r) for t, r in pairs)
    chance._sum = _float(plain, "chance_sum")
    engine._shifts.state = _int(plain, "shifts")
    engine._fractured = _bool(plain, "fractured")
    regions_at = plain.get("regions_at")
    if regions_at is None:
        engine._regions_at = None
        return
    if not isinstance(regions_at, list) or len(regions_at) != 2:
        raise SnapshotError("coherence.regions_at: not a pair [t, regions]")
    at = _as_float(regions_at[0], "coherence.regions_at")
    regions = regions_at[1]
    if not isinstance(regions, list):
        raise SnapshotError("coherence.regions_at: regions not a list")
    engine._regions_at = (at, [_model(RegionView, r, "regions_at[]") for r in regions])


def _pace(item: Mapping[str, object]) -> Pace:
    pids = _list(item, "participants")
    participants = tuple(_as_str(pid, "intents[].participants") for pid in pids)
    return Pace(participants, _opt_float(item, "hz"), _float(item, "t"))


# --- checked access: a damaged snapshot is a SnapshotError, never a strange state ------------


def _map(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SnapshotError(f"{where}: not a map")
    return cast(Mapping[str, object], value)


def _get(plain: Mapping[str, object], key: str) -> object:
    if key not in plain:
        raise SnapshotError(f"{key}: missing")
    return plain[key]


def _list(plain: Mapping[str, object], key: str) -> list[object]:
    value = _get(plain, key)
    if not isinstance(value, list):
        raise SnapshotError(f"{key}: not a list")
    return value


def _checked(kind: Callable[[object], bool], what: str) -> Callable[[object, str], Any]:
    def check(value: object, where: str) -> Any:
        if not kind(value):
            raise SnapshotError(f"{where}: {type(value).__name__} where {what} was expected")
        return value

    return check


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: object) -> bool:
    return isinstance(value, float) or _is_int(value)


_as_str: Callable[[object, str], str] = _checked(lambda v: isinstance(v, str), "a string")
_as_int: Callable[[object, str], int] = _checked(_is_int, "an integer")
_as_bool: Callable[[object, str], bool] = _checked(lambda v: isinstance(v, bool), "a boolean")
_as_number: Callable[[object, str], float] = _checked(_is_float, "a number")


def _as_float(value: object, where: str) -> float:
    return _as_number(value, where)


def _str(plain: Mapping[str, object], key: str) -> str:
    return _as_str(_get(plain, key), key)


def _int(plain: Mapping[str, object], key: str) -> int:
    return _as_int(_get(plain, key), key)


def _bool(plain: Mapping[str, object], key: str) -> bool:
    return _as_bool(_get(plain, key), key)


def _float(plain: Mapping[str, object], key: str) -> float:
    return _as_number(_get(plain, key), key)


def _opt_float(plain: Mapping[str, object], key: str) -> float | None:
    value = _get(plain, key)
    return None if value is None else _as_number(value, key)


def _opt_int(plain: Mapping[str, object], key: str) -> int | None:
    value = _get(plain, key)
    return None if value is None else _as_int(value, key)


def _floats(value: object, count: int, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != count:
        raise SnapshotError(f"{where}: not a list of {count} numbers")
    return [_as_number(x, where) for x in value]


def _pairs(plain: Mapping[str, object], key: str, where: str) -> list[tuple[str, object]]:
    pairs = []
    for item in _list(plain, key):
        if not isinstance(item, list) or len(item) != 2:
            raise SnapshotError(f"{where}: not a pair [id, value]")
        pairs.append((_as_str(item[0], where), item[1]))
    return pairs


def _model(model: type[_M], value: object, where: str) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise SnapshotError(f"{where}: {exc}") from None
