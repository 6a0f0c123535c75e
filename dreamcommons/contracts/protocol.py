"""The client<->server wire protocol: every message is a pydantic model in one union per direction.

The same models travel in two encodings, chosen by WebSocket subprotocol:
``dreamcommons.v2.msgpack`` (binary frames, Python peers) and ``dreamcommons.v2.json``
(text frames, browsers); docs/protocol.md is the reference. ``decode_client`` and
``decode_server`` turn a frame into a model or raise a ``ProtocolError`` whose code says
what was wrong; ``encode`` does the reverse.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from enum import StrEnum
from itertools import accumulate
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgpack
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_serializer,
)

from dreamcommons.contracts.errors import (
    ErrorCode,
    InvalidField,
    MalformedFrame,
    ProtocolError,
    UnknownMessageType,
)
from dreamcommons.contracts.pairing import PairingCode

PROTOCOL_VERSION = 2
MAX_WHISPER_CHARS = 1000  # the server's own limit (settings) is this or lower
MAX_PEOPLE_PAGE = 200  # participants in one page of the list (a ``people`` request)


class Encoding(StrEnum):
    """The WebSocket subprotocols; each names one encoding of the same models."""

    MSGPACK = "dreamcommons.v2.msgpack"
    JSON = "dreamcommons.v2.json"


SESSION_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
SessionId = Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
# Characters that show as nothing but are letters or symbols to Unicode: shown as a space.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs"})  # controls, format (zero-width, bidi), private
_NOTHING_VISIBLE = "a name needs something visible: a letter, a digit or a symbol"


def normalise_name(value: object) -> object:
    """A display name as everyone sees it: NFKC, without controls, format characters (zero
    widths, bidi overrides) or private-use ones, blanks as spaces, whitespace collapsed;
    ``ValueError`` when nothing visible is left (a letter, digit, punctuation or symbol)."""
    if not isinstance(value, str):
        return value  # the str validation after this says what is wrong
    if value.isascii() and value.isprintable():  # most names: NFKC and the filters keep them
        name = " ".join(value.split())
        if not name:
            raise ValueError(_NOTHING_VISIBLE)
        return name
    return normalise_unicode_name(value)


def normalise_unicode_name(value: str) -> str:
    """``normalise_name`` for any text: what it does at length for a name not plain ASCII."""
    kept = []
    for char in unicodedata.normalize("NFKC", value):
        if char.isspace() or char in _BLANKS:
            kept.append(" ")
        elif unicodedata.category(char) not in _HIDDEN:
            kept.append(char)
    name = " ".join("".join(kept).split())
    if not any(unicodedata.category(char)[0] in "LNPS" for char in name):
        raise ValueError(_NOTHING_VISIBLE)
    return name


DisplayName = Annotated[
    str, BeforeValidator(normalise_name), StringConstraints(min_length=1, max_length=32)
]
MotifName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-f]{6}$")]
WhisperText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WHISPER_CHARS)
]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Signed = Annotated[float, Field(ge=-1.0, le=1.0)]
ContributionId = Annotated[int, Field(ge=0, le=2**53)]
# names one history of a session's seq numbers (drawn afresh whenever a session starts)
Epoch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Role = Literal["dreamer", "waker", "watcher", "host"]
SleepStage = Literal["awake", "light", "deep", "rem"]
PhaseName = Literal["gathering", "descent", "dream", "awakening", "ended"]
HostActionName = Literal["start", "pause", "resume", "advance", "end", "harmonize", "remove"]


class _Model(BaseModel):
    """What a client sends: the server takes exactly these fields and refuses any other."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _ServerModel(BaseModel):
    """What the server sends: a client ignores fields it does not know, so a newer server's
    additions (a new field in the welcome, say) never break an older client."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- client -> server -----------------------------------------------------------------------


class Since(_Model):
    """What a reconnecting client holds: the state of ``seq`` in the history ``epoch``."""

    epoch: Epoch
    seq: int = Field(ge=0, le=2**53)


class Join(_Model):
    """First message of a connection: who joins which session, or resumes with a token."""

    type: Literal["join"] = "join"
    v: int = PROTOCOL_VERSION
    session: SessionId
    name: DisplayName
    role: Role = "dreamer"
    resume: str | None = Field(default=None, max_length=128)
    key: str | None = Field(default=None, max_length=128, description="the host secret, as host")
    code: str | None = Field(default=None, max_length=32, description="the session's join code")
    token: str | None = Field(default=None, max_length=512, description="an invitation")
    since: Since | None = Field(
        default=None,
        description="the state held, to resume by sequence (with a resume token, or as watcher)",
    )


class Contribute(_Model):
    """Raise a motif in the shared dreamscape; merged at the next tick."""

    type: Literal["contribute"] = "contribute"
    cid: ContributionId
    motif: MotifName
    intensity: Unit = 0.6
    valence: Signed = 0.0
    arousal: Unit = 0.5
    private: bool = False  # kept by the engine, never shown to anyone


class Whisper(_Model):
    """A short text that joins the dreamscape's recent whispers."""

    type: Literal["whisper"] = "whisper"
    cid: ContributionId
    text: WhisperText


