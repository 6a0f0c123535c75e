"""What ``replay`` prints from one state to the next: what changed, once, and nothing else."""

from __future__ import annotations

from dreamcommons.client.plain_view import changes
from dreamcommons.contracts.protocol import (
    DreamscapeState,
    Mood,
    MotifView,
    ParticipantView,
    RegionView,
    SceneView,
    WhisperView,
)

LYRA = ParticipantView(id="p1", name="Lyra", role="dreamer")
MOON = MotifView(
    name="moon", colour="#aabbcc", weight=1.0, t=0.0, intensity=0.8, valence=0.2, arousal=0.3,
    x=0.5, y=0.5, phase=0.0,
)  # fmt: skip
HUSH = WhisperView(participant="p1", name="Lyra", text="hush", t=1.0)


def state(t: float, **fields: object) -> DreamscapeState:
    return DreamscapeState.model_validate({"session": "commons", "venue": "v", "t": t, **fields})


def test_a_tick_that_changed_nothing_prints_nothing() -> None:
    before = state(1.0, participants=[LYRA], motifs=[MOON], whispers=[HUSH])
    after = state(1.1, participants=[LYRA], motifs=[MOON.model_copy(update={"weight": 0.9})],
                  whispers=[HUSH])  # fmt: skip
    assert changes(before, after) == []


def test_joins_motifs_and_whispers_are_said_once() -> None:
    empty = state(0.0)
    joined = state(1.0, participants=[LYRA], motifs=[MOON], whispers=[HUSH])
    lines = changes(empty, joined)
    assert [line.split("s ", 1)[1] for line in lines] == [
        "Lyra joined",
        "+ moon",
        'Lyra whispers: "hush"',
    ]
    assert lines[0].startswith("t=    1.0s")
    gone = state(2.0, participants=[LYRA.model_copy(update={"present": False})], whispers=[HUSH])
    assert [line.split("s ", 1)[1] for line in changes(joined, gone)] == [
        "Lyra left",
        "- moon faded",
    ]


def test_the_scene_and_the_mood_are_said_when_they_turn() -> None:
    calm = state(1.0)
    region = RegionView(id=0, x=0.2, y=0.2, participants=("p1",), motifs=("moon",))
    stormy = state(
        2.0,
        scene=SceneView(phase="dream", fractured=True, regions=(region, region), harmonizing=True),
        mood=Mood(valence=0.6, arousal=0.9),
    )
    assert [line.split("s ", 1)[1] for line in changes(calm, stormy)] == [
        "phase: dream",
        "FRACTURED into 2 regions",
        "harmonizing",
        "mood: restless, bright",
    ]
    healed = stormy.model_copy(update={"scene": SceneView(phase="dream"), "t": 3.0})
    assert [line.split("s ", 1)[1] for line in changes(stormy, healed)] == [
        "healed",
        "harmonizing ended",
    ]
