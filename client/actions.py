"""Carry out a parsed command against the server, and say in one line what came of it."""

from __future__ import annotations

from dataclasses import dataclass

from dreamcommons.client.commands import (
    Feeling,
    HostCommand,
    Invite,
    NetworkCommand,
    PairDevice,
    RaiseMotif,
    SendWhisper,
    SetShare,
    ShowStage,
)
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import Paired


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the app shows after a command went through; ``paired`` when a device was claimed."""

    note: str
    paired: Paired | None = None


async def carry_out(dream: DreamClient, command: NetworkCommand, feeling: Feeling) -> Outcome:
    """Send ``command`` and wait for the server's answer; its refusals raise ``Refused``."""
    match command:
        case RaiseMotif(motif=motif, intensity=intensity, private=private):
            await dream.contribute(
                motif,
                intensity=intensity,
                valence=feeling.valence,
                arousal=feeling.arousal,
                private=private,
            )
            kept = " (kept to yourself)" if private else ""
            return Outcome(f"raised {motif} {intensity:.1f}, feeling {feeling.name}{kept}")
        case SendWhisper(text=text):
            await dream.whisper(text)
            return Outcome("whispered")
        case SetShare(level=level, show_stage=show_stage):
            await dream.share(level, show_stage=show_stage)
            stage = " and your sleep stage" if show_stage else ""
            return Outcome(f"sharing {level:.0%} of your dream{stage}")
        case ShowStage(shown=shown):
            await dream.share(None, show_stage=shown)
            return Outcome(
                "the others see your sleep stage" if shown else "your sleep stage is hidden"
            )
        case PairDevice(code=code):
            paired = await dream.pair_device(code)
            return Outcome(f"paired {paired.device} ({paired.kind}, {paired.model})", paired)
        case HostCommand(action=action, participant=participant):
            await dream.host(action, participant)
            whom = f" {participant}" if participant else ""
            return Outcome(f"host: {action}{whom} done")
        case Invite(role=role, hours=hours):
            invitation = await dream.invite(role, hours * 3600)
            return Outcome(f"invitation for a {invitation.role}: {invitation.token}")


def about_me(name: str, participant: str, session: str, resume_token: str | None) -> str:
    """What ``/me`` says: who you are, and what your resume token lets you do."""
    if not resume_token:
        return f"you are {name} in {session}; not joined yet, so no resume token"
    return (
        f"you are {name} ({participant}) in {session}; your resume token is {resume_token}: "
        "it brings you back as yourself, and exports or erases your own night: "
        f"dreamcommons export JOURNAL --session {session} --resume-token={resume_token}"
    )