class Resync(_Model):
    """Ask for a full snapshot, after a gap in the delta sequence."""

    type: Literal["resync"] = "resync"


class Pair(_Model):
    """Claim the device that shows this one-time pairing code."""

    type: Literal["pair"] = "pair"
    cid: ContributionId
    code: PairingCode  # typed in any case, with or without dashes and spaces


class Command(_Model):
    """Ask one of your devices to act: light, sound, warmth, pressure (0..1) or pace (Hz)."""

    type: Literal["command"] = "command"
    cid: ContributionId
    device: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,47}$")]
    action: Literal["light", "sound", "pace", "warmth", "pressure"]
    value: Annotated[float, Field(ge=0.0, le=1.0)] | None = None


class Share(_Model):
    """How much of your dream the others see: 0 (nothing) .. 1 (all). Applies at once, also to
    what you contributed before."""

    type: Literal["share"] = "share"
    cid: ContributionId
    level: Unit | None = None  # None: unchanged
    show_stage: bool | None = None  # let others see your sleep stage; None: unchanged (no)


class HostAction(_Model):
    """The host steers the session: phases, harmonizing, removing a participant."""

    type: Literal["host"] = "host"
    cid: ContributionId
    action: HostActionName
    participant: str | None = Field(default=None, max_length=32, description="for remove")


class Invite(_Model):
    """As host: a signed invitation to this session for one role, valid for ``ttl_s``."""

    type: Literal["invite"] = "invite"
    cid: ContributionId
    role: Literal["dreamer", "waker", "watcher"] = "dreamer"
    ttl_s: Annotated[float, Field(gt=0.0, le=30 * 86_400)] = 86_400.0


class Ping(_Model):
    type: Literal["ping"] = "ping"
    n: int = 0


class People(_Model):
    """A page of everyone the session lists, in id order (a large room's frames list only
    the few who matter); answered at once with a ``people`` page."""

    type: Literal["people"] = "people"
    cid: ContributionId
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=MAX_PEOPLE_PAGE)] = MAX_PEOPLE_PAGE


MAX_PLAYBACK_SPEED = 1000.0  # times real time, on a served replay


class Playback(_Model):
    """On a served replay only: where in the recorded night this connection is and how fast
    its time runs; answered with a ``snapshot`` of that moment, the deltas from there follow."""

    type: Literal["playback"] = "playback"
    at: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None  # None: where it is
    speed: Annotated[float, Field(ge=0.0, le=MAX_PLAYBACK_SPEED)] | None = None  # 0: paused


AnyClientMessage = (
    Join
    | Contribute
    | Whisper
    | Resync
    | Pair
    | Command
    | Share
    | HostAction
    | Invite
    | Ping
    | People
    | Playback
)
ClientMessage = Annotated[AnyClientMessage, Field(discriminator="type")]


# --- the dreamscape as clients see it -------------------------------------------------------


class MotifUpdate(_ServerModel):
    """What changed of one motif, in a delta: the fields that differ from the view the client
    holds (all of them for a motif it does not hold yet), as of the delta's ``t``, which
    becomes the view's ``t``. See ``MotifView`` for each field."""

    name: MotifName
    colour: Colour | None = None
    weight: float | None = Field(default=None, ge=0.0)
    intensity: Unit | None = None
    valence: Signed | None = None
    arousal: Unit | None = None
    x: Unit | None = None
    y: Unit | None = None
    phase: Unit | None = None


