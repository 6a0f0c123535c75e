"""What ``dreamcommons host`` tells its operator about each session: who may join, and how."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.server.auth import Gatekeeper


def spaced_code(code: str) -> str:
    """``K7QMXHD2`` as ``K7QM-XHD2``, easier to read aloud (the dash is optional when typed)."""
    return f"{code[:4]}-{code[4:]}"


def session_banner(
    gatekeeper: Gatekeeper,
    address: str,
    sessions: Iterable[str],
    venue_of: Callable[[str], VenuePreset],
) -> str:
    """For each session: its venue, its join code and host secret (or that it is open), and
    the commands and links that use them. ``address`` is ``HOST:PORT``."""
    lines = []
    for session in sessions:
        code = gatekeeper.join_code(session)
        secret = gatekeeper.host_secret(session)
        access = "open to anyone" if gatekeeper.is_open(session) else "private"
        lines += [
            f"session {session} ({venue_of(session).title}, {access}):  "
            f"join code {spaced_code(code)}   host key {secret}",
            f"  join:     dreamcommons join ws://{address}/{session} --code {code} --name NAME",
            f"  browser:  http://{address}/s/{session}?code={code}",
            f"  host:     http://{address}/host/{session}#key={secret}",
        ]
    return "\n".join(lines)
