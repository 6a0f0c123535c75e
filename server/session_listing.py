"""``/sessions.json``: the sessions a server is hosting, as the join page offers them.

Each session says its id, its venue (name and title), how many are here and whether it is
open to anyone; never who is there, nor anything that lets someone in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NotRequired, TypedDict

from dreamcommons.server.session import DreamSession


class ListedSession(TypedDict):
    id: str
    venue: str
    title: str
    people: int
    open: bool
    duration_s: NotRequired[float]  # a served replay's: session time of its last tick
    speed: NotRequired[float]  # a served replay's: the pace a viewer starts at (0: flat out)


class SessionListing(TypedDict):
    replay: bool
    sessions: list[ListedSession]


def session_listing(
    sessions: Iterable[DreamSession], is_open: Callable[[str], bool]
) -> SessionListing:
    """The live sessions, most people first, then by id."""
    listed = [
        ListedSession(
            id=session.id,
            venue=session.venue.name,
            title=session.venue.title,
            people=session.present_count(),
            open=is_open(session.id),
        )
        for session in sessions
    ]
    listed.sort(key=lambda s: (-s["people"], s["id"]))
    return SessionListing(replay=False, sessions=listed)