class MotifView(MotifUpdate):
    """One motif as the scene shows it, with what a client needs to draw it at any moment:
    its ``weight`` at session time ``t`` (it halves every ``DreamscapeState.half_life_s``
    after that) and its orbit: around the centre (``x``, ``y``), at ``ORBIT_RADIUS``, one
    turn every ``ORBIT_PERIOD_S``, starting ``phase`` of a turn in at time 0
    (``dreamcommons.contracts.motion`` computes both). Sent again only when one of these
    parameters changes."""

    colour: Colour
    weight: float = Field(ge=0.0)
    intensity: Unit
    valence: Signed
    arousal: Unit
    x: Unit
    y: Unit
    phase: Unit
    t: float  # the session time the view is of (in a delta: the delta's own ``t``)


class Mood(_ServerModel):
    valence: Signed = 0.0
    arousal: Unit = 0.0


class _Tagged(_ServerModel):
    """A view that names a participant, with their tag only when they have one: a room
    without two members of the same name is sent exactly as before tags existed."""

    tag: int | None = None
    # fields left out when None, as ``tag`` is: ones added since, which older frames lack
    _omitted_when_none: ClassVar[tuple[str, ...]] = ("tag",)

    @model_serializer(mode="wrap")
    def _untagged_without_tag(self, handler: SerializerFunctionWrapHandler) -> Any:
        plain = handler(self)
        if isinstance(plain, dict):
            for key in self._omitted_when_none:
                if plain.get(key, 0) is None:
                    del plain[key]
        return plain


class WhisperView(_Tagged):
    participant: str
    name: str
    text: str
    t: float


class BreathView(_ServerModel):
    """A sleeper's breathing as a client draws it at any moment: ``phase`` (radians, 0 to
    2π: 0 is the start of a breath in) at session time ``t``, advancing at ``hz`` breaths a
    second (``dreamcommons.contracts.breathing`` computes it). Sent again only when what a
    client extrapolates from the view it holds strays from the sleeper's rhythm."""

    phase: float = Field(ge=0.0, le=6.2832)
    hz: float = Field(gt=0.0)
    t: float


class ParticipantView(_Tagged):
    id: str
    name: str
    role: Role
    present: bool = True
    devices: int = 0
    stage: SleepStage | None = None  # only for a sleeper who chose to show it
    breath: BreathView | None = None  # by the same consent as ``stage``, and only with it
    _omitted_when_none: ClassVar[tuple[str, ...]] = ("tag", "breath")
    # ``tag`` (from _Tagged): set when another member had the same name (case-folded) as
    # this one joined; shown with it ("Lyra #2"), so that nobody can pass for someone else


class PeopleCount(_ServerModel):
    """How many a session lists: connected now, away for a while, and of each role, here."""

    here: int = Field(default=0, ge=0)
    away: int = Field(default=0, ge=0)
    roles: dict[Role, int] = Field(default_factory=dict)


_MAX_ID_NUMBER = 2**53


def _id_number(pid: str) -> int | None:
    """The number of an id the server gave (``p`` and the number in lowercase hex, without
    leading zeros, at most 2^53); None for any other id."""
    if not pid.startswith("p") or not 1 < len(pid) < 16:
        return None
    try:
        number = int(pid[1:], 16)
    except ValueError:
        return None
    # the id must be the number's own spelling: not "p01", "pA", "p0x1", "p1_0"
    return number if number <= _MAX_ID_NUMBER and f"p{number:x}" == pid else None


def id_steps(ids: Iterable[str]) -> list[int | str]:
    """A list of participant ids as a frame carries it (a region's): the ids the server gave
    first, by number, each as the step from the number before (the first from 0), then any
    other id as itself; a thousand sleepers cost a byte each instead of five."""
    numbers: list[int] = []
    steps: list[int | str] = []
    for pid in ids:
        number = _id_number(pid)
        if number is None:
            steps.append(pid)
        else:
            numbers.append(number)
    numbers.sort()
    return [b - a for a, b in zip([0, *numbers], numbers, strict=False)] + steps


