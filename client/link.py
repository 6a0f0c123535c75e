"""What a reconnecting ``DreamClient`` tells its owner about its connection, and when it stops.

``DreamClient(..., reconnect=True, on_link=callback)`` calls ``callback`` with one of these each
time its connection changes: ``Joined`` (joined or resumed), ``Lost`` (the connection dropped),
``Retrying`` (the next attempt and how long until it), ``Forgotten`` (the server no longer knows
the resume token: the next attempt joins fresh). ``FINAL_CLOSES`` are the close codes after which
coming back would undo what the server meant; the client stops there, and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from dreamcommons.contracts.errors import CloseCode

FINAL_CLOSES: Final[dict[int, str]] = {
    CloseCode.REMOVED: "removed from the session by the host",
    CloseCode.REPLACED: "this participant resumed from another connection",
    CloseCode.SESSION_CLOSED: "the session was closed",
}


@dataclass(frozen=True, slots=True)
class Joined:
    """Joined the session; ``resumed`` when as the same participant as before (resume token)."""

    session: str
    participant: str
    resumed: bool


@dataclass(frozen=True, slots=True)
class Lost:
    """The connection dropped; the client tries again."""


@dataclass(frozen=True, slots=True)
class Retrying:
    """Attempt ``attempt`` (1-based) comes in ``delay`` seconds; ``problem``: what went wrong."""

    attempt: int
    delay: float
    problem: str


@dataclass(frozen=True, slots=True)
class Forgotten:
    """The server no longer knows this participant's resume token: the client joins fresh."""


LinkEvent = Joined | Lost | Retrying | Forgotten
LinkHandler = Callable[[LinkEvent], None]
