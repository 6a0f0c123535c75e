"""The merge engine: ordered events in, the shared dreamscape and its delta out, once per tick.

Pure and deterministic: no clock (``tick`` is handed the time), no I/O, and no randomness but
its own seeded generator (the chance baseline's surrogate phases, seeded by the session). The
dream rules live here, each in its own module: equity (``equity``), the well-being guard
(``wellbeing``), coherence and fracture (``coherence``), the session's arc (``phases``).
What the engine wants done in the world (pacing the sleepers' breathing) it returns as
intents, which the session carries out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from dreamcommons.contracts.breathing import breath_phase_at
from dreamcommons.contracts.errors import DreamcommonsError
from dreamcommons.contracts.protocol import (
    BreathView,
    Delta,
    DreamscapeState,
    Mood,
    MotifUpdate,
    MotifView,
    ParticipantView,
    RegionView,
    Role,
    SceneView,
    SleepStage,
    WhisperView,
    margin_above_chance,
)
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.engine import events
from dreamcommons.server.engine.coherence import (
    CoherenceWindow,
    PhaseShifts,
    Rhythm,
    order_of,
    phase_groups,
    surrogate_order,
    unit_vectors,
)
from dreamcommons.server.engine.equity import equity_scales, shares
from dreamcommons.server.engine.motifs import MotifStore, ShownMotif
from dreamcommons.server.engine.people import count_people, listed_in_frames
from dreamcommons.server.engine.phases import PhaseClock
from dreamcommons.server.engine.weights import contributor_weight, phase_weight
from dreamcommons.server.engine.wellbeing import input_damping, room_calm

_NEGLIGIBLE_WEIGHT = 1e-6  # a contribution lighter than this changes nothing anyone could see
# A motif's weight goes out again once what clients extrapolate from the view they hold is
# more than this far (relative) from the true weight: a step no renderer shows, which in a
# large room, where each tick's contributions move every weight a little, spares sending
# every motif at every tick. The state holds the same view, so deltas still add up to it.
_WEIGHT_DRIFT = 0.02
# A consenting sleeper's breath goes out again once the phase clients extrapolate from the
# view they hold is this far (radians) from the sleeper's, or its rate this far (relative):
# a dot on the breathing circle moves by less than that between two reports of a steady
# rhythm, so a steady sleeper costs no row in each tick's delta.
_BREATH_DRIFT_RAD = 0.3
_BREATH_RATE_DRIFT = 0.05
_REGION_PULL = 0.6  # how far a fractured motif moves from its home towards its region
_REGION_RADIUS = 0.28
# Regions follow breathing phases that drift over seconds; regrouping every tick would cost
# a pass over every contribution ten times a second and change nothing anyone could see.
_REGROUP_EVERY_S = 1.0


class EngineError(DreamcommonsError):
    """An event the engine cannot apply (an unknown participant, an unknown host action...)."""


class ContributionRefused(EngineError):
    """A dream rule refuses the contribution: the role does not contribute, or the session
    has ended. The engine is the one place that decides; the session only maps this refusal
    to the ``forbidden`` error frame."""


@dataclass(slots=True)
class _Participant:
    name: str
    role: Role
    share: float
    present: bool = True
    left: bool = False
    stage: int | None = None
    stress: float = 0.0
    devices: int = 0
    rhythm: Rhythm | None = None
    show_stage: bool = False
    tag: int | None = None

    @property
    def stage_shown(self) -> bool:
        """Others see this sleeper's stage only by their consent, and never at share 0."""
        return self.show_stage and self.share > 0.0


@dataclass(frozen=True, slots=True)
class Pace:
    """Intent: pace these participants' breathing at ``hz`` (None: stop), phase zero at session
    time ``t`` (a sleeper who joins a pacing under way gets the pacing's own ``t``)."""

    participants: tuple[str, ...]
    hz: float | None
    t: float


@dataclass(slots=True)
class EngineCounters:
    fractures: int = 0
    harmonizations: int = 0
    coherence_min: float | None = None
    private_contributions: int = 0
    damped_contributions: int = 0