def ids_of(steps: object) -> tuple[str, ...]:
    """The ids of a frame's list (``id_steps``; plain ids read as themselves), the numbered
    ones in order of their numbers, then the others; ``ValueError`` saying what is wrong."""
    if not isinstance(steps, list | tuple):
        raise ValueError("a list of participant ids: steps between their numbers, or ids")
    numbers: list[int] = []
    others: list[str] = []
    number = 0
    for step in steps:
        if isinstance(step, str):
            known = _id_number(step)
            if known is None:
                others.append(step)
            else:
                numbers.append(known)
        elif _plain_int(step) and 0 <= step <= _MAX_ID_NUMBER - number:
            number += step
            numbers.append(number)
        else:
            raise ValueError("each item is a step (an integer >= 0) or a participant id")
    return (*(f"p{number:x}" for number in sorted(numbers)), *others)


ParticipantIds = Annotated[
    tuple[str, ...],
    BeforeValidator(ids_of),
    PlainSerializer(id_steps, when_used="json"),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
            "description": "participant ids: an integer is the step from the number of the "
            "numbered id before it (from 0 for the first), the id being p and that number in "
            "hexadecimal; a string is an id itself",
        }
    ),
]


class RegionView(_ServerModel):
    """One part of a fractured dreamscape: whose rhythm it holds and which motifs drift there.
    Its participants are in order of their ids (in a frame, as ``id_steps`` writes them)."""

    id: int
    x: Unit
    y: Unit
    participants: ParticipantIds
    motifs: tuple[str, ...]


class SceneView(_ServerModel):
    """The session's arc and the dream rules' state: phase, coherence, fracture, calm."""

    phase: PhaseName = "gathering"
    paused: bool = False
    # when the phase ends, in session time, while its clock runs; while paused, the seconds
    # left instead (``motion.phase_remaining`` gives either at any moment); None: no end
    phase_ends: float | None = None
    phase_remaining_s: float | None = None
    coherence: float | None = None  # None until enough sleepers have a breathing rhythm
    sleepers: int = 0
    fractured: bool = False
    regions: tuple[RegionView, ...] = ()
    calm: float = 0.0
    harmonizing: bool = False
    # The coherence the same sleepers would show over the same window by chance (a surrogate:
    # their phases shifted at random); None with the coherence.
    chance: float | None = None
    # How far above chance: (coherence - chance) / (1 - chance), 0 at chance, 1 in full step,
    # negative below chance; what the venue's fracture and healing margins are compared with.
    above_chance: float | None = None


def margin_above_chance(coherence: float, chance: float) -> float:
    """``SceneView.above_chance`` of a coherence and its chance baseline."""
    if chance >= 1.0:
        return 0.0
    return (coherence - chance) / (1.0 - chance)


def applied_pairs(applied: Mapping[str, int]) -> list[int | str]:
    """``applied`` as a delta's frame carries it: a flat list of pairs, key then cid. The
    ids the server gives (``p`` and a hex number) come first, by number, each key the
    step from the number before it (the first from 0), so that the 200 contributors of a
    tick in a room of 2,000 cost about two bytes each in msgpack; any other id follows,
    its key the id itself."""
    numbered: list[tuple[int, int]] = []
    named: list[int | str] = []
    for pid, cid in applied.items():
        number = _id_number(pid)
        if number is None:
            named += (pid, cid)
        else:
            numbered.append((number, cid))
    pairs: list[int | str] = []
    last = 0
    for number, cid in sorted(numbered):
        pairs += (number - last, cid)
        last = number
    return pairs + named


def applied_map(pairs: object) -> dict[str, int]:
    """The participant id -> cid map of a frame's ``applied`` pairs (``applied_pairs``);
    ``ValueError`` saying what is wrong with them."""
    numbered = _all_numbered(pairs)
    if numbered is None:
        return _applied_map_pair_by_pair(pairs)
    numbers, cids = numbered
    return dict(zip([f"p{number:x}" for number in numbers], cids, strict=True))


