"""Who a room's frames list, and how many are in it.

A room of up to ``list_everyone_up_to`` listed participants (the venue's) lists everyone, as
it always has. A larger one lists only the few who matter to the scene — its hosts, then the
sleepers who show their stage, at most ``list_everyone_up_to`` of them — and tells everyone
else as counts, so that seating one more person costs the others a count, not a row. The whole
list is there a page at a time (``DreamEngine.people_page``).

Both rules read only the participants' views, which hold nothing a participant did not agree
to show: a hidden stage cannot put someone on the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from dreamcommons.contracts.protocol import ParticipantView, PeopleCount


def listed_in_frames(views: Mapping[str, ParticipantView], list_max: int) -> set[str]:
    """The ids that states and deltas list: everyone in a room of up to ``list_max``, else
    the hosts, then the sleepers showing a stage, in id order, ``list_max`` at most."""
    if len(views) <= list_max:
        return set(views)
    hosts = sorted(pid for pid, view in views.items() if view.role == "host")
    staged = sorted(
        pid for pid, view in views.items() if view.stage is not None and view.role != "host"
    )
    return set((hosts + staged)[:list_max])


def count_people(views: Mapping[str, ParticipantView]) -> PeopleCount:
    """How many are listed: here (connected), away, and of each role here."""
    here = sum(1 for view in views.values() if view.present)
    roles = Counter(view.role for view in views.values() if view.present)
    return PeopleCount(here=here, away=len(views) - here, roles=dict(sorted(roles.items())))