class DreamEngine:
    """One session's dreamscape. ``apply`` events in order, then ``tick(now)``."""

    def __init__(self, venue: VenuePreset, session: str, *, start: float = 0.0) -> None:
        self.venue = venue
        self.session = session
        self.counters = EngineCounters()
        self._now = start
        self._participants: dict[str, _Participant] = {}
        self._store = MotifStore(venue, start)
        self._pending: list[events.MotifContributed | events.Whispered] = []
        self._seq = 0
        self.epoch = ""  # the history the states' seqs belong to (``begin_epoch``)
        self._state = DreamscapeState(
            session=session,
            venue=venue.name,
            t=start,
            half_life_s=venue.half_life_s,
            whisper_limit=venue.max_whispers,
        )
        self._changed_people: set[str] = set()
        self._left_people: list[str] = []
        self._departed: set[str] = set()  # left, kept until nothing they gave is shown
        self._views: dict[str, ParticipantView] = {}
        self._whispers: deque[WhisperView] = deque(maxlen=venue.max_whispers)
        phases = venue.phases
        self._phases = PhaseClock(
            {
                "gathering": phases.gathering,
                "descent": phases.descent,
                "dream": phases.dream,
                "awakening": phases.awakening,
            },
            started=phases.autostart,
        )
        self._coherence = CoherenceWindow(venue.coherence.window_s)
        self._chance = CoherenceWindow(venue.coherence.window_s)  # the surrogate's, same ticks
        self._shifts = PhaseShifts.for_session(session)
        self._fractured = False
        self._regions_at: tuple[float, list[RegionView]] | None = None
        self._harmonizing_since: float | None = None
        self._healed_since: float | None = None
        self._harmonize_requested = False
        self._intents: list[Pace] = []
        # What ``_shared_totals`` would find walking everyone, kept up to date from the few
        # that change in a tick (None: made again from everyone at next use).
        self._shared: dict[str, float] | None = None
        self._reshared: set[str] = set()  # whose share level changed since

    # --- events --------------------------------------------------------------------------

    def apply(self, event: events.Event) -> None:
        """Take one event; contributions wait for the next tick, membership changes too."""
        match event:
            case events.ParticipantJoined(participant=pid, name=name, role=role, tag=tag):
                if pid in self._participants and not self._participants[pid].left:
                    raise EngineError(f"participant {pid} already joined")
                share = self.venue.default_share
                self._participants[pid] = _Participant(name=name, role=role, share=share, tag=tag)
                self._leveled(pid, share)
                self._changed_people.add(pid)
                self._departed.discard(pid)
                if pid in self._left_people:  # back in the tick they left: listed, not gone
                    self._left_people.remove(pid)
            case events.PresenceChanged(participant=pid, present=present):
                self._member(pid).present = present
                self._changed_people.add(pid)
            case events.ParticipantLeft(participant=pid):
                self._member(pid).left = True
                self._departed.add(pid)
                self._changed_people.discard(pid)
                self._left_people.append(pid)
            case events.MotifContributed(participant=pid) | events.Whispered(participant=pid):
                self._check_may_contribute(pid)
                self._pending.append(event)
            case events.SleeperUpdated(participant=pid):
                member = self._member(pid)
                if member.stage_shown and _stage_label(event.stage) != _stage_label(member.stage):
                    self._changed_people.add(pid)
                member.stage = event.stage
                member.stress = event.stress
                if event.breath_phase is not None and event.breath_hz:
                    member.rhythm = Rhythm(event.breath_phase, event.breath_hz, event.t)
                    if member.stage_shown and self._breath_strays(pid, member.rhythm):
                        self._changed_people.add(pid)
            case events.DevicesChanged(participant=pid, online=online):
                member = self._member(pid)
                came_online = member.devices == 0 and online > 0
                member.devices = online
                self._changed_people.add(pid)
                if came_online and self._harmonizing_since is not None and member.share > 0.0:
                    # joins the pacing under way, in phase with the others: their phase zero
                    pace = Pace((pid,), self.venue.harmonize.pace_hz, self._harmonizing_since)
                    self._intents.append(pace)
            case events.ShareChanged(participant=pid, level=level, show_stage=show_stage):
                member = self._member(pid)
                shown = member.stage_shown
                if level is not None:
                    member.share = min(1.0, max(0.0, level))
                    self._leveled(pid, member.share)
                if show_stage is not None:
                    member.show_stage = show_stage
                if member.stage_shown != shown:
                    self._changed_people.add(pid)  # their stage shows or hides
            case events.HostCommanded(action=action):
                self._host(action)

    def _leveled(self, pid: str, share: float) -> None:
        """``pid``'s share level is ``share`` now: the scene shows that much of them."""
        self._reshared.add(pid)
        self._store.set_level(pid, share)

    def _breath_strays(self, pid: str, rhythm: Rhythm) -> bool:
        """Whether the breath of ``pid``'s view as of the last tick, extrapolated to the
        rhythm's time, is past the bounds from ``rhythm`` (or the view has none)."""
        view = self._views.get(pid)
        held = None if view is None else view.breath
        now = _breath_view(rhythm)
        if held is None or now is None:
            return held != now
        drift = breath_phase_at(held, rhythm.t) - rhythm.phase_at(rhythm.t)
        drift = abs((drift + math.pi) % (2.0 * math.pi) - math.pi)
        return drift > _BREATH_DRIFT_RAD or abs(held.hz - now.hz) > _BREATH_RATE_DRIFT * now.hz

    def _check_may_contribute(self, pid: str) -> None:
        """Who may contribute: dreamers and wakers, until the session ends."""
        member = self._member(pid)
        if member.role in ("watcher", "host"):
            raise ContributionRefused(f"{member.role}s cannot contribute")
        if self._phases.phase == "ended":
            raise ContributionRefused("the session has ended")

    def _member(self, pid: str) -> _Participant:
        member = self._participants.get(pid)
        if member is None or member.left:
            raise EngineError(f"unknown participant {pid}")
        return member

    def _host(self, action: str) -> None:
        clock = self._phases
        if action == "start":
            clock.start()
        elif action == "pause":
            clock.pause()
        elif action == "resume":
            clock.resume()
        elif action == "advance":
            clock.next_phase()
        elif action == "end":
            clock.end()
        elif action == "harmonize":
            self._harmonize_requested = True
        else:
            raise EngineError(f"unknown host action {action!r}")

    def begin_epoch(self, epoch: str) -> None:
        """Name the history the states' seqs belong to from now on (the current state too)."""
        self.epoch = epoch
        self._state = self._state.model_copy(update={"epoch": epoch})

    # --- queries -------------------------------------------------------------------------

    @property
    def state(self) -> DreamscapeState:
        """The dreamscape as of the last tick."""
        return self._state

    @property
    def phase(self) -> str:
        return self._phases.phase

    def may_contribute(self, pid: str) -> bool:
        try:
            self._check_may_contribute(pid)
        except EngineError:
            return False
        return True

    def share_changes(self, event: events.ShareChanged) -> bool:
        """Whether applying ``event`` would change anything (an unknown participant: it would
        be refused, so True); setting what is already set changes nothing."""
        member = self._participants.get(event.participant)
        if member is None or member.left:
            return True
        level = None if event.level is None else min(1.0, max(0.0, event.level))
        return (level is not None and level != member.share) or (
            event.show_stage is not None and event.show_stage != member.show_stage
        )

    def shares(self) -> dict[str, float]:
        """Each participant's share of the scene shown at the last tick."""
        shared = self._shared_totals()
        return shares(shared, equity_scales(shared, self.venue.equity_cap))

    def drain_intents(self) -> list[Pace]:
        intents, self._intents = self._intents, []
        return intents

    def _shared_totals(self) -> dict[str, float]:
        """What each participant shares; one sharing next to nothing (a share level near 0,
        or weights long faded) is no one the equity cap could level the others to. Kept from
        tick to tick: only those whose total or share level changed are looked at again (the
        order of the map may differ from a fresh one's; nothing that reads it depends on it)."""
        shared = self._shared
        totals = self._store.totals
        if shared is None:
            changed: Iterable[str] = totals
            shared = self._shared = {}
        else:
            changed = self._store.changed | self._reshared
        participants = self._participants
        for pid in changed:
            total = totals.get(pid)
            member = participants.get(pid)
            part = 0.0 if member is None or total is None else total * member.share
            if part > _NEGLIGIBLE_WEIGHT:
                shared[pid] = part
            else:
                shared.pop(pid, None)
        self._store.changed.clear()
        self._reshared.clear()
        return shared

    # --- ticks ---------------------------------------------------------------------------

    def tick(self, now: float) -> tuple[DreamscapeState, Delta]:
        """Merge what arrived since the last tick, decay to ``now``, and say what changed.
        Time is kept to the millisecond: every view's ``t`` is short on the wire."""
        now = max(round(now, 3), self._now)
        self._now = now
        self._phases.advance_time(now)
        self._store.rebase_if_needed(now)
        applied, whispers = self._merge_pending(now)
        self._store.fade(now)
        self._drop_departed()
        self._forget_stale_rhythms(now)
        shared = self._shared_totals()
        equity = equity_scales(shared, self.venue.equity_cap)
        shown = self._store.shown(now, equity)
        coherence, chance, sleepers, regions = self._coherence_at(now, shown, equity)
        self._harmonize(now, coherence)
        calm = room_calm(
            (p.stress for p in self._visible_sleepers()),
            threshold=self.venue.wellbeing.room_threshold,
        )
        motifs = self._motif_views(now, shown, calm, regions)
        remaining = self._phases.remaining()
        running = remaining is not None and not self._phases.paused and self._phases.started
        scene = SceneView(
            phase=self._phases.phase,
            paused=self._phases.paused,
            phase_ends=round(now + remaining, 1) if running and remaining is not None else None,
            phase_remaining_s=None if running else _whole_seconds(remaining),
            coherence=None if coherence is None else round(coherence, 2),
            sleepers=sleepers,
            fractured=self._fractured,
            regions=tuple(regions),
            calm=round(calm, 2),
            harmonizing=self._harmonizing_since is not None,
            chance=None if chance is None else round(chance, 2),
            above_chance=None
            if coherence is None or chance is None
            else round(margin_above_chance(coherence, chance), 2),
        )
        self._seq += 1
        state, delta = self._diff(now, motifs, scene, applied, whispers)
        self._state = state
        return state, delta

    def people_page(self, offset: int, limit: int) -> tuple[int, tuple[ParticipantView, ...]]:
        """Everyone listed, as of the last tick, in id order: how many, and ``limit`` of them
        from ``offset``."""
        ids = sorted(self._views)
        return len(ids), tuple(self._views[pid] for pid in ids[offset : offset + limit])

    def _view_of(self, pid: str) -> ParticipantView:
        """What others see of a participant: their stage and breathing only by their consent.
        A function of the participant's record alone, whenever it is made."""
        p = self._participants[pid]
        breath = _breath_view(p.rhythm) if p.stage_shown and p.rhythm is not None else None
        return ParticipantView(
            id=pid,
            name=p.name,
            role=p.role,
            present=p.present,
            devices=p.devices,
            stage=_stage_label(p.stage) if p.stage_shown else None,
            tag=p.tag,
            breath=breath,
        )

    def _merge_pending(self, now: float) -> tuple[dict[str, int], tuple[WhisperView, ...]]:
        applied: dict[str, int] = {}
        whispers: list[WhisperView] = []
        wellbeing = self.venue.wellbeing
        phase = self._phase_weight()  # the same for every contribution of the tick
        growth = self._store.growth(now)
        for event in self._pending:
            member = self._participants[event.participant]
            private = isinstance(event, events.MotifContributed) and event.private
            if member.share <= 0.0 or private:
                self.counters.private_contributions += 1
                continue  # kept by the engine only: nothing of it reaches anyone
            applied[event.participant] = max(applied.get(event.participant, -1), event.cid)
            if isinstance(event, events.Whispered):
                whispers.append(
                    WhisperView(
                        participant=event.participant,
                        name=member.name,
                        text=event.text,
                        t=now,
                        tag=member.tag,
                    )
                )
                continue
            damping = input_damping(
                member.stress,
                event.valence,
                event.arousal,
                threshold=wellbeing.stress_threshold,
                dark_arousal=wellbeing.dark_arousal,
            )
            if damping < 1.0:
                self.counters.damped_contributions += 1
            weight = event.intensity * self._weight_of(member) * phase * damping
            if weight < _NEGLIGIBLE_WEIGHT:
                continue
            arousal = event.arousal * damping  # a damped input arrives calmer, too
            self._store.add(
                event.participant,
                event.motif,
                weight,
                event.intensity,
                event.valence,
                arousal,
                growth,
            )
        self._pending.clear()
        kept = tuple(whispers)[-self.venue.max_whispers :] if self.venue.max_whispers else ()
        return applied, kept

    def _weight_of(self, member: _Participant) -> float:
        """A sleeper who shows their stage weighs by it; everyone else by their role (see
        ``weights``: a hidden stage must not show through the weight)."""
        shown = _stage_label(member.stage) if member.stage_shown else None
        return contributor_weight(
            self.venue.stage_weights, self.venue.role_weights, member.role, shown
        )

    def _phase_weight(self) -> float:
        return phase_weight(self.venue.phases, self._phases.phase)

    def _drop_departed(self) -> None:
        """Forget participants who left once nothing they contributed is left."""
        for pid in [p for p in self._departed if p not in self._store.totals]:
            del self._participants[pid]
            self._departed.discard(pid)
            self._store.set_level(pid, 1.0)  # nothing of them is left to scale

    def _forget_stale_rhythms(self, now: float) -> None:
        """A rhythm no device has reported for the coherence window counts for nothing: it
        goes, and with it the breath of a consenting sleeper's view (no dot goes on turning
        for someone whose devices fell silent)."""
        window = self.venue.coherence.window_s
        for pid, p in self._participants.items():
            if p.rhythm is not None and now - p.rhythm.t > window:
                p.rhythm = None
                if p.stage_shown and not p.left:
                    self._changed_people.add(pid)

    def _visible_sleepers(self) -> list[_Participant]:
        """Sleepers whose devices speak and who share: the ones the room's rules count."""
        return [
            p
            for p in self._participants.values()
            if p.present and not p.left and p.share > 0.0 and p.stage is not None
        ]

    # --- coherence, fracture, harmonizing --------------------------------------------------

    def _coherence_at(
        self, now: float, shown: dict[str, ShownMotif], equity: dict[str, float]
    ) -> tuple[float | None, float | None, int, list[RegionView]]:
        """The coherence, its chance baseline, how many sleepers count, and the regions of a
        fractured scene; fracture and healing are judged against the baseline."""
        rules = self.venue.coherence
        phases = {
            pid: p.rhythm.phase_at(now)
            for pid, p in self._participants.items()
            if p.rhythm is not None
            and p.present
            and not p.left
            and p.share > 0.0
            and now - p.rhythm.t <= rules.window_s
        }
        if len(phases) < rules.min_sleepers:
            self._coherence.clear()
            self._chance.clear()
            self._fractured = False
            self._regions_at = None
            return None, None, len(phases), []
        units = unit_vectors(list(phases.values()))
        coherence = self._coherence.add(now, order_of(units))
        chance = self._chance.add(now, surrogate_order(units, self._shifts))
        low = self.counters.coherence_min
        self.counters.coherence_min = coherence if low is None else min(low, coherence)
        if not self._fractured and rules.fractures(coherence, chance):
            self._fractured = True
            self.counters.fractures += 1
        elif self._fractured and rules.heals(coherence, chance):
            self._fractured = False
        if not self._fractured:
            self._regions_at = None
            return coherence, chance, len(phases), []
        if self._regions_at is None or now - self._regions_at[0] >= _REGROUP_EVERY_S:
            self._regions_at = (now, self._regions(phases, shown, equity))
        return coherence, chance, len(phases), self._regions_at[1]

    def _regions(
        self, phases: dict[str, float], shown: dict[str, ShownMotif], equity: dict[str, float]
    ) -> list[RegionView]:
        groups = phase_groups(phases, self.venue.coherence.max_regions)
        region_of = {pid: i for i, group in enumerate(groups) for pid in group}
        motifs_of: list[list[str]] = [[] for _ in groups]
        for name in shown:
            pull = self._store.pull(name, equity, region_of, len(groups))
            if max(pull) > 0.0:
                motifs_of[pull.index(max(pull))].append(name)
        regions = []
        for i, group in enumerate(groups):
            angle = 2.0 * math.pi * i / len(groups)
            regions.append(
                RegionView(
                    id=i,
                    x=round(0.5 + _REGION_RADIUS * math.cos(angle), 3),
                    y=round(0.5 + _REGION_RADIUS * math.sin(angle), 3),
                    participants=tuple(group),
                    motifs=tuple(motifs_of[i]),
                )
            )
        return regions

    def _harmonize(self, now: float, coherence: float | None) -> None:
        """Start pacing on request (or by itself on a fracture, where the venue says so);
        stop once the scene has stayed healed for the venue's hold time."""
        rules = self.venue.harmonize
        wanted = self._harmonize_requested or (rules.auto and self._fractured)
        self._harmonize_requested = False
        if self._harmonizing_since is None:
            if wanted:
                self._harmonizing_since = now
                self._healed_since = None
                self.counters.harmonizations += 1
                self._intents.append(Pace(self._pacers(), rules.pace_hz, now))
            return
        healed = coherence is not None and not self._fractured
        if not healed:
            self._healed_since = None
            return
        if self._healed_since is None:
            self._healed_since = now
        if now - self._healed_since >= rules.hold_s:
            self._harmonizing_since = None
            self._intents.append(Pace(self._pacers(), None, now))

    def _pacers(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                pid
                for pid, p in self._participants.items()
                if p.devices > 0 and p.share > 0.0 and not p.left
            )
        )

    # --- views -------------------------------------------------------------------------

    def _motif_views(
        self,
        now: float,
        shown: dict[str, ShownMotif],
        calm: float,
        regions: list[RegionView],
    ) -> dict[str, tuple[MotifView, float]]:
        """Each shown motif's view as of ``now``, with its weight unrounded (for the mood)."""
        region_at = {name: (r.x, r.y) for r in regions for name in r.motifs}
        dark_arousal = self.venue.wellbeing.dark_arousal
        views: dict[str, tuple[MotifView, float]] = {}
        for name, motif in shown.items():
            weight = motif.weight
            if motif.arousal >= dark_arousal:
                weight *= 1.0 - 0.5 * calm  # a stressed room quiets its restless motifs
            arousal = motif.arousal * (1.0 - 0.5 * calm)
            home_x, home_y = motif.home
            if name in region_at:
                target_x, target_y = region_at[name]
                home_x += _REGION_PULL * (target_x - home_x)
                home_y += _REGION_PULL * (target_y - home_y)
            view = MotifView(
                name=name,
                colour=motif.colour,
                weight=round(weight, 4),
                t=now,
                intensity=round(motif.intensity, 2),
                valence=round(motif.valence, 2),
                arousal=round(arousal, 2),
                x=round(_clamp(home_x, 0.0, 1.0), 4),
                y=round(_clamp(home_y, 0.0, 1.0), 4),
                phase=round(motif.home[0], 4),
            )
            views[name] = (view, weight)
        return views

    def _kept_or_new(self, held: MotifView | None, view: MotifView, weight: float) -> MotifView:
        """The view held when ``view`` says nothing new of it (the same parameters, and its
        weight, unrounded ``weight`` now, what the held view decays to, to within its
        rounding or ``_WEIGHT_DRIFT``), else ``view``."""
        if held is None:
            return view
        half_life = self.venue.half_life_s
        then = weight * math.pow(2.0, (view.t - held.t) / half_life)
        if round(then, 4) != held.weight and abs(then - held.weight) > _WEIGHT_DRIFT * then:
            return view
        same = held.model_copy(update={"weight": view.weight, "t": view.t})
        return held if same == view else view

    def _diff(
        self,
        now: float,
        fresh: dict[str, tuple[MotifView, float]],
        scene: SceneView,
        applied: dict[str, int],
        new_whispers: tuple[WhisperView, ...],
    ) -> tuple[DreamscapeState, Delta]:
        """Build the new state from the engine's own records, then say how it differs."""
        prev = self._state
        for pid in self._changed_people:
            self._views[pid] = self._view_of(pid)
        for pid in self._left_people:
            self._views.pop(pid, None)
        shown_before = {p.id for p in prev.participants}
        if self._changed_people or self._left_people:
            shown = listed_in_frames(self._views, self.venue.list_everyone_up_to)
            people = count_people(self._views)
        else:
            shown, people = shown_before, prev.people
        self._whispers.extend(new_whispers)
        prev_motifs = {m.name: m for m in prev.motifs}
        motifs = {
            name: self._kept_or_new(prev_motifs.get(name), view, weight)
            for name, (view, weight) in fresh.items()
        }
        state = DreamscapeState(
            session=self.session,
            venue=self.venue.name,
            epoch=self.epoch,
            seq=self._seq,
            t=now,
            half_life_s=self.venue.half_life_s,
            motifs=tuple(motifs[name] for name in sorted(motifs)),
            mood=_mood((view, weight) for view, weight in fresh.values()),
            scene=scene,
            whispers=tuple(self._whispers),
            whisper_limit=self.venue.max_whispers,
            participants=tuple(self._views[pid] for pid in sorted(shown)),
            people=people,
        )
        gone = [pid for pid in self._left_people if pid in shown_before]
        unlisted = sorted(shown_before - shown - set(gone))  # still here, no longer listed
        listed = (self._changed_people & shown) | (shown - shown_before)
        delta = Delta(
            seq=self._seq,
            t=now,
            motifs=tuple(
                _update(prev_motifs.get(name), view)
                for name, view in motifs.items()
                if prev_motifs.get(name) is not view
            ),
            removed=tuple(sorted(set(prev_motifs) - set(motifs))),
            mood=state.mood if state.mood != prev.mood else None,
            scene=scene if scene != prev.scene else None,
            whispers=new_whispers,
            participants=tuple(self._views[pid] for pid in sorted(listed)),
            left=(*gone, *unlisted),
            people=people if people != prev.people else None,
            applied=applied,
        )
        self._changed_people.clear()
        self._left_people.clear()
        return state, delta


