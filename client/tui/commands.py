"""The little language of the TUI's command line, parsed into typed commands.

The same words as the plain join loop (``client/join_cli.py``):  ``moon`` or ``moon 0.8``
raise a motif (with an intensity);  ``/private moon`` keeps one to yourself;  ``/w words``
whispers;  ``/share 0.5`` sets how much of your dream others see;  ``/pair CODE`` claims a
device;  as host ``/start``, ``/pause``, ``/resume``, ``/advance``, ``/end``, ``/harmonize``,
``/remove p3``;  ``/quit`` leaves.  ``parse`` never talks to the network: it only says what
the line means, or raises ``CommandError`` that says what is wrong with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, get_args

from server.protocol import HostActionName

HELP: Final = (
    "motif: 'moon 0.8'  whisper: '/w words'  '/share 0.5'  '/private moon'  '/pair CODE'  "
    "host: '/start' '/pause' '/resume' '/advance' '/end' '/harmonize' '/remove p3'  '/quit'"
)
DEFAULT_INTENSITY: Final = 0.7
HOST_ACTIONS: Final[tuple[str, ...]] = get_args(HostActionName)

_MOTIF = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_PAIRING_CODE = re.compile(r"^[A-Z0-9]{6}$")
_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class CommandError(ValueError):
    """A typed line that means nothing, or something out of range; the message says which."""


@dataclass(frozen=True, slots=True)
class RaiseMotif:
    motif: str
    intensity: float = DEFAULT_INTENSITY
    private: bool = False


@dataclass(frozen=True, slots=True)
class SendWhisper:
    text: str


@dataclass(frozen=True, slots=True)
class SetShare:
    level: float


@dataclass(frozen=True, slots=True)
class PairDevice:
    code: str


@dataclass(frozen=True, slots=True)
class HostCommand:
    action: HostActionName
    participant: str | None = None


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


Command = RaiseMotif | SendWhisper | SetShare | PairDevice | HostCommand | Quit | ShowHelp


def parse(line: str) -> Command | None:
    """What ``line`` asks for; ``None`` for a blank line; ``CommandError`` for nonsense."""
    line = line.strip()
    if not line:
        return None
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if not word.startswith("/"):
        return _motif(word, rest, private=False)
    verb = word[1:].lower()
    if verb in ("quit", "q"):
        return Quit()
    if verb in ("help", "h", "?"):
        return ShowHelp()
    if verb in ("w", "whisper"):
        if not rest:
            raise CommandError("whisper what? e.g. '/w the river hums'")
        if len(rest) > 280:
            raise CommandError("a whisper is at most 280 characters")
        return SendWhisper(rest)
    if verb == "share":
        return SetShare(_unit(rest, "share level"))
    if verb == "private":
        motif, _, intensity = rest.partition(" ")
        return _motif(motif, intensity.strip(), private=True)
    if verb == "pair":
        code = rest.upper()
        if not _PAIRING_CODE.match(code):
            raise CommandError("a pairing code is 6 letters or digits, e.g. '/pair K7Q2ZD'")
        return PairDevice(code)
    if verb in HOST_ACTIONS:
        return _host(verb, rest)
    raise CommandError(f"unknown command {word}; try /help")


def _motif(word: str, rest: str, *, private: bool) -> RaiseMotif:
    motif = word.lower()
    if not _MOTIF.match(motif):
        raise CommandError(
            f"{word!r} is not a motif name: a letter, then letters, digits or '-' (max 32)"
        )
    intensity = _unit(rest, "intensity") if rest else DEFAULT_INTENSITY
    return RaiseMotif(motif, intensity, private)


def _host(verb: str, rest: str) -> HostCommand:
    action: HostActionName = verb  # type: ignore[assignment]  # checked against HOST_ACTIONS
    if action == "remove":
        if not _PARTICIPANT.match(rest):
            raise CommandError("remove whom? e.g. '/remove p3'")
        return HostCommand(action, rest)
    if rest:
        raise CommandError(f"/{action} takes no argument")
    return HostCommand(action)


def _unit(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{what} must be a number from 0 to 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise CommandError(f"{what} must be from 0 to 1, not {value:g}")
    return value
