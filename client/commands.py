"""The little language of typed commands, parsed into typed commands: one parser for the Textual
app, its host console and ``join --plain`` alike.

``moon`` or ``moon 0.8`` raise a motif (with an intensity);  ``/private moon`` keeps one to
yourself;  ``/w words`` whispers;  ``/feel calm`` (or ``/feel 0.4 0.2``, valence and arousal)
sets the emotion your next motifs carry;  ``/share 0.5`` sets how much of your dream others see,
``/share 0.5 stage`` also lets them see your sleep stage;  ``/stage on`` shows it (``/stage off``
hides it again);  ``/pair CODE`` claims a device;  as host ``/start``, ``/pause``, ``/resume``,
``/advance``, ``/end``, ``/harmonize``, ``/remove p3``, ``/invite watcher 12`` (an invitation
for 12 hours);  ``/me`` shows who you are and your resume token;  ``/quit`` leaves.
``COMMANDS`` is the one table of them: what each is for, which roles have it, how its line is
read; ``parse`` and ``/help`` both read it, so the help lists exactly what a role may type.
``parse`` never talks to the network: it only says what the line means, or raises
``CommandError`` that says what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, get_args

from dreamcommons.client.dream_client import InvitableRole
from dreamcommons.client.errors import CommandError
from dreamcommons.contracts.pairing import CODE_PATTERN, normalize_code
from dreamcommons.contracts.protocol import HostActionName, Role

DEFAULT_INTENSITY: Final = 0.7
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


def _host(action: HostActionName, rest: str) -> HostCommand:
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


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of the little language: how it is typed, what it does, who has it.

    ``verbs`` are the words after ``/`` (the first is the one shown; none for the bare motif);
    ``read`` turns the rest of the line into the command; ``example`` is a line that means it.
    """

    usage: str
    does: str
    roles: frozenset[Role]
    read: Callable[[str], Command]
    example: str
    verbs: tuple[str, ...] = ()


CONTRIBUTORS: Final[frozenset[Role]] = frozenset({"dreamer", "waker"})
EVERYONE: Final[frozenset[Role]] = frozenset(get_args(Role))
HOST: Final[frozenset[Role]] = frozenset({"host"})
HOST_DOES: Final[dict[HostActionName, tuple[str, str]]] = {  # action: usage, what it does
    "start": ("/start", "start the phase clock (and un-pause it)"),
    "pause": ("/pause", "stop the phase clock; contributions still flow"),
    "resume": ("/resume", "restart the phase clock"),
    "advance": ("/advance", "go to the next phase at once"),
    "end": ("/end", "end the session at once, for everyone"),
    "harmonize": ("/harmonize", "start pacing the sleepers' breathing into one rhythm"),
    "remove": ("/remove p3", "take a participant out of the session for good"),
}


def _whisper(rest: str) -> SendWhisper:
    if not rest:
        raise CommandError("whisper what? e.g. '/w the river hums'")
    if len(rest) > 280:
        raise CommandError("a whisper is at most 280 characters")
    return SendWhisper(rest)


def _stage(rest: str) -> ShowStage:
    if rest.lower() not in ("on", "off"):
        raise CommandError(
            "'/stage on' shows your sleep stage to the others; '/stage off' hides it"
        )
    return ShowStage(rest.lower() == "on")


def _private(rest: str) -> RaiseMotif:
    motif, _, intensity = rest.partition(" ")
    return _motif(motif, intensity.strip(), private=True)


def _pair(rest: str) -> PairDevice:
    code = normalize_code(rest)
    if not isinstance(code, str) or not _PAIRING_CODE.match(code):
        raise CommandError(
            "a pairing code is the 10 letters and digits your device shows, "
            "e.g. '/pair K7QM-XHD2-PQ'"
        )
    return PairDevice(code)


def _bare(command: Command, usage: str) -> Callable[[str], Command]:
    def read(rest: str) -> Command:
        if rest:
            raise CommandError(f"{usage} takes no argument")
        return command

    return read


def _host_spec(action: HostActionName) -> CommandSpec:
    usage, does = HOST_DOES[action]
    return CommandSpec(usage, does, HOST, lambda rest: _host(action, rest), usage, verbs=(action,))


