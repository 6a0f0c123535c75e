"""The server's own word on the broker: a retained ``online`` on its status topic once its
device connection is up, ``offline`` when it stops, and the same ``offline`` as the last will
of that connection, so that devices and dashboards know whether a server is there.

``ServerPresence`` rides on the device gateway's connection (``DeviceGateway(presence=...)``):
a second connection would need a client id of its own, which a secured broker (client id =
username) does not give.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

import aiomqtt

from dreamcommons.contracts.device_protocol import server_status_topic

log = logging.getLogger(__name__)

_GOODBYE_TIMEOUT_S: Final = 2.0
ONLINE: Final = "online"
OFFLINE: Final = "offline"


class ServerPresence:
    """Birth and will of the server named ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status_topic = server_status_topic(name)
        self.subscriptions: tuple[str, ...] = ()

    @property
    def will(self) -> aiomqtt.Will:
        return aiomqtt.Will(self.status_topic, OFFLINE, qos=1, retain=True)

    async def connected(self, client: aiomqtt.Client) -> None:
        await client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        log.info("said online on %s", self.status_topic)

    def hears(self, topic: str) -> bool:
        return topic in self.subscriptions

    async def heard(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Nothing to hear yet: the server's status subscribes to nothing."""

    async def leaving(self, client: aiomqtt.Client) -> None:
        """Say ``offline`` (the broker keeps the will for a connection that breaks)."""
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(
                self.status_topic, OFFLINE, qos=1, retain=True, timeout=_GOODBYE_TIMEOUT_S
            )