def applied_cid(pairs: object, participant: str) -> int | None:
    """``applied_map(pairs).get(participant)`` without making the map: what a client reads
    of each delta, its own highest merged cid (None if the tick merged nothing of it)."""
    numbered = _all_numbered(pairs)
    if numbered is None:
        return _applied_map_pair_by_pair(pairs).get(participant)
    numbers, cids = numbered
    number = _id_number(participant)
    if number is None:
        return None
    at = bisect_right(numbers, number) - 1  # the last pair of that number, as the map keeps
    return cids[at] if at >= 0 and numbers[at] == number else None


def _all_numbered(pairs: object) -> tuple[list[int], list[int]] | None:
    """(the id numbers, their cids) of pairs whose keys are all steps, the common case, read
    with the builtins' loops; None for any other list, valid or not, which is read pair by
    pair. A running sum of steps that are never negative never decreases."""
    if not isinstance(pairs, list) or len(pairs) % 2:
        return None
    steps, cids = pairs[::2], pairs[1::2]
    if not steps:
        return [], []
    if not {*map(type, steps), *map(type, cids)} <= {int}:
        return None  # a named key, a bool, a float: pair by pair
    if min(steps) < 0 or min(cids) < 0 or max(cids) > _MAX_ID_NUMBER:
        return None
    numbers = list(accumulate(steps))
    return (numbers, cids) if numbers[-1] <= _MAX_ID_NUMBER else None


def _applied_map_pair_by_pair(pairs: object) -> dict[str, int]:
    if not isinstance(pairs, list | tuple):
        raise ValueError("applied is a list of pairs: key, cid, key, cid...")
    if len(pairs) % 2:
        raise ValueError("applied has an odd number of items: it is pairs of key and cid")
    applied: dict[str, int] = {}
    number = 0
    for key, cid in zip(pairs[::2], pairs[1::2], strict=True):
        if not _plain_int(cid) or not 0 <= cid <= _MAX_ID_NUMBER:
            raise ValueError("each cid in applied is an integer from 0 to 2^53")
        if isinstance(key, str):
            applied[key] = cid
        elif _plain_int(key) and 0 <= key <= _MAX_ID_NUMBER - number:
            number += key
            applied[f"p{number:x}"] = cid
        else:
            raise ValueError("each key in applied is a step (an integer >= 0) or an id")
    return applied


def _applied_in(value: object) -> object:
    """A delta's ``applied``: a map as it is (a model built in Python), pairs as a map."""
    return value if isinstance(value, Mapping) else applied_map(value)


def _plain_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_APPLIED_SCHEMA = {
    "type": "array",
    "items": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
    "description": "pairs, flat: key, cid, key, cid... A key that is an integer is the step "
    "from the number of the pair before's numbered id (from 0 for the first): the id is p "
    "and that number in hexadecimal; a key that is a string is the id itself",
}
Applied = Annotated[
    dict[str, int],
    BeforeValidator(_applied_in),
    PlainSerializer(applied_pairs, when_used="json"),
    WithJsonSchema(_APPLIED_SCHEMA),
]


