"""``DreamLink``: the terminal client's connection, a ``DreamClient`` that stays joined.

The reconnecting is ``DreamClient``'s own (``reconnect=True``, ``wait_for_server=True``): it
tries until the server answers, comes back after every drop with its resume token (joining
fresh when the server no longer knows it), and stops at a close or a refusal that trying again
cannot fix. The link turns what the client tells it into status lines and hands each new state
to a callback; when the client stops, ``run()`` ends with ``LinkFailed`` saying why.
"""

from __future__ import annotations

from collections.abc import Callable

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import JoinRefused, LinkFailed
from dreamcommons.client.link import Forgotten, Joined, LinkEvent, Lost, Retrying
from dreamcommons.contracts.protocol import DreamscapeState, Encoding, Role

StateHandler = Callable[[DreamscapeState, float], None]
StatusHandler = Callable[[str], None]
JoinHandler = Callable[[DreamClient, bool], None]


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
    ) -> None:
        self.url = url
        self.name = name
        self.role: Role = role
        self.joins = 0
        self.drops = 0
        self._on_state = on_state
        self._on_status = on_status
        self._on_joined = on_joined
        self._client = DreamClient(
            url,
            name,
            role=role,
            encoding=encoding,
            key=key,
            reconnect=True,
            wait_for_server=True,
            on_link=self._heard,
        )

    @property
    def dream(self) -> DreamClient | None:
        """The client while it is joined; ``None`` while it is connecting or gone."""
        return self._client if self._client.connected.is_set() else None

    @property
    def participant(self) -> str:
        return self._client.participant

    @property
    def resume_token(self) -> str | None:
        return self._client.resume_token

    async def run(self) -> None:
        """Join, follow, come back after every drop; only ``LinkFailed`` or a cancel end it."""
        try:
            async with self._client as dream:
                async for state in dream.states():
                    self._on_state(state, dream.tick_hz)
        except JoinRefused as refusal:
            raise LinkFailed(f"join refused: {refusal.message}", ever_joined=False) from None
        raise LinkFailed(self._client.ended or "the connection ended", ever_joined=self.joins > 0)

    def _heard(self, event: LinkEvent) -> None:
        match event:
            case Joined(session=session, participant=participant, resumed=resumed):
                self.joins += 1
                how = "resumed" if resumed else "joined"
                self._on_status(f"{how} {session} as {participant} ({self.role})")
                self._on_joined(self._client, not resumed)
            case Lost():
                self.drops += 1
                self._on_status("connection lost")
            case Retrying(attempt=attempt, delay=delay, problem=problem):
                if self.joins == 0 and attempt == 1:
                    self._on_status(f"cannot reach {self.url}: {problem}")
                self._on_status(f"reconnecting… (attempt {attempt}, in {delay:.1f} s)")
            case Forgotten():
                self._on_status("the server no longer knows this participant: joining fresh")
