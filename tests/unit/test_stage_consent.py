"""A sleeper's stage reaches the others only while they share their dream."""

from __future__ import annotations

from server.engine.core import DreamEngine
from server.engine.events import ParticipantJoined, ShareChanged, SleeperUpdated
from server.venues import load_venue


def stage_seen(engine: DreamEngine, pid: str) -> int | None:
    return next(p.stage for p in engine.state.participants if p.id == pid)


def sleeper(pid: str, stage: int | None, t: float) -> SleeperUpdated:
    return SleeperUpdated(
        participant=pid, stage=stage, stress=0.0, breath_phase=None, breath_hz=None, t=t
    )


def test_the_stage_shows_while_shared_and_hides_at_share_zero() -> None:
    engine = DreamEngine(load_venue("sleep-commons"), "stages")
    engine.apply(ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
    engine.tick(0.1)
    assert stage_seen(engine, "p1") is None  # no devices, no stage

    engine.apply(sleeper("p1", 4, 0.15))
    _, delta = engine.tick(0.2)
    assert stage_seen(engine, "p1") == 4
    assert [p.stage for p in delta.participants] == [4]

    engine.apply(ShareChanged(participant="p1", level=0.0))
    _, delta = engine.tick(0.3)
    assert stage_seen(engine, "p1") is None
    assert [p.stage for p in delta.participants] == [None]

    engine.apply(sleeper("p1", 3, 0.35))  # still sleeping, still private
    _, delta = engine.tick(0.4)
    assert stage_seen(engine, "p1") is None
    assert delta.participants == ()

    engine.apply(ShareChanged(participant="p1", level=0.4))
    engine.tick(0.5)
    assert stage_seen(engine, "p1") == 3


def test_an_unchanged_stage_sends_no_participant_delta() -> None:
    engine = DreamEngine(load_venue("sleep-commons"), "stages")
    engine.apply(ParticipantJoined(participant="p1", name="Lyra", role="dreamer"))
    engine.apply(sleeper("p1", 2, 0.05))
    engine.tick(0.1)
    engine.apply(sleeper("p1", 2, 0.15))
    _, delta = engine.tick(0.2)
    assert delta.participants == ()
