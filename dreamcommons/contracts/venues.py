"""Venue presets: the data in ``seeds/*.toml`` that gives each venue its vocabulary and rules.

A preset is validated once, when it is loaded; a bad preset raises ``VenueError`` naming the
file and the field, so that a host fixes the right line.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from dreamcommons.contracts.errors import VenueError
from dreamcommons.contracts.protocol import (
    Colour,
    MotifName,
    Signed,
    Unit,
    margin_above_chance,
)

VenueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,47}$")]

_PACKAGED_SEEDS = Path(str(resources.files("dreamcommons.seeds")))
SEEDS_DIR = Path(os.environ.get("DREAMCOMMONS_SEEDS", _PACKAGED_SEEDS))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotifPreset(_Strict):
    """A motif of the venue's vocabulary, with the colour and feeling it brings."""

    name: MotifName
    colour: Colour
    valence: Signed = 0.0
    arousal: Unit = 0.5


class RoleWeights(_Strict):
    """How much a contribution weighs, by the contributor's role."""

    dreamer: float = Field(default=1.0, ge=0.0, le=10.0)
    waker: float = Field(default=0.25, ge=0.0, le=10.0)
    watcher: float = Field(default=0.0, ge=0.0, le=0.0)
    host: float = Field(default=0.0, ge=0.0, le=0.0)


class StageWeights(_Strict):
    """How much a contribution weighs by the sleep stage the contributor's devices report, while
    the contributor shows that stage (a hidden stage weighs as the role, so that weights never
    tell it; a shown light stage weighs the mean of ``n1`` and ``n2``, as both show as light).

    Dreams are most vivid in REM; someone awake only nudges the scene."""

    wake: float = Field(default=0.25, ge=0.0, le=10.0)
    n1: float = Field(default=0.6, ge=0.0, le=10.0)
    n2: float = Field(default=0.8, ge=0.0, le=10.0)
    n3: float = Field(default=0.7, ge=0.0, le=10.0)
    rem: float = Field(default=1.0, ge=0.0, le=10.0)

    def for_stage(self, stage: int) -> float:
        return (self.wake, self.n1, self.n2, self.n3, self.rem)[stage]


class WellbeingRules(_Strict):
    """The well-being guard's thresholds (stress is 0..1 against each sleeper's baseline)."""

    stress_threshold: float = Field(default=0.5, ge=0.0, lt=1.0)
    dark_arousal: float = Field(default=0.6, ge=0.0, le=1.0, description="'high arousal' from here")
    room_threshold: float = Field(default=0.4, ge=0.0, lt=1.0)


class CoherenceRules(_Strict):
    """When the scene fractures and heals, from the sleepers' breathing synchrony judged against
    chance: ``SceneView.above_chance`` (0 at chance, 1 in full step) against the margins, so a
    room of 3 and a festival of 3,000 fracture for the same reason.

    ``fracture_below`` and ``heal_above`` are absolute thresholds on the coherence, from presets
    written before the margins (and the sessions journaled with them): when set, they decide
    instead of the margins."""

    window_s: float = Field(default=10.0, gt=0.0, le=120.0)
    fracture_margin: float = Field(default=0.1, ge=0.0, le=1.0)
    heal_margin: float = Field(default=0.45, ge=0.0, le=1.0)
    fracture_below: float | None = Field(default=None, ge=0.0, le=1.0)
    heal_above: float | None = Field(default=None, ge=0.0, le=1.0)
    min_sleepers: int = Field(default=3, ge=2)
    max_regions: int = Field(default=4, ge=2, le=12)

    @model_validator(mode="after")
    def _hysteresis(self) -> CoherenceRules:
        if self.heal_margin < self.fracture_margin:
            raise ValueError("heal_margin must not be below fracture_margin")
        if (self.fracture_below is None) != (self.heal_above is None):
            raise ValueError("fracture_below and heal_above go together (or use the margins)")
        if (
            self.fracture_below is not None
            and self.heal_above is not None
            and self.heal_above < self.fracture_below
        ):
            raise ValueError("heal_above must not be below fracture_below")
        return self

    def fractures(self, coherence: float, chance: float) -> bool:
        """Whether a whole scene fractures at this coherence and chance baseline."""
        if self.fracture_below is not None:
            return coherence < self.fracture_below
        return margin_above_chance(coherence, chance) < self.fracture_margin

    def heals(self, coherence: float, chance: float) -> bool:
        """Whether a fractured scene heals at this coherence and chance baseline."""
        if self.heal_above is not None:
            return coherence >= self.heal_above
        return margin_above_chance(coherence, chance) >= self.heal_margin


