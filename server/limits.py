"""The server's limits on what one peer may cost it, and the count of what they refused.

Contributions per second per participant and new members per address (a token bucket each),
connections per address, whisper length, and the Origin of browser connections. Pure
bookkeeping: the gateway asks, and each refusal is a ``LimitExceeded`` whose code travels in
the error frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded
from dreamcommons.server.settings import ServerSettings
from dreamcommons.server.token_bucket import TokenBucket

# The limits' defaults are the server settings' own, written once there.
_DEFAULTS = ServerSettings.model_construct()
_MAX_ADDRESS_BUCKETS = 4096  # past this many addresses, the refilled buckets are dropped


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """The limits' part of ``ServerSettings``, with the same defaults."""

    contributions_per_s: float = _DEFAULTS.contributions_per_s
    contribution_burst: int = _DEFAULTS.contribution_burst
    max_connections_per_address: int = _DEFAULTS.max_connections_per_address
    max_whisper_chars: int = _DEFAULTS.max_whisper_chars
    allowed_origins: tuple[str, ...] = _DEFAULTS.allowed_origins  # "*" allows any
    new_members_per_s: float = _DEFAULTS.new_members_per_s
    new_member_burst: int = _DEFAULTS.new_member_burst


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str]) -> bool:
    """Whether a handshake's ``Origin`` may connect: none at all (not a browser), the page's
    own origin (same host and port as the ``Host`` header), or one of ``allowed``."""
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and host is not None
        and parts.netloc.lower() == host.strip().lower()
    )


@dataclass(slots=True)
class Limits:
    """Every limit of one server, its token buckets and open connections, and its refusals."""

    settings: LimitSettings = field(default_factory=LimitSettings)
    refused: Counter[str] = field(default_factory=Counter)
    _buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    _connections: Counter[str] = field(default_factory=Counter)
    _new_members: dict[str, TokenBucket] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Limits:
        limits = {f.name: getattr(settings, f.name) for f in fields(LimitSettings)}
        return cls(LimitSettings(**limits))

    def check_origin(self, origin: str | None, host: str | None) -> None:
        if not origin_allowed(origin, host, self.settings.allowed_origins):
            self._refuse(ErrorCode.BAD_ORIGIN, f"pages from {origin} may not connect here")

    def open_connection(self, address: str) -> None:
        """Count one more connection from ``address``, or refuse it over the limit."""
        limit = self.settings.max_connections_per_address
        if self._connections[address] >= limit:
            self._refuse(
                ErrorCode.TOO_MANY_CONNECTIONS,
                f"already {limit} connections from your address; close one first",
            )
        self._connections[address] += 1

    def close_connection(self, address: str) -> None:
        self._connections[address] -= 1
        if self._connections[address] <= 0:
            del self._connections[address]

    def connections(self, address: str) -> int:
        return self._connections[address]

    def check_new_member(self, address: str, now: float) -> None:
        """Refuse a join that would create one more member from ``address`` over its rate
        (a resume creates none); an accepted one spends a token of the address's bucket."""
        bucket = self._new_members.get(address)
        if bucket is None:
            if len(self._new_members) >= _MAX_ADDRESS_BUCKETS:
                self._forget_refilled(self._new_members, now)
            bucket = self._new_members[address] = TokenBucket(
                self.settings.new_members_per_s, self.settings.new_member_burst
            )
        if not bucket.allow(now):
            self._refuse(
                ErrorCode.RATE_LIMITED,
                f"too many new members from your address; try again in {bucket.wait_s():.1f} s",
            )

    @staticmethod
    def _forget_refilled(buckets: dict[str, TokenBucket], now: float) -> None:
        """Drop the buckets that have refilled: a fresh one is the same, and costs nothing."""
        for key in [k for k, b in buckets.items() if b.full_at(now)]:
            del buckets[key]

    def check_contribution(
        self, session: str, participant: str, now: float, *, ref: int, whisper: str | None = None
    ) -> None:
        """Refuse a whisper over the length limit, or a contribution over the participant's
        rate; an accepted one spends a token of their bucket."""
        limit = self.settings.max_whisper_chars
        if whisper is not None and len(whisper) > limit:
            self._refuse(
                ErrorCode.WHISPER_TOO_LONG,
                f"a whisper of {len(whisper)} characters; the limit is {limit}",
                ref=ref,
            )
        key = (session, participant)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                self.settings.contributions_per_s, self.settings.contribution_burst
            )
        if not bucket.allow(now):
            self._refuse(
                ErrorCode.RATE_LIMITED,
                f"more than {self.settings.contributions_per_s:g} contributions a second; "
                f"try again in {bucket.wait_s():.1f} s",
                ref=ref,
            )

    def _refuse(self, code: ErrorCode, message: str, *, ref: int | None = None) -> None:
        self.refused[code.value] += 1
        raise LimitExceeded(code, message, ref=ref)
