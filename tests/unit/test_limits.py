"""The server's limits: origins, connections per address, whisper length, contribution rate."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.errors import ErrorCode, LimitExceeded
from dreamcommons.server.limits import Budget, Limits, LimitSettings, budgets_of, origin_allowed
from dreamcommons.server.settings import ServerSettings


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "dream.example:8765", (), True),  # not a browser
        ("http://dream.example:8765", "dream.example:8765", (), True),  # same origin
        ("https://DREAM.example", "dream.example", (), True),
        ("http://evil.example", "dream.example:8765", (), False),
        ("http://dream.example:9999", "dream.example:8765", (), False),  # another port
        ("null", "dream.example:8765", (), False),  # sandboxed frames and file:// pages
        ("http://festival.example", "dream.example", ("http://festival.example",), True),
        ("http://evil.example", "dream.example", ("http://festival.example",), False),
        ("http://anything.example", "dream.example", ("*",), True),
        ("http://dream.example", None, (), False),
    ],
)
def test_origins(origin: str | None, host: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


def refused_code(call: object) -> ErrorCode:
    assert callable(call)
    with pytest.raises(LimitExceeded) as refused:
        call()
    return refused.value.code


def test_connections_per_address_are_counted_and_released() -> None:
    limits = Limits(LimitSettings(max_connections_per_address=2))
    limits.open_connection("10.0.0.1")
    limits.open_connection("10.0.0.1")
    limits.open_connection("10.0.0.2")
    code = refused_code(lambda: limits.open_connection("10.0.0.1"))
    assert code is ErrorCode.TOO_MANY_CONNECTIONS
    limits.close_connection("10.0.0.1")
    limits.open_connection("10.0.0.1")
    assert limits.connections("10.0.0.1") == 2
    assert limits.refused == {"too_many_connections": 1}


def test_a_long_whisper_is_refused_with_its_own_code() -> None:
    limits = Limits(LimitSettings(max_whisper_chars=10))
    limits.check_contribution("s", "p1", 0.0, ref=1, whisper="x" * 10)
    with pytest.raises(LimitExceeded) as refused:
        limits.check_contribution("s", "p1", 0.0, ref=2, whisper="x" * 11)
    assert (refused.value.code, refused.value.ref) == (ErrorCode.WHISPER_TOO_LONG, 2)


def test_each_participant_has_a_bucket_of_their_own() -> None:
    limits = Limits(LimitSettings(contributions_per_s=1.0, contribution_burst=2))
    for cid in (1, 2):
        limits.check_contribution("s", "p1", 0.0, ref=cid)
    with pytest.raises(LimitExceeded) as refused:
        limits.check_contribution("s", "p1", 0.0, ref=3)
    assert refused.value.code is ErrorCode.RATE_LIMITED
    limits.check_contribution("s", "p2", 0.0, ref=1)  # someone else is not held back
    limits.check_contribution("other", "p1", 0.0, ref=1)  # nor the same id elsewhere
    limits.check_contribution("s", "p1", 1.0, ref=4)  # a second later, one more
    assert limits.refused == {"rate_limited": 1}


def test_a_refused_origin_is_counted() -> None:
    limits = Limits(LimitSettings())
    code = refused_code(lambda: limits.check_origin("http://evil.example", "dream.example"))
    assert code is ErrorCode.BAD_ORIGIN
    assert limits.refused == {"bad_origin": 1}


def test_the_limits_defaults_are_the_server_settings_own() -> None:
    settings = ServerSettings.model_construct()
    assert Limits.from_settings(settings).settings == LimitSettings()
    assert LimitSettings().max_whisper_chars == settings.max_whisper_chars


def test_every_message_type_after_the_join_has_a_budget_in_the_settings() -> None:
    settings = ServerSettings(resyncs_per_s=0.5, resync_burst=2, shares_per_s=3.0)
    budgets = budgets_of(settings)
    sent = {"contribute", "whisper", "share", "host", "invite", "pair", "command", "resync"}
    assert set(budgets) == sent | {"ping", "people"}
    assert budgets["resync"] == Budget(0.5, 2)
    assert budgets["share"].per_s == 3.0
    assert Limits.from_settings(settings).settings.budgets == budgets
    assert LimitSettings().budgets == budgets_of(ServerSettings())


def test_a_connections_budget_refills_at_its_rate_and_refuses_with_the_wait() -> None:
    limits = Limits(LimitSettings(budgets={"resync": Budget(per_s=0.5, burst=2)}))
    mine, theirs = limits.connection_budgets(), limits.connection_budgets()
    mine.spend("resync", 0.0)
    mine.spend("resync", 0.0)
    with pytest.raises(LimitExceeded) as refused:
        mine.spend("resync", 0.0, ref=7)
    assert (refused.value.code, refused.value.ref) == (ErrorCode.RATE_LIMITED, 7)
    assert "try again in 2.0 s" in refused.value.message
    theirs.spend("resync", 0.0)  # a connection of its own, a bucket of its own
    mine.spend("resync", 2.0)
    mine.spend("share", 0.0)  # a type without a budget here is not metered
    assert limits.refused == {"rate_limited": 1}