class Delta(_ServerModel):
    """What changed in one tick. ``applied`` maps participant id to the highest cid merged
    (in a frame, pairs as ``applied_pairs`` writes them). Only ``type``, ``seq`` and ``t``
    are always in its frame: a field with nothing in it (no motif changed, the mood did not
    change...) is left out."""

    type: Literal["delta"] = "delta"
    seq: int
    t: float
    motifs: tuple[MotifUpdate, ...] = ()
    removed: tuple[str, ...] = ()
    mood: Mood | None = None
    scene: SceneView | None = None
    whispers: tuple[WhisperView, ...] = ()
    participants: tuple[ParticipantView, ...] = ()
    left: tuple[str, ...] = ()
    people: PeopleCount | None = None  # None: the counts did not change
    applied: Applied = Field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.motifs
            or self.removed
            or self.mood is not None
            or self.scene is not None
            or self.whispers
            or self.participants
            or self.left
            or self.people is not None
            or self.applied
        )

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave out empty fields, and the fields a motif update does not carry (here, once
        per delta: a serializer per update would cost more than the rest of the encoding)."""
        plain = handler(self)
        if not isinstance(plain, dict):
            return plain
        kept = {k: v for k, v in plain.items() if k in _DELTA_ALWAYS or v not in _EMPTY}
        if "motifs" in kept:
            kept["motifs"] = [
                {key: value for key, value in motif.items() if value is not None}
                for motif in kept["motifs"]
            ]
        return kept


_DELTA_ALWAYS = frozenset({"type", "seq", "t"})
_EMPTY: tuple[object, ...] = (None, (), [], {})


class DreamscapeState(_ServerModel):
    """The whole shared dreamscape at one tick. Motifs sorted by name, participants by id."""

    session: str
    venue: str
    epoch: str = ""  # the history ``seq`` belongs to; a new one whenever the session starts
    seq: int = 0
    t: float = 0.0
    # a motif's weight halves every half_life_s seconds after its view's t (None: it keeps)
    half_life_s: float | None = Field(default=None, gt=0.0)
    motifs: tuple[MotifView, ...] = ()
    mood: Mood = Mood()
    scene: SceneView = SceneView()
    whispers: tuple[WhisperView, ...] = ()
    whisper_limit: int = 20
    participants: tuple[ParticipantView, ...] = ()  # in a large room, only those who matter
    people: PeopleCount = PeopleCount()

    def apply(self, delta: Delta) -> DreamscapeState:
        """The state after ``delta``; the engine guarantees ``prev.apply(delta) == next``."""
        motifs = {m.name: m for m in self.motifs}
        for name in delta.removed:
            motifs.pop(name, None)
        for update in delta.motifs:
            motifs[update.name] = _updated(motifs.get(update.name), update, delta.t)
        people = {p.id: p for p in self.participants}
        for pid in delta.left:
            people.pop(pid, None)
        people.update((p.id, p) for p in delta.participants)
        whispers = (self.whispers + delta.whispers)[-self.whisper_limit :]
        return self.model_copy(
            update={
                "seq": delta.seq,
                "t": delta.t,
                "motifs": tuple(motifs[k] for k in sorted(motifs)),
                "mood": delta.mood if delta.mood is not None else self.mood,
                "scene": delta.scene if delta.scene is not None else self.scene,
                "whispers": whispers if self.whisper_limit else (),
                "participants": tuple(people[k] for k in sorted(people)),
                "people": delta.people if delta.people is not None else self.people,
            }
        )


def _updated(held: MotifView | None, update: MotifUpdate, t: float) -> MotifView:
    """The view ``update`` of time ``t`` leaves: the fields it carries over the ones held."""
    changed = {key: value for key, value in update if value is not None and key != "t"}
    changed["t"] = t
    if held is None:
        return MotifView.model_validate(changed)  # a new motif arrives whole
    return held.model_copy(update=changed)


# --- server -> client -----------------------------------------------------------------------


class Welcome(_ServerModel):
    """Answer to a join: who you are, how to come back, and the full current dreamscape; or,
    resuming by sequence, no state and the seq it resumes from (the missed deltas follow)."""

    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    participant: str
    resume: str
    tick_hz: float
    state: DreamscapeState | None = None
    resumed_from: int | None = None  # with ``state`` null: the seq of the state the client holds
    join_code: str | None = None  # to the host only: the code that lets others in
    # the longest whisper this server accepts (its ``max_whisper_chars``; 0: none at all);
    # a welcome without it, from an older server, means the protocol's own bound
    whisper_max: int = Field(default=MAX_WHISPER_CHARS, ge=0, le=MAX_WHISPER_CHARS)


class Snapshot(_ServerModel):
    type: Literal["snapshot"] = "snapshot"
    state: DreamscapeState


class Ack(_ServerModel):
    """A contribution or whisper was accepted; it is merged at the next tick."""

    type: Literal["ack"] = "ack"
    cid: int


class ErrorFrame(_ServerModel):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref: int | None = None


class Paired(_ServerModel):
    type: Literal["paired"] = "paired"
    cid: int
    device: str
    kind: str
    model: str


class CommandResult(_ServerModel):
    type: Literal["command_result"] = "command_result"
    cid: int
    device: str
    action: str
    ok: bool
    error: str | None = None


class Invitation(_ServerModel):
    """Answer to an invite: the token, and when it stops working (Unix seconds)."""

    type: Literal["invitation"] = "invitation"
    cid: int
    token: str
    role: Role
    expires: int


class Pong(_ServerModel):
    type: Literal["pong"] = "pong"
    n: int = 0


class PeoplePage(_ServerModel):
    """The answer to ``people``: up to ``limit`` participants from ``offset``, as of the
    last tick, of ``total`` listed."""

    type: Literal["people"] = "people"
    cid: int
    offset: int
    total: int
    participants: tuple[ParticipantView, ...] = ()


class NoticeCode(StrEnum):
    """Stable codes of the server's notices. Never renamed once published."""

    JOURNAL_UNAVAILABLE = "journal_unavailable"  # contributions are refused until it writes
    JOURNAL_AVAILABLE = "journal_available"  # it writes again: contributions are acknowledged


