"""A sleeper's stage is theirs: others see it (as awake, light, deep or rem) only with consent."""

from __future__ import annotations

import math

from dreamcommons.contracts.protocol import DreamscapeState
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, ParticipantJoined, ShareChanged, SleeperUpdated


def sleeper(stage: int, t: float) -> SleeperUpdated:
    """A report of ``stage`` at ``t`` from a sleeper breathing steadily at 0.25 Hz."""
    phase = 2.0 * math.pi * 0.25 * t
    return SleeperUpdated(
        participant="p1", stage=stage, stress=0.0, breath_phase=phase, breath_hz=0.25, t=t
    )


def stage_shown(state: DreamscapeState) -> str | None:
    return next(p.stage for p in state.participants if p.id == "p1")


def test_the_stage_is_shown_only_while_the_sleeper_consents() -> None:
    engine = DreamEngine(load_venue("sleep-commons"), "stages")
    engine.apply(ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
    engine.apply(sleeper(3, 0.0))
    state, _ = engine.tick(0.1)
    assert stage_shown(state) is None

    engine.apply(ShareChanged(participant="p1", level=None, show_stage=True))
    state, delta = engine.tick(0.2)
    assert stage_shown(state) == "deep"
    assert [p.stage for p in delta.participants] == ["deep"]

    engine.apply(sleeper(4, 0.3))
    state, delta = engine.tick(0.4)
    assert stage_shown(state) == "rem"

    engine.apply(sleeper(4, 0.5))  # the same stage again: nothing new to say
    _, delta = engine.tick(0.6)
    assert delta.participants == ()

    engine.apply(ShareChanged(participant="p1", level=0.5))  # the share alone keeps consent
    state, _ = engine.tick(0.7)
    assert stage_shown(state) == "rem"

    engine.apply(ShareChanged(participant="p1", level=None, show_stage=False))
    state, _ = engine.tick(0.8)
    assert stage_shown(state) is None


def test_a_stage_change_of_a_sleeper_who_hides_it_changes_nothing_visible() -> None:
    engine = DreamEngine(load_venue("sleep-commons"), "stages")
    engine.apply(ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
    engine.tick(0.1)
    engine.apply(sleeper(2, 0.2))
    _, delta = engine.tick(0.3)
    assert delta.participants == ()
