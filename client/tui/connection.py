"""``DreamLink``: stay joined to a dream session, whatever the network does.

It joins, hands each new state to a callback, and when the connection drops (``ConnectionLost``,
the states ending, a refused socket) it says so and tries again with jittered exponential
backoff (0.25 s doubling to a 5 s cap), resuming with the last resume token so that the
participant keeps their identity. When the server no longer knows the token (it restarted
without its journal) it joins fresh and says so. A refusal that retrying cannot fix (a wrong
host key, removed by the host, resumed elsewhere) ends ``run()`` with ``LinkFailed``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from websockets.exceptions import WebSocketException

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import ConnectionLost, JoinRefused
from dreamcommons.contracts.backoff import backoff_delay
from dreamcommons.contracts.errors import CloseCode, ErrorCode
from dreamcommons.contracts.protocol import DreamscapeState, Encoding, Role

# Close codes after which coming back would undo what the server meant.
_FINAL_CLOSES: dict[int | None, str] = {
    CloseCode.REMOVED: "removed from the session by the host",
    CloseCode.REPLACED: "this participant resumed from another connection",
    CloseCode.SESSION_CLOSED: "the session was closed",
}

StateHandler = Callable[[DreamscapeState, float], None]
StatusHandler = Callable[[str], None]
JoinHandler = Callable[[DreamClient, bool], None]


class LinkFailed(Exception):
    """The link gave up: the reason cannot be fixed by trying again."""

    def __init__(self, reason: str, *, ever_joined: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ever_joined = ever_joined


class DreamLink:
    """One participant's connection to one session, kept alive by ``run()`` until cancelled."""

    def __init__(
        self,
        url: str,
        name: str,
        *,
        role: Role,
        encoding: Encoding,
        key: str | None,
        on_state: StateHandler,
        on_status: StatusHandler,
        on_joined: JoinHandler,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.role: Role = role
        self.encoding = encoding
        self.key = key
        self.dream: DreamClient | None = None
        self.participant = ""
        self.resume_token: str | None = None
        self.joins = 0
        self.drops = 0
        self._on_state = on_state
        self._on_status = on_status
        self._on_joined = on_joined
        self._rng = rng or random.Random()

    async def run(self) -> None:
        """Join, follow, and come back after every drop; only ``LinkFailed`` or a cancel end it."""
        attempt = 0
        while True:
            try:
                await self._follow()
                attempt = 0  # we were joined: the next retry starts from the short delay
            except JoinRefused as refusal:
                if refusal.code is not ErrorCode.BAD_RESUME_TOKEN or self.resume_token is None:
                    raise LinkFailed(
                        f"join refused: {refusal.message}", ever_joined=self.joins > 0
                    ) from None
                self.resume_token = None
                self._on_status("the server no longer knows this participant: joining fresh")
                continue
            except (ConnectionLost, WebSocketException, OSError, TimeoutError) as error:
                if self.joins == 0 and attempt == 0:
                    self._on_status(f"cannot reach {self.url}: {error or type(error).__name__}")
            delay = backoff_delay(attempt, self._rng)
            attempt += 1
            self._on_status(f"reconnecting… (attempt {attempt}, in {delay:.1f} s)")
            await asyncio.sleep(delay)

    async def _follow(self) -> None:
        """One connection, from join to drop."""
        resuming = self.resume_token is not None
        async with DreamClient(
            self.url,
            self.name,
            role=self.role,
            encoding=self.encoding,
            key=self.key,
            resume=self.resume_token,
        ) as dream:
            fresh = not resuming
            if resuming and dream.participant != self.participant:
                fresh = True  # a server that hands out a new identity on resume: treat as new
            self.dream = dream
            self.participant = dream.participant
            self.resume_token = dream.resume_token
            self.joins += 1
            how = "joined" if fresh else "resumed"
            self._on_status(f"{how} {dream.session} as {dream.participant} ({self.role})")
            self._on_joined(dream, fresh)
            try:
                async for state in dream.states():
                    self._on_state(state, dream.tick_hz)
            finally:
                self.dream = None
            self.drops += 1
            final = _FINAL_CLOSES.get(_close_code(dream))
            if final is not None:
                raise LinkFailed(final, ever_joined=True)
            self._on_status("connection lost")


def _close_code(dream: DreamClient) -> int | None:
    """The close code the server sent, once the connection has ended."""
    connection = dream._connection  # the client does not expose it (yet)
    return None if connection is None else connection.close_code
