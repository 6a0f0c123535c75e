"""Each session as one Home Assistant device, when the host asks (``host --ha-discovery``):
participants, sleepers, phase, coherence, fractured and harmonizing, from the session's
dreamscape once a second. Aggregates only: no sleeper's own estimate, stage or reading is
ever published (the product offers no opt-in for that).

A session's entities are available while the server's status says ``online``. Its discovery
is published on every connection and again when Home Assistant says ``online``; on a clean
stop a server without a journal (its sessions will not come back) clears it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Final

import aiomqtt

from dreamcommons.contracts.device_protocol import server_status_topic
from dreamcommons.contracts.home_assistant import (
    ONLINE,
    ORIGIN,
    binary_sensor,
    discovery_message,
    on_off,
    sensor,
    session_config_topic,
    session_state_topic,
    state_message,
    text_sensor,
)
from dreamcommons.contracts.protocol import DreamscapeState, Role
from dreamcommons.server.session import DreamSession

log = logging.getLogger(__name__)

STATE_EVERY_S: Final = 1.0
_TAKING_PART: Final[tuple[Role, ...]] = ("dreamer", "waker")


def session_state(state: DreamscapeState) -> dict[str, object]:
    """What a session's state topic says: counts and the dream rules' flags, nobody's data."""
    scene = state.scene
    return {
        "participants": sum(state.people.roles.get(role, 0) for role in _TAKING_PART),
        "sleepers": scene.sleepers,
        "phase": scene.phase,
        "coherence": None if scene.coherence is None else round(scene.coherence, 3),
        "fractured": on_off(scene.fractured),
        "harmonizing": on_off(scene.harmonizing),
    }


class SessionsInHomeAssistant:
    """Publishes the discovery and the state of every session ``sessions()`` gives."""

    def __init__(
        self,
        server: str,
        sessions: Callable[[], Iterable[DreamSession]],
        *,
        forget_on_stop: bool,
    ) -> None:
        self.server = server
        self._sessions = sessions
        self.forget_on_stop = forget_on_stop
        self._availability = server_status_topic(server)
        self._client: aiomqtt.Client | None = None
        self._announced: set[str] = set()  # on the current connection

    def discovery(self, session: DreamSession) -> bytes:
        uid = f"dreamcommons_{self.server}_{session.id}"
        components = {
            "participants": sensor(
                f"{uid}_participants", "participants", "Participants", icon="mdi:account-group"
            ),
            "sleepers": sensor(f"{uid}_sleepers", "sleepers", "Sleepers", icon="mdi:sleep"),
            "phase": text_sensor(f"{uid}_phase", "phase", "Phase", icon="mdi:weather-night"),
            "coherence": sensor(
                f"{uid}_coherence", "coherence", "Coherence", icon="mdi:sine-wave", precision=2
            ),
            "fractured": binary_sensor(
                f"{uid}_fractured",
                "fractured",
                "Fractured",
                icon="mdi:image-broken-variant",
                device_class="problem",
            ),
            "harmonizing": binary_sensor(
                f"{uid}_harmonizing", "harmonizing", "Harmonizing", icon="mdi:sync"
            ),
        }
        device = {
            "ids": [uid],
            "name": f"{session.venue.title} {session.id}",
            "mf": "dreamcommons",
            "mdl": "dream session",
            "sw": ORIGIN["sw"],
        }
        return discovery_message(
            device,
            components,
            availability_topic=self._availability,
            state_topic=session_state_topic(self.server, session.id),
        )

    async def connected(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._announced.clear()
        await self.publish(client)

    async def heard(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Home Assistant's birth: announce every session again."""
        if message.payload == ONLINE.encode() and not message.retain:
            log.info("Home Assistant is online; announcing %d sessions", len(self._announced))
            self._announced.clear()
            await self.publish(client)

    async def publish(self, client: aiomqtt.Client) -> None:
        """Each session's state, after its discovery if this connection has not sent it."""
        for session in list(self._sessions()):
            if session.id not in self._announced:
                topic = session_config_topic(self.server, session.id)
                await client.publish(topic, self.discovery(session), qos=1, retain=True)
                self._announced.add(session.id)
            state = session_state(session.engine.state)
            await client.publish(
                session_state_topic(self.server, session.id), state_message(state), qos=0
            )

    async def run(self) -> None:
        """Publish once a second while connected, until cancelled."""
        while True:
            await asyncio.sleep(STATE_EVERY_S)
            client = self._client
            if client is None:
                continue
            try:
                await self.publish(client)
            except aiomqtt.MqttError:
                self._client = None  # until the next connection says so

    async def leaving(self, client: aiomqtt.Client, *, within_s: float) -> None:
        self._client = None
        if not self.forget_on_stop:
            return
        for session_id in sorted(self._announced):
            topic = session_config_topic(self.server, session_id)
            await client.publish(topic, b"", qos=1, retain=True, timeout=within_s)
