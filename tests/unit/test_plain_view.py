"""The plain view's scene line: the sleepers' coherence, and what chance would give them."""

from __future__ import annotations

from dreamcommons.client.plain_view import render
from dreamcommons.contracts.protocol import DreamscapeState, SceneView


def scene_line(scene: SceneView) -> str:
    state = DreamscapeState(session="commons", venue="sleep-commons", scene=scene)
    return next(line for line in render(state).splitlines() if line.startswith("phase:"))


def test_the_coherence_is_shown_against_its_chance_baseline() -> None:
    scene = SceneView(phase="dream", coherence=0.71, chance=0.32, above_chance=0.57, sleepers=8)
    assert scene_line(scene).startswith("phase: dream  coherence: 0.71 (chance 0.32, 8 sleepers)")


def test_before_enough_sleepers_breathe_there_is_no_coherence_and_no_baseline() -> None:
    scene = SceneView(phase="gathering", sleepers=1)
    assert scene_line(scene).startswith("phase: gathering  coherence: — (1 sleepers)")
