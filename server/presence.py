"""The server's own word on the broker: a retained ``online`` on its status topic once its
device connection is up, ``offline`` when it stops, and the same ``offline`` as the last will
of that connection, so that devices and dashboards know whether a server is there.

``ServerPresence`` rides on the device gateway's connection (``DeviceGateway(presence=...)``):
a second connection would need a client id of its own, which a secured broker (client id =
username) does not give. With Home Assistant discovery it also carries the sessions' devices
(``server.ha_sessions``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

import aiomqtt

from dreamcommons.contracts.device_protocol import server_status_topic
from dreamcommons.contracts.home_assistant import HA_STATUS_TOPIC, OFFLINE, ONLINE
from dreamcommons.server.ha_sessions import SessionsInHomeAssistant

log = logging.getLogger(__name__)

_GOODBYE_TIMEOUT_S: Final = 2.0


class ServerPresence:
    """Birth and will of the server named ``name``; ``home_assistant`` when the host asked."""

    def __init__(self, name: str, home_assistant: SessionsInHomeAssistant | None = None) -> None:
        self.name = name
        self.status_topic = server_status_topic(name)
        self.home_assistant = home_assistant
        self.subscriptions: tuple[str, ...] = () if home_assistant is None else (HA_STATUS_TOPIC,)

    @property
    def will(self) -> aiomqtt.Will:
        return aiomqtt.Will(self.status_topic, OFFLINE, qos=1, retain=True)

    async def connected(self, client: aiomqtt.Client) -> None:
        await client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        log.info("said online on %s", self.status_topic)
        if self.home_assistant is not None:
            await self.home_assistant.connected(client)

    def hears(self, topic: str) -> bool:
        return topic in self.subscriptions

    async def heard(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        if self.home_assistant is not None:
            await self.home_assistant.heard(client, message)

    async def leaving(self, client: aiomqtt.Client) -> None:
        """Say ``offline`` (the broker keeps the will for a connection that breaks)."""
        with contextlib.suppress(aiomqtt.MqttError):
            if self.home_assistant is not None:
                await self.home_assistant.leaving(client, within_s=_GOODBYE_TIMEOUT_S)
            await client.publish(
                self.status_topic, OFFLINE, qos=1, retain=True, timeout=_GOODBYE_TIMEOUT_S
            )
