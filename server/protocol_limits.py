"""The table of limits in docs/protocol.md, made from the server settings' own defaults.

Each number of the table is a ``ServerSettings`` default, so the settings stay its one owner:
``python -m dreamcommons.server.protocol_limits docs/protocol.md`` rewrites the block between
the markers, and a test fails when the committed block differs from what this makes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dreamcommons.contracts.protocol import MAX_WHISPER_CHARS
from dreamcommons.server.limits import BUDGETS
from dreamcommons.server.settings import ServerSettings

BEGIN: Final = (
    "<!-- limits: made by `python -m dreamcommons.server.protocol_limits docs/protocol.md` "
    "from the settings' defaults; do not edit by hand -->"
)
END: Final = "<!-- end of limits -->"
_PREFIX: Final = ServerSettings.model_config.get("env_prefix", "")


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of a limit, and the unit its default is shown in."""

    name: str
    unit: str = ""  # "s", "/s", "bytes", or nothing for a count


@dataclass(frozen=True, slots=True)
class Limit:
    """One row: what is limited, by which settings, and what a client meets past it."""

    what: str
    settings: tuple[Setting, ...]
    answer: str


def _budget(kind: str) -> Limit:
    rate, burst = BUDGETS[kind]
    return Limit(
        f"`{kind}` messages, per connection",
        (Setting(rate, "/s"), Setting(burst)),
        "`rate_limited`, with the wait",
    )


LIMITS: Final[tuple[Limit, ...]] = (
    Limit(
        "frame size (bytes of a binary frame, characters of a text frame)",
        (Setting("max_frame_bytes", "bytes"),),
        "`frame_too_large`; a frame over 4 times the limit closes the connection (1009)",
    ),
    Limit(
        "mistakes: refused frames per connection within the window, the server's faults aside",
        (Setting("max_errors"), Setting("error_window_s", "s")),
        "the last one is answered, then close 4000 `TOO_MANY_ERRORS`",
    ),
    Limit(
        "`contribute` and `whisper` together, per participant (a resume does not refill it)",
        (Setting("contributions_per_s", "/s"), Setting("contribution_burst")),
        "`rate_limited`, with the wait",
    ),
    *(_budget(kind) for kind in BUDGETS if kind not in ("contribute", "whisper")),
    Limit(
        f"whisper length, in characters (the protocol's own bound is {MAX_WHISPER_CHARS}; "
        "the welcome's `whisper_max` says this one)",
        (Setting("max_whisper_chars"),),
        "`whisper_too_long`",
    ),
    Limit(
        "open connections per IP address",
        (Setting("max_connections_per_address"),),
        "error frame `too_many_connections`, then close 4005",
    ),
    Limit(
        "pages of other origins (browsers' `Origin` header; none: only the server's own; "
        "`*` allows any)",
        (Setting("allowed_origins"),),
        "HTTP 403 `bad_origin`, before the upgrade",
    ),
    Limit(
        "new members per IP address (a resume makes none)",
        (Setting("new_members_per_s", "/s"), Setting("new_member_burst")),
        "`rate_limited`, with the wait",
    ),
    Limit(
        "members a session lists, present and away",
        (Setting("max_members"),),
        "the longest away is hidden to make room; `session_full` when all are present",
    ),
    Limit(
        "away members listed, and for how long",
        (Setting("max_away_shown"), Setting("away_shown_s", "s")),
        "the longest away is hidden (a `left` in the next delta); still resumable",
    ),
    Limit(
        "members kept for resuming, and for how long after they left",
        (Setting("max_resumable"), Setting("resume_window_s", "s")),
        "forgotten: their token gets `bad_resume_token`",
    ),
    Limit(
        "wrong credentials per IP address (codes, keys, invitations, resume tokens, pairing codes)",
        (
            Setting("guess_free_failures"),
            Setting("guess_lockout_s", "s"),
            Setting("guess_max_lockout_s", "s"),
            Setting("guess_forget_s", "s"),
        ),
        "free ones, then a lockout that doubles: `rate_limited`, with the wait",
    ),
    Limit(
        "wrong credentials per session, from everyone",
        (Setting("session_guesses_per_s", "/s"), Setting("session_guess_burst")),
        "`rate_limited` for addresses without a right credential for it",
    ),
    Limit(
        "unsent bytes of a connection that does not read, and how long it may stay behind",
        (
            Setting("slow_client_bytes", "bytes"),
            Setting("slow_client_grace_s", "s"),
            Setting("socket_send_bytes", "bytes"),
        ),
        "it misses deltas, then gets a `snapshot`; close 4006 past the grace",
    ),
    Limit(
        "deltas a session keeps, per encoding, for a client that comes back with `since`",
        (Setting("recent_deltas_s", "s"),),
        "the oldest are evicted; a client holding a state older than them gets the full state",
    ),
    Limit(
        "how long a device has to acknowledge a command",
        (Setting("device_command_wait_s", "s"),),
        "`command_result` with `ok: false` and the `error`",
    ),
)


def default_of(name: str) -> object:
    field = ServerSettings.model_fields[name]
    return field.get_default(call_default_factory=True)


def _shown(setting: Setting) -> str:
    value = default_of(setting.name)
    if isinstance(value, tuple | list):
        number = ", ".join(f"`{item}`" for item in value) or "none"
    elif isinstance(value, float):
        number = f"{value:g}"
    else:
        number = str(value)
    unit = {"s": " s", "/s": " a second", "bytes": " bytes"}.get(setting.unit, "")
    env = f"{_PREFIX}{setting.name}".upper()
    return f"`{setting.name}` = {number}{unit} (`{env}`)"


def limits_table() -> str:
    """The block between the markers, markers included."""
    rows = [
        BEGIN,
        "",
        "| limit | settings, with their defaults (and environment variables) | past it |",
        "| --- | --- | --- |",
    ]
    for limit in LIMITS:
        settings = "<br>".join(_shown(setting) for setting in limit.settings)
        rows.append(f"| {limit.what} | {settings} | {limit.answer} |")
    return "\n".join([*rows, "", END])


def with_limits(document: str) -> str:
    """``document`` with its limits block made anew; ``ValueError`` if it has no markers."""
    start = document.find(BEGIN)
    end = document.find(END, start)
    if start < 0 or end < 0:
        raise ValueError("no limits block: add the markers where the table goes")
    return document[:start] + limits_table() + document[end + len(END) :]


def main(argv: Sequence[str] = sys.argv[1:]) -> None:
    path = Path(argv[0] if argv else "docs/protocol.md")
    path.write_text(with_limits(path.read_text()))
    print(path)


if __name__ == "__main__":
    main()