def _update(held: MotifView | None, view: MotifView) -> MotifUpdate:
    """What a client holding ``held`` needs to hold ``view``: all of it for a new motif, else
    the fields that differ (the colour, say, travels once)."""
    if held is None:
        return view
    changed = {
        key: value for key, value in view if key != "t" and getattr(held, key) != value
    }  # t: the delta's own
    return MotifUpdate(name=view.name, **changed)


def _mood(views: Iterable[tuple[MotifView, float]]) -> Mood:
    """The motifs' mean feeling, by weight. Every weight decays alike, so the mood changes only
    when a motif does, never because time passed."""
    total = valence = arousal = 0.0
    for view, weight in views:
        total += weight
        valence += weight * view.valence
        arousal += weight * view.arousal
    if total <= 0.0:
        return Mood()
    return Mood(valence=round(valence / total, 2), arousal=round(arousal / total, 2))


def _breath_view(rhythm: Rhythm) -> BreathView | None:
    """A rhythm as the wire carries it, rounded (None for a rate no breath has)."""
    hz = round(rhythm.hz, 4)
    if not (hz > 0.0 and math.isfinite(hz) and math.isfinite(rhythm.phase)):
        return None
    phase = round(rhythm.phase % (2.0 * math.pi), 3)
    return BreathView(phase=phase, hz=hz, t=round(rhythm.t, 3))


def _whole_seconds(seconds: float | None) -> float | None:
    return None if seconds is None else float(math.ceil(seconds))


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


_STAGE_LABELS: dict[int, SleepStage] = {0: "awake", 1: "light", 2: "light", 3: "deep", 4: "rem"}


def _stage_label(stage: int | None) -> SleepStage | None:
    """What a sleeper who consents shows of their stage: awake, light, deep or rem."""
    return None if stage is None else _STAGE_LABELS.get(stage)
