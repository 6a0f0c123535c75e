"""The one rule for wrong credentials: a few free per address, then a doubling lockout."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded
from dreamcommons.server.guessing import CredentialGuard, GuessPolicy

POLICY = GuessPolicy(free_failures=2, lockout_s=1.0, max_lockout_s=4.0, forget_s=100.0)


def allowed(guard: CredentialGuard, address: str, now: float, session: str = "s") -> bool:
    try:
        guard.check(address, session, now)
    except LimitExceeded as refused:
        return not (refused.code is ErrorCode.RATE_LIMITED and "try again in" in refused.message)
    return True


def test_a_few_failures_are_free_then_each_doubles_the_lockout_up_to_the_cap() -> None:
    guard = CredentialGuard(POLICY)
    guard.failed("a", "s", 0.0)
    guard.failed("a", "s", 0.0)
    assert guard.locked_until("a", 0.0) is None
    locks = []
    now = 0.0
    for _ in range(5):
        guard.failed("a", "s", now)
        until = guard.locked_until("a", now)
        assert until is not None
        locks.append(until - now)
        assert not allowed(guard, "a", until - 0.01)
        now = until
        assert allowed(guard, "a", now)
    assert locks == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_other_addresses_are_not_held_up_and_failures_are_forgotten_later() -> None:
    guard = CredentialGuard(POLICY)
    for _ in range(3):
        guard.failed("a", "s", 0.0)
    assert not allowed(guard, "a", 0.5)
    assert allowed(guard, "b", 0.5)
    guard.succeeded("a", "s", 1.0)
    guard.failed("a", "s", 1.0)
    assert guard.locked_until("a", 1.0) == pytest.approx(3.0)  # a success wipes nothing
    guard.failed("a", "s", 200.0)
    assert guard.locked_until("a", 200.0) is None  # forgotten: the count starts again


def test_a_session_locked_by_many_addresses_still_lets_its_members_back() -> None:
    guard = CredentialGuard(GuessPolicy(session_failures_per_s=0.01, session_failure_burst=2))
    guard.succeeded("member", "s", 0.0)
    guard.failed("x1", "s", 0.0)
    guard.failed("x2", "s", 0.0)
    assert not allowed(guard, "x3", 0.0)
    assert allowed(guard, "member", 0.0)
    assert allowed(guard, "x3", 0.0, session="other")
    assert allowed(guard, "x3", 100.0)
