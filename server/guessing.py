"""How fast anyone may guess a credential: per address with back-off, and per session.

Every credential path asks the one ``CredentialGuard`` (join codes, host keys, invitations,
resume tokens and pairing codes alike): ``check`` before looking at the credential, then
``failed`` or ``succeeded``. An address's first ``free_failures`` wrong credentials cost
nothing; each further one locks the address out, for ``lockout_s`` and then twice as long each
time, up to ``max_lockout_s``; its failures are forgotten ``forget_s`` after the last one. A
right credential does not wipe them (else one valid code would buy unlimited guesses at
another). A session takes ``session_failures_per_s`` wrong credentials a second (after a
burst of ``session_failure_burst``) from everyone together; past that, only addresses that
presented a right one for it lately are let through to try. A locked-out attempt is refused
with ``rate_limited`` and when to retry, before the credential is looked at, so the answer
never says whether it would have been right.

Pure bookkeeping: time comes in as an argument (any monotonic origin).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded
from dreamcommons.server.settings import ServerSettings
from dreamcommons.server.token_bucket import TokenBucket

# The codes that say a credential was wrong (not missing, expired or over another limit).
WRONG_CREDENTIAL = frozenset(
    {
        ErrorCode.BAD_INVITATION,  # a wrong join code, a forged or foreign invitation
        ErrorCode.FORBIDDEN,  # as host, without the host key
        ErrorCode.BAD_RESUME_TOKEN,
        ErrorCode.PAIRING_REFUSED,
    }
)
_MAX_ADDRESSES = 8192  # past this many, the addresses whose failures are forgotten are dropped
_MAX_TRUSTED = 1024  # addresses remembered per session for a right credential


@dataclass(frozen=True, slots=True)
class GuessPolicy:
    free_failures: int = 5
    lockout_s: float = 1.0
    max_lockout_s: float = 300.0
    forget_s: float = 900.0
    session_failures_per_s: float = 1.0
    session_failure_burst: int = 100

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> GuessPolicy:
        return cls(
            free_failures=settings.guess_free_failures,
            lockout_s=settings.guess_lockout_s,
            max_lockout_s=settings.guess_max_lockout_s,
            forget_s=settings.guess_forget_s,
            session_failures_per_s=settings.session_guesses_per_s,
            session_failure_burst=settings.session_guess_burst,
        )


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass(slots=True)
class CredentialGuard:
    """Wrong credentials per address and per session, and who is locked out until when."""

    policy: GuessPolicy = field(default_factory=GuessPolicy)
    refused: Counter[str] = field(default_factory=Counter)  # "address", "session"
    _addresses: dict[str, _Failures] = field(default_factory=dict)
    _sessions: dict[str, TokenBucket] = field(default_factory=dict)
    _trusted: dict[str, OrderedDict[str, float]] = field(default_factory=dict)

    def check(self, address: str, session: str, now: float, *, ref: int | None = None) -> None:
        """Refuse with ``rate_limited`` if ``address`` may not try a credential now."""
        failures = self._current(address, now)
        if failures is not None and now < failures.locked_until:
            self.refused["address"] += 1
            raise LimitExceeded(
                ErrorCode.RATE_LIMITED,
                f"too many wrong credentials from your address; "
                f"try again in {failures.locked_until - now:.0f} s",
                ref=ref,
            )
        bucket = self._sessions.get(session)
        if bucket is None or self._is_trusted(session, address):
            return
        bucket.allow(now, cost=0.0)  # brings its tokens up to date
        if bucket.tokens < 1.0:
            self.refused["session"] += 1
            raise LimitExceeded(
                ErrorCode.RATE_LIMITED,
                f"too many wrong credentials for this session; "
                f"try again in {max(1.0, bucket.wait_s()):.0f} s",
                ref=ref,
            )

    def failed(self, address: str, session: str, now: float) -> None:
        """``address`` presented a wrong credential for ``session``."""
        failures = self._current(address, now)
        if failures is None:
            if len(self._addresses) >= _MAX_ADDRESSES or len(self._sessions) >= _MAX_ADDRESSES:
                self._forget_old(now)
            failures = self._addresses[address] = _Failures()
        failures.count += 1
        failures.last = now
        over = failures.count - self.policy.free_failures
        if over > 0:
            lockout = self.policy.lockout_s * 2.0 ** min(over - 1, 60)
            failures.locked_until = now + min(lockout, self.policy.max_lockout_s)
        bucket = self._sessions.get(session)
        if bucket is None:
            bucket = self._sessions[session] = TokenBucket(
                self.policy.session_failures_per_s, self.policy.session_failure_burst
            )
        bucket.allow(now)

    def succeeded(self, address: str, session: str, now: float) -> None:
        """``address`` presented a right credential for ``session``: it may try there even
        while the session is locked for everyone else (its own failures still count)."""
        trusted = self._trusted.setdefault(session, OrderedDict())
        trusted.pop(address, None)
        trusted[address] = now
        while len(trusted) > _MAX_TRUSTED:
            trusted.popitem(last=False)

    def locked_until(self, address: str, now: float) -> float | None:
        """When ``address``'s lockout ends, or None if it is not locked out."""
        failures = self._current(address, now)
        if failures is None or failures.locked_until <= now:
            return None
        return failures.locked_until

    def _current(self, address: str, now: float) -> _Failures | None:
        failures = self._addresses.get(address)
        if (
            failures is not None
            and now - failures.last >= self.policy.forget_s
            and now >= failures.locked_until
        ):
            del self._addresses[address]
            return None
        return failures

    def _is_trusted(self, session: str, address: str) -> bool:
        return address in self._trusted.get(session, ())

    def _forget_old(self, now: float) -> None:
        for address in list(self._addresses):
            self._current(address, now)
        for session in [s for s, bucket in self._sessions.items() if bucket.full_at(now)]:
            del self._sessions[session]
