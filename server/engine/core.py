"""The merge engine: ordered events in, the shared dreamscape and its delta out, once per tick.

Pure and deterministic: no clock (``tick`` is handed the time), no randomness, no I/O.

Decay is lazy. Every weight decays at the same rate, so the engine stores weights in units
that do not decay (``true weight * 2 ** ((t - t_ref) / half_life)``) and converts only what it
shows. A tick therefore costs in proportion to what changed, not to everything ever contributed.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from server.engine.equity import equity_scales, shares
from server.engine.events import (
    DevicesChanged,
    Event,
    MotifContributed,
    ParticipantJoined,
    ParticipantLeft,
    PresenceChanged,
    SleeperUpdated,
    Whispered,
)
from server.protocol import (
    Delta,
    DreamscapeState,
    Mood,
    MotifView,
    ParticipantView,
    Role,
    WhisperView,
)
from server.venues import VenuePreset

_REBASE_EXPONENT = 256.0  # rebase stored weights long before 2 ** exponent overflows a float
_NEGLIGIBLE_WEIGHT = 1e-6  # a contribution lighter than this changes nothing anyone could see
_ORBIT_PERIOD_S = 90.0
_ORBIT_RADIUS = 0.04


class EngineError(ValueError):
    """An event the engine cannot apply (unknown participant, a watcher contributing...)."""


@dataclass(slots=True)
class _Participant:
    name: str
    role: Role
    present: bool = True
    left: bool = False
    total: float = 0.0  # stored units, the sum of this participant's motif weights
    stage: int | None = None
    stress: float = 0.0
    devices: int = 0


@dataclass(slots=True)
class _Motif:
    colour: str
    home: tuple[float, float]
    weight: float = 0.0  # stored units; the sums below are weighted by the same units
    intensity_sum: float = 0.0
    valence_sum: float = 0.0
    arousal_sum: float = 0.0
    by_participant: dict[str, float] = field(default_factory=dict)


class DreamEngine:
    """One session's dreamscape. ``apply`` events in order, then ``tick(now)``."""

    def __init__(self, venue: VenuePreset, session: str, *, start: float = 0.0) -> None:
        self.venue = venue
        self.session = session
        self._t_ref = start
        self._now = start
        self._participants: dict[str, _Participant] = {}
        self._motifs: dict[str, _Motif] = {}
        self._pending: list[MotifContributed | Whispered] = []
        self._seq = 0
        self._state = DreamscapeState(
            session=session, venue=venue.name, t=start, whisper_limit=venue.max_whispers
        )
        self._changed_people: set[str] = set()
        self._left_people: list[str] = []
        self._views: dict[str, ParticipantView] = {}
        self._whispers: deque[WhisperView] = deque(maxlen=venue.max_whispers)

    # --- events --------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Take one event; contributions wait for the next tick, membership changes too."""
        match event:
            case ParticipantJoined(participant=pid, name=name, role=role):
                if pid in self._participants and not self._participants[pid].left:
                    raise EngineError(f"participant {pid} already joined")
                self._participants[pid] = _Participant(name=name, role=role)
                self._changed_people.add(pid)
            case PresenceChanged(participant=pid, present=present):
                self._member(pid).present = present
                self._changed_people.add(pid)
            case ParticipantLeft(participant=pid):
                member = self._member(pid)
                member.left = True
                if member.total <= 0.0:
                    del self._participants[pid]
                self._changed_people.discard(pid)
                self._left_people.append(pid)
            case MotifContributed(participant=pid):
                if self._member(pid).role == "watcher":
                    raise EngineError(f"participant {pid} watches and cannot contribute")
                self._pending.append(event)
            case Whispered(participant=pid):
                if self._member(pid).role == "watcher":
                    raise EngineError(f"participant {pid} watches and cannot whisper")
                self._pending.append(event)
            case SleeperUpdated(participant=pid):
                member = self._member(pid)
                member.stage = event.stage
                member.stress = event.stress
            case DevicesChanged(participant=pid, online=online):
                self._member(pid).devices = online
                self._changed_people.add(pid)

    def _member(self, pid: str) -> _Participant:
        member = self._participants.get(pid)
        if member is None or member.left:
            raise EngineError(f"unknown participant {pid}")
        return member

    # --- ticks ---------------------------------------------------------------------------

    @property
    def state(self) -> DreamscapeState:
        """The dreamscape as of the last tick."""
        return self._state

    def tick(self, now: float) -> tuple[DreamscapeState, Delta]:
        """Merge what arrived since the last tick, decay to ``now``, and say what changed."""
        now = max(now, self._now)
        self._now = now
        if (now - self._t_ref) / self.venue.half_life_s > _REBASE_EXPONENT:
            self._rebase(now)
        applied, whispers = self._merge_pending(now)
        scales = equity_scales(self._totals(), self.venue.equity_cap)
        motifs = self._motif_views(now, scales)
        self._seq += 1
        state, delta = self._diff(now, motifs, applied, whispers)
        self._state = state
        return state, delta

    def shares(self) -> dict[str, float]:
        """Each participant's share of the scene shown at the last tick."""
        totals = self._totals()
        return shares(totals, equity_scales(totals, self.venue.equity_cap))

    def _totals(self) -> dict[str, float]:
        return {pid: p.total for pid, p in self._participants.items() if p.total > 0.0}

    def _growth(self, now: float) -> float:
        """Stored units per true unit at ``now``."""
        return math.pow(2.0, (now - self._t_ref) / self.venue.half_life_s)

    def _rebase(self, now: float) -> None:
        factor = 1.0 / self._growth(now)
        for motif in self._motifs.values():
            motif.weight *= factor
            motif.intensity_sum *= factor
            motif.valence_sum *= factor
            motif.arousal_sum *= factor
            for pid in motif.by_participant:
                motif.by_participant[pid] *= factor
        for member in self._participants.values():
            member.total *= factor
        self._t_ref = now

    def _merge_pending(self, now: float) -> tuple[dict[str, int], tuple[WhisperView, ...]]:
        growth = self._growth(now)
        applied: dict[str, int] = {}
        whispers: list[WhisperView] = []
        for event in self._pending:
            applied[event.participant] = max(applied.get(event.participant, -1), event.cid)
            member = self._participants[event.participant]
            if isinstance(event, Whispered):
                whispers.append(
                    WhisperView(
                        participant=event.participant, name=member.name, text=event.text, t=now
                    )
                )
                continue
            true_weight = event.intensity * self._weight_of(member)
            if true_weight < _NEGLIGIBLE_WEIGHT:
                continue
            stored = true_weight * growth
            motif = self._motifs.get(event.motif)
            if motif is None:
                motif = self._motifs[event.motif] = self._new_motif(event.motif)
            motif.weight += stored
            motif.intensity_sum += stored * event.intensity
            motif.valence_sum += stored * event.valence
            motif.arousal_sum += stored * event.arousal
            motif.by_participant[event.participant] = (
                motif.by_participant.get(event.participant, 0.0) + stored
            )
            member.total += stored
        self._pending.clear()
        kept = tuple(whispers)[-self.venue.max_whispers :] if self.venue.max_whispers else ()
        return applied, kept

    def _weight_of(self, member: _Participant) -> float:
        """A sleeper weighs by the stage their devices report; without devices, by role."""
        if member.stage is not None:
            return self.venue.stage_weights.for_stage(member.stage)
        weight: float = getattr(self.venue.role_weights, member.role)
        return weight

    def _new_motif(self, name: str) -> _Motif:
        preset = self.venue.motif(name)
        digest = zlib.crc32(name.encode())
        if preset is not None:
            colour = preset.colour
        else:
            colour = self.venue.palette[digest % len(self.venue.palette)]
        home = (0.1 + 0.8 * ((digest & 0xFFFF) / 0xFFFF), 0.1 + 0.8 * ((digest >> 16) / 0xFFFF))
        return _Motif(colour=colour, home=home)

    def _motif_views(self, now: float, scales: dict[str, float]) -> dict[str, MotifView]:
        """Views of the motifs worth showing; the lightest fade out, whatever the cap shows."""
        growth = self._growth(now)
        floor = self.venue.min_weight * growth
        keep = sorted(
            (name for name, motif in self._motifs.items() if motif.weight >= floor),
            key=lambda name: (-self._motifs[name].weight, name),
        )[: self.venue.max_motifs]
        for name in set(self._motifs) - set(keep):
            self._forget_motif(name, growth)
        raw: dict[str, float] = {}
        capped: dict[str, float] = {}
        for name in keep:
            motif = self._motifs[name]
            held_back = sum(
                stored * (1.0 - scales[pid])
                for pid, stored in motif.by_participant.items()
                if pid in scales
            )
            raw[name] = motif.weight
            capped[name] = motif.weight - held_back
        # The cap changes shares, not the size of the scene: scale back to the raw total.
        capped_total = sum(capped.values())
        resize = sum(raw.values()) / capped_total / growth if capped_total > 0.0 else 0.0
        views: dict[str, MotifView] = {}
        for name in sorted(keep):
            motif = self._motifs[name]
            angle = 2.0 * math.pi * (now / _ORBIT_PERIOD_S + motif.home[0])
            views[name] = MotifView(
                name=name,
                colour=motif.colour,
                weight=round(capped[name] * resize, 4),
                intensity=round(_clamp(motif.intensity_sum / motif.weight, 0.0, 1.0), 3),
                valence=round(_clamp(motif.valence_sum / motif.weight, -1.0, 1.0), 3),
                arousal=round(_clamp(motif.arousal_sum / motif.weight, 0.0, 1.0), 3),
                x=round(_clamp(motif.home[0] + _ORBIT_RADIUS * math.cos(angle), 0.0, 1.0), 4),
                y=round(_clamp(motif.home[1] + _ORBIT_RADIUS * math.sin(angle), 0.0, 1.0), 4),
            )
        return views

    def _forget_motif(self, name: str, growth: float) -> None:
        motif = self._motifs.pop(name)
        residue = 1e-9 * growth  # what float subtraction leaves of a total that is really gone
        for pid, stored in motif.by_participant.items():
            member = self._participants[pid]
            member.total -= stored
            if member.total <= residue:
                member.total = 0.0
                if member.left:
                    del self._participants[pid]

    def _diff(
        self,
        now: float,
        motifs: dict[str, MotifView],
        applied: dict[str, int],
        new_whispers: tuple[WhisperView, ...],
    ) -> tuple[DreamscapeState, Delta]:
        """Build the new state from the engine's own records, then say how it differs."""
        prev = self._state
        for pid in self._changed_people:
            p = self._participants[pid]
            self._views[pid] = ParticipantView(
                id=pid, name=p.name, role=p.role, present=p.present, devices=p.devices
            )
        for pid in self._left_people:
            self._views.pop(pid, None)
        self._whispers.extend(new_whispers)
        state = DreamscapeState(
            session=self.session,
            venue=self.venue.name,
            seq=self._seq,
            t=now,
            motifs=tuple(motifs[name] for name in sorted(motifs)),
            mood=_mood(motifs.values()),
            whispers=tuple(self._whispers),
            whisper_limit=self.venue.max_whispers,
            participants=tuple(self._views[pid] for pid in sorted(self._views)),
        )
        prev_motifs = {m.name: m for m in prev.motifs}
        known = {p.id for p in prev.participants}
        delta = Delta(
            seq=self._seq,
            t=now,
            motifs=tuple(view for name, view in motifs.items() if prev_motifs.get(name) != view),
            removed=tuple(sorted(set(prev_motifs) - set(motifs))),
            mood=state.mood if state.mood != prev.mood else None,
            whispers=new_whispers,
            participants=tuple(self._views[pid] for pid in sorted(self._changed_people)),
            left=tuple(pid for pid in self._left_people if pid in known),
            applied=applied,
        )
        self._changed_people.clear()
        self._left_people.clear()
        return state, delta


def _mood(views: Iterable[MotifView]) -> Mood:
    total = valence = arousal = 0.0
    for view in views:
        total += view.weight
        valence += view.weight * view.valence
        arousal += view.weight * view.arousal
    if total <= 0.0:
        return Mood()
    return Mood(valence=round(valence / total, 3), arousal=round(arousal / total, 3))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))