class Notice(_ServerModel):
    """News about the server that answers no request, sent to every connected member.
    ``code`` is one of ``NoticeCode``, or one a newer server added (a client ignores those)."""

    type: Literal["notice"] = "notice"
    code: str
    message: str


AnyServerMessage = (
    Welcome
    | Snapshot
    | Delta
    | Ack
    | ErrorFrame
    | Paired
    | CommandResult
    | Invitation
    | Pong
    | Notice
    | PeoplePage
)
ServerMessage = Annotated[AnyServerMessage, Field(discriminator="type")]

_client_messages: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)
_server_messages: TypeAdapter[AnyServerMessage] = TypeAdapter(ServerMessage)


M = TypeVar("M")

# --- encoding -------------------------------------------------------------------------------


# A motif update in a msgpack delta is an array of these, in this order (nil for a field it
# does not carry, the nils at its end left out); in JSON, an object with these keys. What
# changes most comes first: most updates are a name and a weight.
MOTIF_UPDATE_FIELDS = ("name", "weight", "intensity", "valence", "arousal", "x", "y", "phase",
                       "colour")  # fmt: skip


def encode(message: BaseModel, encoding: Encoding) -> bytes | str:
    """One frame: bytes for msgpack (a binary frame), str for JSON (a text frame)."""
    if type(message) is Ack:  # one for every contribution: its cid after a fixed head
        if encoding is Encoding.MSGPACK:
            cid: bytes = msgpack.packb(message.cid)
            return _ACK_MSGPACK_HEAD + cid
        return f"{_ACK_JSON_HEAD}{message.cid}}}"
    return _encode_model(message, encoding)


def _encode_model(message: BaseModel, encoding: Encoding) -> bytes | str:
    """``encode``'s frame of any message, made from the model itself."""
    if encoding is Encoding.MSGPACK:
        # model_dump(mode="json") is this, after its keyword handling
        plain = message.__pydantic_serializer__.to_python(message, mode="json")
        if isinstance(message, Delta) and "motifs" in plain:
            plain["motifs"] = [_positional(update) for update in plain["motifs"]]
        packed: bytes = msgpack.packb(plain, use_bin_type=True)
        return packed
    return message.model_dump_json()


def _ack_heads() -> tuple[bytes, str]:
    """An ack's msgpack and JSON frames up to its cid, as the general path frames them."""
    probe = Ack(cid=0)
    packed, text = _encode_model(probe, Encoding.MSGPACK), _encode_model(probe, Encoding.JSON)
    assert isinstance(packed, bytes), "msgpack frames are bytes"
    assert isinstance(text, str), "JSON frames are text"
    assert packed.endswith(b"\x00"), "the cid is an ack's last field"
    assert text.endswith("0}"), "the cid is an ack's last field"
    return packed[:-1], text[:-2]


_ACK_MSGPACK_HEAD, _ACK_JSON_HEAD = _ack_heads()