class HarmonizeRules(_Strict):
    """Pacing the sleepers' breathing to bring them back together."""

    auto: bool = Field(default=False, description="the engine harmonizes by itself on a fracture")
    pace_hz: float = Field(default=0.1, ge=0.05, le=0.5, description="6 breaths a minute")
    hold_s: float = Field(default=20.0, ge=0.0, description="keep pacing this long after healing")


class PhaseDurations(_Strict):
    """Seconds of each phase once the session starts; ``autostart`` starts it at once."""

    autostart: bool = True
    gathering: float = Field(default=60.0, ge=0.0)
    descent: float = Field(default=120.0, ge=0.0)
    dream: float = Field(default=1800.0, ge=0.0)
    awakening: float = Field(default=120.0, ge=0.0)
    gathering_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    descent_weight: float = Field(default=0.8, ge=0.0, le=1.0)
    awakening_weight: float = Field(default=0.4, ge=0.0, le=1.0)


class VenuePreset(_Strict):
    """One venue: its look (vocabulary, palette) and its merge rules (tick, decay, equity)."""

    name: VenueName
    title: str = Field(min_length=1, max_length=80)
    story: str = Field(min_length=1, description="the story the venue comes from")
    description: str = Field(min_length=1)
    tick_hz: float = Field(gt=0.0, le=60.0)
    half_life_s: float = Field(gt=0.0, le=3600.0, description="motif weights halve in this time")
    equity_cap: float = Field(
        gt=0.0, le=1.0, description="largest share of the scene one participant may hold"
    )
    min_weight: float = Field(default=0.02, gt=0.0, description="motifs lighter than this fade out")
    max_motifs: int = Field(default=48, ge=1, le=512)
    max_whispers: int = Field(default=12, ge=0, le=200)
    list_everyone_up_to: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="past this many listed, frames list only the hosts and shown stages",
    )
    palette: list[Colour] = Field(min_length=1)
    motifs: list[MotifPreset] = Field(min_length=1)
    role_weights: RoleWeights = RoleWeights()
    stage_weights: StageWeights = StageWeights()
    default_share: float = Field(default=1.0, ge=0.0, le=1.0, description="until one chooses")
    wellbeing: WellbeingRules = WellbeingRules()
    coherence: CoherenceRules = CoherenceRules()
    harmonize: HarmonizeRules = HarmonizeRules()
    phases: PhaseDurations = PhaseDurations()

    @model_validator(mode="after")
    def _unique_motifs(self) -> VenuePreset:
        names = [m.name for m in self.motifs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"motif names must be unique; repeated: {', '.join(duplicates)}")
        return self

    def motif(self, name: str) -> MotifPreset | None:
        for preset in self.motifs:
            if preset.name == name:
                return preset
        return None


def available_venues(seeds_dir: Path = SEEDS_DIR) -> list[str]:
    return sorted(p.stem for p in seeds_dir.glob("*.toml"))


def load_venue(name_or_path: str, seeds_dir: Path = SEEDS_DIR) -> VenuePreset:
    """A venue by name (``sleep-commons``) from ``seeds/``, or from a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = seeds_dir / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_venues(seeds_dir)) or "none"
        raise VenueError(f"no venue preset {name_or_path!r} (known venues: {known})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise VenueError(f"{path}: not valid TOML: {exc}") from None
    return parse_venue(data, source=str(path))


def parse_venue(data: object, *, source: str) -> VenuePreset:
    try:
        return VenuePreset.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise VenueError(f"{source}: invalid venue preset: {problems}") from None
