"""The little language of typed commands, parsed into typed commands: one parser for the Textual
app, its host console and ``join --plain`` alike.

``moon`` or ``moon 0.8`` raise a motif (with an intensity);  ``/private moon`` keeps one to
yourself;  ``/w words`` whispers;  ``/feel calm`` (or ``/feel 0.4 0.2``, valence and arousal)
sets the emotion your next motifs carry;  ``/share 0.5`` sets how much of your dream others see,
``/share 0.5 stage`` also lets them see your sleep stage;  ``/stage on`` shows it (``/stage off``
hides it again);  ``/pair CODE`` claims a device;  as host ``/start``, ``/pause``, ``/resume``,
``/advance``, ``/end``, ``/harmonize``, ``/remove p3``, ``/invite watcher 12`` (an invitation
for 12 hours);  ``/me`` shows who you are and your resume token;  ``/quit`` leaves.
``parse`` never talks to the network: it only says what the line means, or raises
``CommandError`` that says what is wrong with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, get_args

from dreamcommons.client.dream_client import InvitableRole
from dreamcommons.client.errors import CommandError
from dreamcommons.contracts.pairing import CODE_PATTERN, normalize_code
from dreamcommons.contracts.protocol import HostActionName

HELP: Final = (
    "motif: 'moon 0.8'  whisper: '/w words'  emotion: '/feel calm'  '/share 0.5 [stage]'  "
    "'/private moon'  '/stage on|off'  '/pair CODE'  host: '/start' '/pause' '/resume' "
    "'/advance' '/end' '/harmonize' '/remove p3' '/invite watcher 12'  '/me'  '/quit'"
)
DEFAULT_INTENSITY: Final = 0.7
HOST_ACTIONS: Final[tuple[str, ...]] = get_args(HostActionName)
INVITABLE: Final[tuple[str, ...]] = get_args(InvitableRole)

_MOTIF = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_PAIRING_CODE = re.compile(CODE_PATTERN)
_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True, slots=True)
class Feeling:
    """The emotion a motif carries: valence -1..1 (dark..bright), arousal 0..1 (calm..restless)."""

    name: str
    valence: float
    arousal: float

    def describe(self) -> str:
        return f"{self.name} ({self.valence:+.1f}, {self.arousal:.1f})"


FEELINGS: Final[tuple[Feeling, ...]] = (
    Feeling("neutral", 0.0, 0.5),
    Feeling("calm", 0.4, 0.2),
    Feeling("tender", 0.6, 0.35),
    Feeling("joyful", 0.8, 0.7),
    Feeling("awed", 0.5, 0.85),
    Feeling("wistful", -0.3, 0.3),
    Feeling("sad", -0.7, 0.25),
    Feeling("uneasy", -0.5, 0.65),
    Feeling("afraid", -0.8, 0.85),
)
FEELING_NAMES: Final = {feeling.name: feeling for feeling in FEELINGS}


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
    """``show_stage``: True lets the others see your sleep stage too; None leaves it as it was."""

    level: float
    show_stage: bool | None = None


@dataclass(frozen=True, slots=True)
class ShowStage:
    shown: bool


@dataclass(frozen=True, slots=True)
class PairDevice:
    code: str


@dataclass(frozen=True, slots=True)
class HostCommand:
    action: HostActionName
    participant: str | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    """As host: an invitation to this session for ``role``, valid ``hours``."""

    role: InvitableRole = "dreamer"
    hours: float = 24.0


@dataclass(frozen=True, slots=True)
class SetFeeling:
    feeling: Feeling


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class ShowMe:
    """Who you are in the session, and the resume token that is your key to your own night."""


NetworkCommand = RaiseMotif | SendWhisper | SetShare | ShowStage | PairDevice | HostCommand | Invite
Command = NetworkCommand | SetFeeling | Quit | ShowHelp | ShowMe


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
    if verb in ("me", "whoami"):
        return ShowMe()
    if verb in ("w", "whisper"):
        if not rest:
            raise CommandError("whisper what? e.g. '/w the river hums'")
        if len(rest) > 280:
            raise CommandError("a whisper is at most 280 characters")
        return SendWhisper(rest)
    if verb in ("feel", "f"):
        return SetFeeling(_feeling(rest))
    if verb == "share":
        return _share(rest)
    if verb == "invite":
        return _invite(rest)
    if verb == "stage":
        if rest.lower() not in ("on", "off"):
            raise CommandError(
                "'/stage on' shows your sleep stage to the others; '/stage off' hides it"
            )
        return ShowStage(rest.lower() == "on")
    if verb == "private":
        motif, _, intensity = rest.partition(" ")
        return _motif(motif, intensity.strip(), private=True)
    if verb == "pair":
        code = normalize_code(rest)
        if not isinstance(code, str) or not _PAIRING_CODE.match(code):
            raise CommandError(
                "a pairing code is the 10 letters and digits your device shows, "
                "e.g. '/pair K7QM-XHD2-PQ'"
            )
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


def _share(rest: str) -> SetShare:
    level, _, stage = rest.partition(" ")
    stage = stage.strip().lower()
    if stage not in ("", "stage"):
        raise CommandError(
            "'/share 0.5' shares half your dream; '/share 0.5 stage' your sleep stage too"
        )
    return SetShare(_unit(level, "share level"), show_stage=True if stage else None)


def _invite(rest: str) -> Invite:
    role, _, hours = rest.partition(" ")
    role = role.lower() or "dreamer"
    if role not in INVITABLE:
        raise CommandError(f"invite whom? one of {', '.join(INVITABLE)}: '/invite watcher 12'")
    if not hours.strip():
        return Invite(role)  # type: ignore[arg-type]  # checked against INVITABLE
    try:
        ttl = float(hours)
    except ValueError:
        raise CommandError(f"hours must be a number, not {hours.strip()!r}") from None
    if not 0.0 < ttl <= 30 * 24:
        raise CommandError("an invitation lasts more than 0 and at most 720 hours")
    return Invite(role, ttl)  # type: ignore[arg-type]


def _feeling(rest: str) -> Feeling:
    named = FEELING_NAMES.get(rest.lower())
    if named is not None:
        return named
    words = rest.split()
    if len(words) != 2:
        names = ", ".join(FEELING_NAMES)
        raise CommandError(f"feel what? one of {names}, or valence and arousal: '/feel 0.4 0.2'")
    valence = _number(words[0], "valence", -1.0)
    arousal = _unit(words[1], "arousal")
    return Feeling("your own", valence, arousal)


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
    return _number(text, what, 0.0)


def _number(text: str, what: str, low: float) -> float:
    """``text`` as a number from ``low`` to 1, or a ``CommandError`` that says what was wrong."""
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{what} must be a number from {low:g} to 1, not {text!r}") from None
    if not low <= value <= 1.0:
        raise CommandError(f"{what} must be from {low:g} to 1, not {value:g}")
    return value
