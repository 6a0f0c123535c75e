"""The session lease on a real NATS: one owner, loss reported, takeover after the TTL."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client

from dreamcommons.server.cluster import (
    LeaseChange,
    LeaseHeld,
    LeaseLost,
    NatsProcess,
    SessionLeases,
)
from tests.nats_fixtures import lease_changes
from tests.waiting import eventually, within

pytestmark = pytest.mark.integration

TTL = 1.0  # short, so that expiry tests take a second or two


@pytest.fixture
async def leases(nats_client: Client) -> SessionLeases:
    return await SessionLeases.open(nats_client, ttl=TTL)


async def test_of_two_racing_claims_exactly_one_wins(leases: SessionLeases) -> None:
    results = await asyncio.gather(
        leases.claim("commons", "engine-a"),
        leases.claim("commons", "engine-b"),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, LeaseHeld)]
    assert len(won) == 1
    assert len(lost) == 1
    assert lost[0].owner == won[0].owner_id
    assert await leases.owner_of("commons") == won[0].owner_id

    await won[0].release()  # a deleted key is claimed differently: raced again, one wins
    again = await asyncio.gather(
        leases.claim("commons", "engine-c"),
        leases.claim("commons", "engine-d"),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in again) == 1
    assert sum(isinstance(r, LeaseHeld) for r in again) == 1


async def test_a_session_no_one_claimed_has_no_owner(leases: SessionLeases) -> None:
    assert await leases.owner_of("commons") is None


async def test_a_kept_lease_outlives_its_ttl(leases: SessionLeases) -> None:
    lease = await leases.claim("commons", "engine-a")
    lease.keep()
    await asyncio.sleep(TTL * 2)
    assert lease.held
    with pytest.raises(LeaseHeld):
        await leases.claim("commons", "engine-b")
    await lease.release()


async def test_an_owner_that_stops_refreshing_loses_the_session_after_the_ttl(
    leases: SessionLeases,
) -> None:
    old = await leases.claim("commons", "engine-a")
    lost: list[LeaseLost] = []
    old.keep(lost.append)
    await old.stop_keeping()  # as if killed: no release

    claimed = []

    async def claim_b() -> bool:
        try:
            claimed.append(await leases.claim("commons", "engine-b"))
        except LeaseHeld:
            return False
        return True

    await eventually(claim_b, "claimed by engine-b", seconds=TTL * 3, every=TTL / 5)
    assert await leases.owner_of("commons") == "engine-b"
    with pytest.raises(LeaseLost, match="expired or another process claimed it"):
        await old.refresh()
    assert not old.held
    await old.release()  # a lost lease is not deleted: engine-b keeps the session
    assert await leases.owner_of("commons") == "engine-b"
    await claimed[0].release()


async def test_the_keeper_reports_a_loss_once(leases: SessionLeases) -> None:
    lease = await leases.claim("commons", "engine-a")
    await lease.kv.delete("commons")  # someone else's hand on the bucket
    await leases.claim("commons", "engine-b")
    lost: asyncio.Queue[LeaseLost] = asyncio.Queue()
    lease.keep(lost.put_nowait, every=0.05)
    reported = await asyncio.wait_for(lost.get(), within(5))
    assert reported.session == "commons"
    assert not lease.held
    await asyncio.sleep(0.2)
    assert lost.empty()


async def test_a_release_lets_another_claim_at_once(leases: SessionLeases) -> None:
    lease = await leases.claim("commons", "engine-a")
    lease.keep()
    await lease.release()
    successor = await leases.claim("commons", "engine-b")  # no TTL to wait for
    assert await leases.owner_of("commons") == "engine-b"
    with pytest.raises(LeaseLost, match="released"):
        await lease.refresh()
    await successor.release()


async def test_sessions_are_leased_apart(leases: SessionLeases) -> None:
    a = await leases.claim("commons", "engine-a")
    b = await leases.claim("festival", "engine-b")
    assert await leases.owner_of("commons") == "engine-a"
    assert await leases.owner_of("festival") == "engine-b"
    await a.release()
    await b.release()


async def test_a_watch_reports_claims_and_releases_not_refreshes(leases: SessionLeases) -> None:
    before = await leases.claim("festival", "engine-c")
    try:
        async with lease_changes(leases) as changes:

            async def next_change() -> LeaseChange:
                return await asyncio.wait_for(changes.get(), within(5))

            assert (await next_change()).owner == "engine-c"  # what existed when it began
            lease = await leases.claim("commons", "engine-a")
            assert (await next_change()) == LeaseChange("commons", "engine-a", lease.revision)
            await lease.refresh()
            await lease.release()
            released = await next_change()
            assert (released.session, released.owner) == ("commons", None)
            await leases.claim("commons", "engine-b")
            assert (await next_change()).owner == "engine-b"
    finally:
        await before.release()


async def test_a_bad_session_id_is_refused_before_nats(leases: SessionLeases) -> None:
    with pytest.raises(ValueError, match="not a session id"):
        await leases.claim("commons.>", "engine-a")


async def test_a_refresh_written_though_its_answer_was_lost_keeps_the_lease(
    leases: SessionLeases,
) -> None:
    lease = await leases.claim("commons", "engine-a")
    # The owner's own write landed, but the owner never learnt its revision.
    await lease.kv.update("commons", b"engine-a", last=lease.revision)
    await lease.refresh()
    assert lease.held
    assert await leases.owner_of("commons") == "engine-a"
    with pytest.raises(LeaseHeld):
        await leases.claim("commons", "engine-b")
    await lease.release()


async def test_an_owner_cut_off_from_nats_for_a_ttl_takes_its_lease_for_lost(
    nats_server: NatsProcess, leases: SessionLeases
) -> None:
    lease = await leases.claim("commons", "engine-a")
    lost: asyncio.Queue[LeaseLost] = asyncio.Queue()
    lease.keep(lost.put_nowait, every=TTL / 5)
    await nats_server.stop()
    try:
        reported = await asyncio.wait_for(lost.get(), within(TTL * 5))
        assert "not refreshed for" in reported.reason
        assert not lease.held
    finally:
        await nats_server.start()
