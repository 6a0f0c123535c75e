"""The dreamscape as plain text, for ``dreamcommons join --plain``, scripts and dumb terminals."""

from __future__ import annotations

from dreamcommons.contracts.motion import motifs_at
from dreamcommons.contracts.protocol import DreamscapeState

_BAR_WIDTH = 24


def mood_words(valence: float, arousal: float) -> str:
    feeling = "bright" if valence > 0.25 else "dark" if valence < -0.25 else "mixed"
    energy = "restless" if arousal > 0.6 else "calm" if arousal < 0.35 else "drifting"
    return f"{energy}, {feeling}"


def people_count(state: DreamscapeState) -> str:
    """How many are here and away, and whether the list shows them all: a large room lists
    only its hosts and the stages shown."""
    count = state.people
    if count.here + count.away == 0:  # from a server that sends no counts
        return f"{len(state.participants)} here"
    words = f"{count.here} here" + (f", {count.away} away" if count.away else "")
    if count.here + count.away > len(state.participants):
        words += "; listed: the hosts and the stages shown"
    return words


def render(state: DreamscapeState, me: str = "", motif_rows: int = 10) -> str:
    """A few lines: the mood, the phase and the sleepers' coherence (against what chance would
    give them), the heaviest motifs as bars, who is here, the last whispers."""
    lines = [
        f"~ {state.venue} / {state.session}  tick {state.seq}  t={state.t:.1f}s ~",
        f"mood: {mood_words(state.mood.valence, state.mood.arousal)} "
        f"(valence {state.mood.valence:+.2f}, arousal {state.mood.arousal:.2f})",
    ]
    scene = state.scene
    coherence = "—" if scene.coherence is None else f"{scene.coherence:.2f}"
    against = "" if scene.chance is None else f"chance {scene.chance:.2f}, "
    flags = [
        "FRACTURED into " + str(len(scene.regions)) + " regions" if scene.fractured else "",
        "harmonizing" if scene.harmonizing else "",
        f"calming {scene.calm:.0%}" if scene.calm > 0 else "",
        "paused" if scene.paused else "",
    ]
    lines.append(
        f"phase: {scene.phase}  coherence: {coherence} ({against}{scene.sleepers} sleepers)  "
        + "  ".join(flag for flag in flags if flag)
    )
    now = motifs_at(state, state.t)  # each motif's weight as of the state's tick
    motifs = sorted(now, key=lambda m: (-m.weight, m.name))[:motif_rows]
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
    listed_all = state.people.here + state.people.away <= len(state.participants)
    count = "" if listed_all else f" ({people_count(state)})"
    lines.append(f"here: {people or 'nobody listed'}{count}")
    for whisper in state.whispers[-3:]:
        tag = f" #{whisper.tag}" if whisper.tag else ""
        lines.append(f'  {whisper.name}{tag} whispers: "{whisper.text}"')
    return "\n".join(lines)


def changes(before: DreamscapeState, after: DreamscapeState) -> list[str]:
    """What a reader notices from one state to the next, a line each (none when nothing did):
    who came and went, motifs that appeared or faded, new whispers, the phase, a fracture or
    its healing, harmonizing, a pause, the mood's words."""
    at = f"t={after.t:7.1f}s "
    lines = [at + line for line in _people(before, after)]
    names = {m.name for m in before.motifs}
    now = {m.name for m in after.motifs}
    lines += [f"{at}+ {name}" for name in sorted(now - names)]
    lines += [f"{at}- {name} faded" for name in sorted(names - now)]
    heard = {(w.participant, w.t, w.text) for w in before.whispers}
    for whisper in after.whispers:
        if (whisper.participant, whisper.t, whisper.text) not in heard:
            tag = f" #{whisper.tag}" if whisper.tag else ""
            lines.append(f'{at}{whisper.name}{tag} whispers: "{whisper.text}"')
    lines += [at + line for line in _scene(before, after)]
    was = mood_words(before.mood.valence, before.mood.arousal)
    mood = mood_words(after.mood.valence, after.mood.arousal)
    if mood != was:
        lines.append(f"{at}mood: {mood}")
    return lines


def _people(before: DreamscapeState, after: DreamscapeState) -> list[str]:
    known = {p.id: p for p in before.participants}
    lines = []
    for person in after.participants:
        name = person.name + (f" #{person.tag}" if person.tag else "")
        was = known.pop(person.id, None)
        if was is None:
            role = "" if person.role == "dreamer" else f" as {person.role}"
            lines.append(f"{name} joined{role}" if person.present else f"{name} (away)")
        elif person.present and not was.present:
            lines.append(f"{name} came back")
        elif was.present and not person.present:
            lines.append(f"{name} left")
    lines += [f"{gone.name} left" for gone in known.values() if gone.present]
    return lines


def _scene(before: DreamscapeState, after: DreamscapeState) -> list[str]:
    was, scene = before.scene, after.scene
    lines = []
    if scene.phase != was.phase:
        lines.append(f"phase: {scene.phase}")
    if scene.fractured and not was.fractured:
        lines.append(f"FRACTURED into {len(scene.regions)} regions")
    elif was.fractured and not scene.fractured:
        lines.append("healed")
    if scene.harmonizing != was.harmonizing:
        lines.append("harmonizing" if scene.harmonizing else "harmonizing ended")
    if scene.paused != was.paused:
        lines.append("paused" if scene.paused else "resumed")
    return lines
