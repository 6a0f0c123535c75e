"""The server's limits on what one peer may cost it, and the count of what they refused.

A budget for every message type a client sends (``BUDGETS``: contributions per participant,
the others per connection, a token bucket each), new members per address, connections per
address, whisper length, and the Origin of browser connections. Pure bookkeeping: the gateway
asks, and each refusal is a ``LimitExceeded`` whose code travels in the error frame.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from urllib.parse import urlsplit

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded
from dreamcommons.server.settings import ServerSettings
from dreamcommons.server.token_bucket import TokenBucket

# The limits' defaults are the server settings' own, written once there.
_DEFAULTS = ServerSettings.model_construct()
_MAX_ADDRESS_BUCKETS = 4096  # past this many addresses, the refilled buckets are dropped

# Every message type a client sends after its join, and the two settings of its budget: so
# many a second after a burst of so many (a token bucket). Contributions and whispers share
# one bucket per participant (a reconnect does not refill it); the others have one per
# connection. A join is once per connection: a failed one is a mistake (``max_errors``).
BUDGETS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "contribute": ("contributions_per_s", "contribution_burst"),
        "whisper": ("contributions_per_s", "contribution_burst"),
        "share": ("shares_per_s", "share_burst"),
        "host": ("host_actions_per_s", "host_action_burst"),
        "invite": ("invites_per_s", "invite_burst"),
        "pair": ("pairings_per_s", "pairing_burst"),
        "command": ("commands_per_s", "command_burst"),
        "resync": ("resyncs_per_s", "resync_burst"),
        "ping": ("pings_per_s", "ping_burst"),
        "people": ("people_pages_per_s", "people_page_burst"),
    }
)


@dataclass(frozen=True, slots=True)
class Budget:
    """At most ``burst`` at once, then ``per_s`` a second."""

    per_s: float
    burst: int


def budgets_of(settings: object) -> dict[str, Budget]:
    """Each message type's budget as ``settings`` (a ``ServerSettings``) sets it."""
    return {
        kind: Budget(getattr(settings, rate), getattr(settings, burst))
        for kind, (rate, burst) in BUDGETS.items()
    }


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """The limits' part of ``ServerSettings``, with the same defaults."""

    contributions_per_s: float = _DEFAULTS.contributions_per_s
    contribution_burst: int = _DEFAULTS.contribution_burst
    # the other message types' budgets (contributions' above); a type not here is unmetered
    budgets: Mapping[str, Budget] = field(default_factory=lambda: budgets_of(_DEFAULTS))
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
        limits = {
            f.name: getattr(settings, f.name) for f in fields(LimitSettings) if f.name != "budgets"
        }
        return cls(LimitSettings(**limits, budgets=budgets_of(settings)))

    def connection_budgets(self) -> ConnectionBudgets:
        """The buckets of one new connection, refusing through these limits."""
        return ConnectionBudgets(self)

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


@dataclass(slots=True)
class ConnectionBudgets:
    """One connection's budgets: a token bucket per message type, made on first use."""

    limits: Limits
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def spend(self, kind: str, now: float, *, ref: int | None = None) -> None:
        """Spend one of ``kind``'s tokens, or refuse it with ``rate_limited`` and the wait."""
        budget = self.limits.settings.budgets.get(kind)
        if budget is None:
            return
        bucket = self._buckets.get(kind)
        if bucket is None:
            bucket = self._buckets[kind] = TokenBucket(budget.per_s, budget.burst)
        if not bucket.allow(now):
            self.limits._refuse(
                ErrorCode.RATE_LIMITED,
                f"more than {budget.per_s:g} {kind} messages a second; "
                f"try again in {bucket.wait_s():.1f} s",
                ref=ref,
            )
