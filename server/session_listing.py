"""``/sessions.json``: the sessions a server is hosting, as the join page offers them.

Each session says its id, its venue (name and title), how many are here and whether it is
open to anyone; never who is there, nor anything that lets someone in. A cluster's process
lists every session the cluster knows (its leases), each with its owner's id; ``people``
there counts the connections through this process, the only ones it knows of.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NotRequired, TypedDict

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.session import DreamSession


class ListedSession(TypedDict):
    id: str
    venue: str
    title: str
    people: int
    open: bool
    duration_s: NotRequired[float]  # a served replay's: session time of its last tick
    speed: NotRequired[float]  # a served replay's: the pace a viewer starts at (0: flat out)
    owner: NotRequired[str]  # in a cluster: the id of the process that owns it


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


def cluster_listing(
    owners: dict[str, str],
    venue_of: Callable[[str], VenuePreset],
    people_here: Callable[[str], int],
    is_open: Callable[[str], bool],
) -> SessionListing:
    """The sessions a cluster's leases name (session id -> owner), most people here first."""
    listed = []
    for session_id, owner in owners.items():
        venue = venue_of(session_id)
        listed.append(
            ListedSession(
                id=session_id,
                venue=venue.name,
                title=venue.title,
                people=people_here(session_id),
                open=is_open(session_id),
                owner=owner,
            )
        )
    listed.sort(key=lambda s: (-s["people"], s["id"]))
    return SessionListing(replay=False, sessions=listed)
