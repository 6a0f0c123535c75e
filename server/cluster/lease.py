"""Exactly one owner per session: a lease in a JetStream key-value bucket with a TTL.

    leases = await SessionLeases.open(nc, ttl=3.0)     # nc: ``connection.connect(...)``
    lease = await leases.claim("commons", "engine-a")   # LeaseHeld if another owns it
    lease.keep(on_lost)                                 # refresh every ttl/3 until released
    ...
    await lease.release()                               # a clean stop: a successor at once

The rules, which only NATS enforces (no process trusts another's clock):

- **claim** is ``kv.create``: it succeeds only when the key is absent, deleted or expired.
- **refresh** is ``kv.update(last=revision)``, every ``ttl / 3``: a compare-and-set on the
  revision the owner last wrote. It fails when the value expired (nothing refreshed it for
  ``ttl``) or another process claimed it since: **the lease is lost**, the owner stops
  applying the session's events at once (``LeaseLost``, and ``on_lost`` of ``keep``). An
  owner that cannot reach NATS for a whole ``ttl`` takes its lease for lost as well: by then
  another may own the session. A refresh whose answer was lost may still have been written:
  when the revision no longer matches but the value is still this owner's, that write was
  its own, and the lease goes on from it. So an ``owner_id`` names one process, once (a
  restarted process takes a new one).
- **release** deletes the key with ``last=revision``, so that a successor claims at once.
- **expiry**: NATS 2.9 has no TTL per key; the bucket's ``ttl`` (its stream's ``max_age``)
  applies to every value, and each refresh writes a new one. A killed owner's lease is gone
  ``ttl`` after its last refresh, so a successor that retries its claim every ``ttl / 3``
  owns the session at most about ``ttl * 4 / 3`` after the kill (3 s: within 4 s).

``watch`` tells every process of claims and releases as they happen. An expiry is silent in
NATS 2.9 (the value is dropped, nothing is published): a process that wants an expired
session claims it when the owner it last saw stopped refreshing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from dreamcommons.server.cluster.errors import ClusterError, LeaseHeld, LeaseLost
from dreamcommons.server.cluster.names import LEASE_BUCKET, lease_key

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 3.0
WATCH_CHECK_S = 0.5  # how often a quiet watch checks whether the connection was renewed
_WRONG_LAST_SEQUENCE = (10071, 10164)  # JetStream's "wrong last sequence" error codes

OnLost = Callable[[LeaseLost], None]


@dataclass(frozen=True, slots=True)
class LeaseChange:
    """What ``watch`` reports: ``session`` is now owned by ``owner`` (None: released)."""

    session: str
    owner: str | None
    revision: int


class SessionLeases:
    """The bucket of leases: claim a session, read who owns one, watch them change."""

    def __init__(self, nc: Client, kv: KeyValue, ttl: float) -> None:
        self.nc = nc
        self.kv = kv
        self.ttl = ttl

    @classmethod
    async def open(
        cls, nc: Client, *, ttl: float = DEFAULT_TTL_S, bucket: str = LEASE_BUCKET
    ) -> SessionLeases:
        """The bucket, created with ``ttl`` if it does not exist yet. An existing bucket
        keeps the TTL it was made with, and that is the one the leases follow."""
        js = nc.jetstream()
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(
                KeyValueConfig(bucket=bucket, ttl=ttl, history=1, storage=StorageType.FILE)
            )
        status = await kv.status()
        return cls(nc, kv, status.ttl or ttl)

    async def claim(self, session: str, owner_id: str) -> SessionLease:
        """Own ``session`` from now on; ``LeaseHeld`` (with the owner) if another does."""
        key = lease_key(session)
        try:
            revision = await self.kv.create(key, owner_id.encode())
        except KeyWrongLastSequenceError:
            raise LeaseHeld(session, await self.owner_of(session)) from None
        log.info("session %s: owned by %s (revision %d)", session, owner_id, revision)
        return SessionLease(self.nc, self.kv, session, owner_id, revision, self.ttl)

    async def owner_of(self, session: str) -> str | None:
        """Who owns ``session`` now (None: no one; a lease expired or released)."""
        try:
            entry = await self.kv.get(lease_key(session))
        except KeyNotFoundError:
            return None
        return None if entry.value is None else entry.value.decode(errors="replace")

    async def owners(self) -> dict[str, str]:
        """Every session owned now, with its owner: what the bucket holds (an expired or
        released lease is not in it)."""
        try:
            sessions = await self.kv.keys()
        except NoKeysError:
            return {}
        found = {}
        for session in sessions:  # a lease's key is its session's id
            owner = await self.owner_of(session)
            if owner is not None:
                found[session] = owner
        return found

    async def watch(self) -> AsyncIterator[LeaseChange]:
        """Every lease as it is now, then each claim and release as it happens (a refresh by
        the same owner is not a change and is not reported). It goes on across NATS
        restarts: after a reconnection it reads the leases again and reports what changed
        meanwhile (a lease that expired in between is not reported: expiry is silent)."""
        owners: dict[str, str | None] = {}
        async for entry in watch_entries(self.nc, self.kv, "leases"):
            change = _change(entry)
            if change.session in owners and owners[change.session] == change.owner:
                continue
            owners[change.session] = change.owner
            yield change


async def watch_entries(nc: Client, kv: KeyValue, what: str) -> AsyncIterator[KeyValue.Entry]:
    """Every entry of bucket ``kv`` as it is now, then each change as it happens, across NATS
    restarts: after a reconnection it reads the bucket again (an expiry is not reported)."""
    while True:
        reconnects = nc.stats["reconnects"]
        try:
            watcher = await kv.watchall()
        except (NatsError, TimeoutError) as exc:
            log.warning("%s: watch not started (%s), trying again", what, exc)
            await asyncio.sleep(WATCH_CHECK_S)
            continue
        try:
            # The watcher's consumer does not outlive a NATS restart: a new one after each.
            while nc.stats["reconnects"] == reconnects:
                try:
                    # asyncio.timeout, not wait_for: a cancellation is never swallowed.
                    async with asyncio.timeout(WATCH_CHECK_S):
                        entry = await anext(watcher)
                except TimeoutError:
                    continue
                except StopAsyncIteration:  # the watcher was stopped under us: renew it
                    break
                if entry is None:  # the end of what existed when the watch began
                    continue
                yield entry
        finally:
            with contextlib.suppress(NatsError, ClusterError, TimeoutError):
                await watcher.stop()  # type: ignore[no-untyped-call]


def _change(entry: KeyValue.Entry) -> LeaseChange:
    released = entry.operation in (KV_DEL, KV_PURGE)
    value = None if released else entry.value
    owner = None if value is None else value.decode(errors="replace")
    return LeaseChange(entry.key, owner, entry.revision or 0)


class SessionLease:
    """One session's lease, as its owner holds it. Once ``lost`` it stays lost: claim again
    (and rebuild the session) to own it once more."""

    def __init__(
        self, nc: Client, kv: KeyValue, session: str, owner_id: str, revision: int, ttl: float
    ) -> None:
        self.nc = nc
        self.kv = kv
        self.session = session
        self.owner_id = owner_id
        self.revision = revision
        self.ttl = ttl
        self.lost: LeaseLost | None = None
        self.released = False
        self._refreshed_at = time.monotonic()
        self._keeper: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self.lost is None and not self.released

    async def refresh(self) -> None:
        """Write the lease again (a compare-and-set on its revision); ``LeaseLost`` if it
        expired or another process owns it now."""
        if self.lost is not None:
            raise self.lost
        if self.released:
            raise LeaseLost(self.session, "released")
        key, value = lease_key(self.session), self.owner_id.encode()
        try:
            self.revision = await self.kv.update(key, value, last=self.revision)
        except KeyWrongLastSequenceError:
            own = await self._own_revision()
            if own is None:
                raise self._lose("it expired or another process claimed it") from None
            # An earlier refresh was written though its answer was lost: go on from it.
            self.revision = await self._update_or_lose(key, value, own)
        self._refreshed_at = time.monotonic()

    async def _own_revision(self) -> int | None:
        """The revision of the lease if its value is still this owner's (None: it is not)."""
        try:
            entry = await self.kv.get(lease_key(self.session))
        except KeyNotFoundError:
            return None
        return entry.revision if entry.value == self.owner_id.encode() else None

    async def _update_or_lose(self, key: str, value: bytes, last: int) -> int:
        try:
            return await self.kv.update(key, value, last=last)
        except KeyWrongLastSequenceError:
            raise self._lose("it expired or another process claimed it") from None

    def keep(self, on_lost: OnLost | None = None, *, every: float | None = None) -> None:
        """Refresh every ``every`` seconds (``ttl / 3``) in the background until released;
        ``on_lost`` is called once if the lease is lost."""
        if self._keeper is not None:
            raise RuntimeError("the lease is already kept")
        period = self.ttl / 3 if every is None else every
        self._keeper = asyncio.create_task(
            self._keep(period, on_lost), name=f"lease {self.session}"
        )

    async def _keep(self, period: float, on_lost: OnLost | None) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                if not self.nc.is_connected:
                    raise ConnectionError("NATS is not connected")
                # Never longer than a period: a TTL must not pass inside one slow attempt.
                async with asyncio.timeout(period):
                    await self.refresh()
            except LeaseLost as loss:
                if on_lost is not None:
                    on_lost(loss)
                return
            except (NatsError, TimeoutError, ConnectionError) as exc:
                # NATS is away: the lease may still be ours, until a whole TTL went by.
                silent = time.monotonic() - self._refreshed_at
                reason = str(exc) or type(exc).__name__
                log.warning("session %s: lease not refreshed (%s)", self.session, reason)
                if silent >= self.ttl:
                    lost = self._lose(f"not refreshed for {silent:.1f} s (ttl {self.ttl} s)")
                    if on_lost is not None:
                        on_lost(lost)
                    return

    async def stop_keeping(self) -> None:
        """Stop refreshing, without releasing: the lease expires after its TTL (what a
        killed owner leaves behind)."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def release(self) -> None:
        """Give the session up (a clean stop), so that another process may claim it at once.
        A lease already lost is not another's to delete: then nothing is written."""
        await self.stop_keeping()
        if not self.held:
            return
        self.released = True
        try:
            await self.kv.delete(lease_key(self.session), last=self.revision)
        except APIError as exc:
            if exc.err_code not in _WRONG_LAST_SEQUENCE:
                raise
            log.info("session %s: lease had expired before its release", self.session)
            return
        log.info("session %s: released by %s", self.session, self.owner_id)

    def _lose(self, reason: str) -> LeaseLost:
        self.lost = LeaseLost(self.session, reason)
        log.error("session %s: LEASE LOST by %s: %s", self.session, self.owner_id, reason)
        return self.lost