MOTIF: Final = CommandSpec(
    "moon 0.8",
    "raise a motif, intensity 0..1 (0.7 if left out)",
    CONTRIBUTORS,
    lambda line: _motif(*_split(line), private=False),
    "moon 0.8",
)
COMMANDS: Final[tuple[CommandSpec, ...]] = (
    MOTIF,
    CommandSpec(
        "/private moon", "raise a motif only the dream's rules see", CONTRIBUTORS, _private,
        "/private moon 0.3", verbs=("private",),
    ),
    CommandSpec(
        "/w words", "whisper to everyone here", CONTRIBUTORS, _whisper, "/w the river hums",
        verbs=("w", "whisper"),
    ),
    CommandSpec(
        "/feel calm", "the emotion your next motifs carry, or '/feel 0.4 0.2'",
        CONTRIBUTORS, lambda rest: SetFeeling(_feeling(rest)), "/feel calm", verbs=("feel", "f"),
    ),
    CommandSpec(
        "/share 0.5 [stage]", "share that much of your dream; 'stage': your stage too",
        CONTRIBUTORS, _share, "/share 0.5 stage", verbs=("share",),
    ),
    CommandSpec(
        "/stage on|off", "show your sleep stage to the others, or hide it", CONTRIBUTORS, _stage,
        "/stage on", verbs=("stage",),
    ),
    CommandSpec(
        "/pair CODE", "claim the pod or fabric that shows this code", CONTRIBUTORS, _pair,
        "/pair K7QM-XHD2-PQ", verbs=("pair",),
    ),
    *(_host_spec(action) for action in get_args(HostActionName)),
    CommandSpec(
        "/invite watcher 12", "invite a role, valid 12 hours (24 if left out)",
        HOST, _invite, "/invite watcher 12", verbs=("invite",),
    ),
    CommandSpec(
        "/me", "who you are, and the resume token to your own night", EVERYONE,
        _bare(ShowMe(), "/me"), "/me", verbs=("me", "whoami"),
    ),
    CommandSpec(
        "/help", "these commands", EVERYONE, _bare(ShowHelp(), "/help"), "/help",
        verbs=("help", "h", "?"),
    ),
    CommandSpec("/quit", "leave", EVERYONE, _bare(Quit(), "/quit"), "/quit", verbs=("quit", "q")),
)  # fmt: skip
_BY_VERB: Final[dict[str, CommandSpec]] = {verb: spec for spec in COMMANDS for verb in spec.verbs}


def commands_for(role: Role) -> tuple[CommandSpec, ...]:
    """The commands ``role`` has, in the order the help lists them."""
    return tuple(spec for spec in COMMANDS if role in spec.roles)


def has_command(role: Role, verb: str) -> bool:
    """Whether ``role`` has the command typed ``/verb`` (a motif for an empty ``verb``)."""
    spec = MOTIF if not verb else _BY_VERB.get(verb.lower())
    return spec is not None and role in spec.roles


def help_lines(role: Role) -> list[str]:
    """``/help``: every command ``role`` has, one line each with what it does."""
    specs = commands_for(role)
    width = max(len(spec.usage) for spec in specs)
    return [f"{spec.usage:<{width}}  {spec.does}" for spec in specs]


def hint(role: Role) -> str:
    """One line that shows a few of ``role``'s commands and where the rest are."""
    usages = [f"'{spec.usage}'" for spec in commands_for(role) if spec.verbs[:1] != ("help",)]
    return "/help (F1) lists them all: " + "  ".join(usages)


def parse(line: str, role: Role) -> Command | None:
    """What ``line`` asks for; ``None`` for a blank line; ``CommandError`` for nonsense, or
    for a command ``role`` does not have."""
    line = line.strip()
    if not line:
        return None
    word, _, rest = line.partition(" ")
    if not word.startswith("/"):
        spec, rest = MOTIF, line
    else:
        found = _BY_VERB.get(word[1:].lower())
        if found is None:
            raise CommandError(f"unknown command {word}; try /help")
        spec = found
    if role not in spec.roles:
        raise CommandError(_not_yours(spec, role))
    return spec.read(rest.strip())


def _not_yours(spec: CommandSpec, role: Role) -> str:
    if spec.roles == HOST:
        return f"{spec.usage.split()[0]}: only the host may do that; /help lists yours"
    return f"'{spec.usage}' is not for a {role}: /help lists what you can do"


def _split(line: str) -> tuple[str, str]:
    word, _, rest = line.partition(" ")
    return word, rest.strip()
