"""The dreamscape as plain text, for ``dreamcommons join --plain``, scripts and dumb terminals."""

from __future__ import annotations

from dreamcommons.contracts.protocol import DreamscapeState

_BAR_WIDTH = 24


def mood_words(valence: float, arousal: float) -> str:
    feeling = "bright" if valence > 0.25 else "dark" if valence < -0.25 else "mixed"
    energy = "restless" if arousal > 0.6 else "calm" if arousal < 0.35 else "drifting"
    return f"{energy}, {feeling}"


def render(state: DreamscapeState, me: str = "", motif_rows: int = 10) -> str:
    """A few lines: the heaviest motifs as bars, the mood, who is here, the last whispers."""
    lines = [
        f"~ {state.venue} / {state.session}  tick {state.seq}  t={state.t:.1f}s ~",
        f"mood: {mood_words(state.mood.valence, state.mood.arousal)} "
        f"(valence {state.mood.valence:+.2f}, arousal {state.mood.arousal:.2f})",
    ]
    scene = state.scene
    coherence = "—" if scene.coherence is None else f"{scene.coherence:.2f}"
    flags = [
        "FRACTURED into " + str(len(scene.regions)) + " regions" if scene.fractured else "",
        "harmonizing" if scene.harmonizing else "",
        f"calming {scene.calm:.0%}" if scene.calm > 0 else "",
        "paused" if scene.paused else "",
    ]
    lines.append(
        f"phase: {scene.phase}  coherence: {coherence} ({scene.sleepers} sleepers)  "
        + "  ".join(flag for flag in flags if flag)
    )
    motifs = sorted(state.motifs, key=lambda m: (-m.weight, m.name))[:motif_rows]
    heaviest = motifs[0].weight if motifs else 1.0
    for motif in motifs:
        filled = max(1, round(_BAR_WIDTH * motif.weight / heaviest))
        lines.append(f"  {motif.name:<14} {'█' * filled:<{_BAR_WIDTH}} {motif.weight:6.2f}")
    if not motifs:
        lines.append("  (the dreamscape is empty: contribute a motif)")
    people = ", ".join(
        ("*" if p.id == me else "")
        + p.name
        + (f" #{p.tag}" if p.tag else "")
        + ("" if p.present else " (away)")
        + ("" if p.role == "dreamer" else f" [{p.role}]")
        + (f" ({p.devices} device{'s' if p.devices > 1 else ''})" if p.devices else "")
        for p in state.participants
    )
    lines.append(f"here: {people or 'nobody'}")
    for whisper in state.whispers[-3:]:
        tag = f" #{whisper.tag}" if whisper.tag else ""
        lines.append(f'  {whisper.name}{tag} whispers: "{whisper.text}"')
    return "\n".join(lines)
