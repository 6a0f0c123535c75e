"""paho's topic matcher, without the reference cycle it builds for every message received.

paho-mqtt (2.2) asks its matcher of topic callbacks for each message it receives, and the
matcher answers with a generator of a closure that refers to itself: six objects a message
that only the cycle collector can free. With 1,000 device messages a second that alone was a
young collection every second (10-18 ms, ~7,000 objects) and a generation-1 collection of
~30 ms every ten, paused into whatever tick was due. aiomqtt registers no topic callbacks (it
hears every message through ``on_message``), so the matcher is empty and can say it matches
nothing without building anything; once a callback is registered it matches as paho's does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import aiomqtt
from paho.mqtt.matcher import MQTTMatcher


class CycleFreeMatcher(MQTTMatcher):
    """An ``MQTTMatcher`` whose ``iter_match`` of an empty trie allocates nothing."""

    def __init__(self) -> None:
        MQTTMatcher.__init__(self)

    def iter_match(self, topic: str) -> Iterator[Callable[..., Any]]:
        if not self._root._children:
            return iter(())
        matches: Iterator[Callable[..., Any]] = MQTTMatcher.iter_match(self, topic)
        return matches


def match_without_cycles(client: aiomqtt.Client) -> None:
    """Give ``client``'s paho client a ``CycleFreeMatcher`` holding what its matcher held; a
    paho or aiomqtt whose insides differ is left as it is (only the collector works more)."""
    paho = getattr(client, "_client", None)
    current = getattr(paho, "_on_message_filtered", None)
    if type(current) is not MQTTMatcher:
        return
    matcher = CycleFreeMatcher()
    matcher._root = current._root
    paho._on_message_filtered = matcher  # type: ignore[union-attr]