def encode_with_state(message: BaseModel, state: bytes | str, encoding: Encoding) -> bytes | str:
    """``message`` (a welcome or a snapshot) as ``encode`` frames it, with ``state`` (a state
    that ``encode`` framed once, for many frames) as its ``state`` field: in a large room the
    state is nearly all of the cost of a welcome, and the same for every welcome until the
    next tick."""
    plain = message.model_dump(mode="json", exclude={"state"})
    plain["state"] = None  # the last field: the frame ends with its nil, where the state goes
    if encoding is Encoding.MSGPACK:
        assert isinstance(state, bytes), "a msgpack frame takes a msgpack state"
        packed: bytes = msgpack.packb(plain, use_bin_type=True)
        return packed.removesuffix(b"\xc0") + state
    assert isinstance(state, str), "a JSON frame takes a JSON state"
    return json.dumps(plain, separators=(",", ":")).removesuffix("null}") + state + "}"


def _positional(update: dict[str, Any]) -> list[Any]:
    """A motif update as a msgpack delta carries it: its values by ``MOTIF_UPDATE_FIELDS``."""
    row = [update.get(key) for key in MOTIF_UPDATE_FIELDS]
    while row[-1] is None:
        row.pop()  # the name is never None
    return row


def _keyed(raw: dict[Any, Any]) -> dict[Any, Any]:
    """A msgpack delta's motif updates as maps, for the model to validate (a map given
    instead of an array is taken as it is)."""
    updates = raw.get("motifs")
    if raw.get("type") != "delta" or not isinstance(updates, list):
        return raw
    keyed: list[object] = []
    for i, update in enumerate(updates):
        if isinstance(update, list):
            if len(update) > len(MOTIF_UPDATE_FIELDS):
                raise InvalidField(
                    f"motifs.{i}: a motif update has at most {len(MOTIF_UPDATE_FIELDS)} values "
                    f"({', '.join(MOTIF_UPDATE_FIELDS)})"
                )
            update = {
                k: v for k, v in zip(MOTIF_UPDATE_FIELDS, update, strict=False) if v is not None
            }
        keyed.append(update)
    return {**raw, "motifs": keyed}


def decode_client(frame: bytes | str, encoding: Encoding) -> AnyClientMessage:
    """A client frame as a ``ClientMessage`` model, or a ``ProtocolError`` that says why not."""
    return _decode(frame, encoding, _client_messages)


def decode_server(frame: bytes | str, encoding: Encoding) -> AnyServerMessage:
    """A server frame as a ``ServerMessage`` model, or a ``ProtocolError`` that says why not."""
    return _decode(frame, encoding, _server_messages)


def _decode(frame: bytes | str, encoding: Encoding, adapter: TypeAdapter[M]) -> M:
    raw = _unpack(frame, encoding)
    if not isinstance(raw, dict):
        raise MalformedFrame("a frame must be a map/object with a 'type' field")
    ref = raw.get("cid") if isinstance(raw.get("cid"), int) else None
    if encoding is Encoding.MSGPACK and adapter is _server_messages:
        raw = _keyed(raw)
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise _protocol_error(exc, ref) from None


def _unpack(frame: bytes | str, encoding: Encoding) -> Any:
    if encoding is Encoding.MSGPACK:
        if not isinstance(frame, bytes):
            raise MalformedFrame("this connection speaks msgpack: send binary frames")
        try:
            return msgpack.unpackb(frame, raw=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated types for bad input
            raise MalformedFrame(f"not valid msgpack: {type(exc).__name__}") from None
    if not isinstance(frame, str):
        raise MalformedFrame("this connection speaks JSON: send text frames")
    try:
        return json.loads(frame)
    except (ValueError, RecursionError) as exc:
        raise MalformedFrame(f"not valid JSON: {exc}") from None


def _protocol_error(exc: ValidationError, ref: int | None) -> ProtocolError:
    first = exc.errors(include_url=False)[0]
    kind = first["type"]
    if kind == "union_tag_invalid":
        ctx = first.get("ctx", {})
        return UnknownMessageType(
            f"unknown message type {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}",
            ref=ref,
        )
    if kind == "union_tag_not_found":
        return InvalidField("missing field 'type'", ref=ref)
    where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
    return InvalidField(f"{where}: {first['msg']}", ref=ref)


def error_frame(error: ProtocolError) -> ErrorFrame:
    return ErrorFrame(code=error.code, message=error.message, ref=error.ref)
