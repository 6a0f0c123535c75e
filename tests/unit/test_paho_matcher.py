"""paho's matcher builds a reference cycle for every message it is asked about; the
``CycleFreeMatcher`` the device gateway gives its client builds none, and matches the same."""

from __future__ import annotations

import gc

import aiomqtt
import pytest
from paho.mqtt.matcher import MQTTMatcher

from dreamcommons.server.devices.paho_matcher import CycleFreeMatcher, match_without_cycles

FILTERS = ("dreamcommons/+/samples", "dreamcommons/#", "home/lamp", "$SYS/#")
TOPICS = ("dreamcommons/pod/samples", "dreamcommons", "home/lamp", "home/fan", "$SYS/load")


def cycles_left_by(matcher: MQTTMatcher, times: int = 200) -> int:
    """What the collector finds after ``times`` matches and nothing else."""
    gc.collect()
    gc.disable()
    try:
        for _ in range(times):
            list(matcher.iter_match("dreamcommons/v1/devices/pod-1/samples"))
        return gc.collect()
    finally:
        gc.enable()


def test_the_cycle_free_matcher_leaves_no_cycles() -> None:
    # paho's leaves 6 a match, 1,200 here; a few may come from whatever else the process runs
    assert cycles_left_by(CycleFreeMatcher()) < 20


def test_paho_leaves_a_cycle_a_match() -> None:
    """The reason for ``CycleFreeMatcher``; a skip says paho's matcher no longer needs it."""
    left = cycles_left_by(MQTTMatcher())
    if left < 200:
        pytest.skip("paho's matcher no longer leaves a cycle a match: CycleFreeMatcher can go")
    assert left >= 6 * 200  # the closure, its three cells, a list and a tuple


def test_with_filters_it_matches_as_paho_does() -> None:
    theirs, ours = MQTTMatcher(), CycleFreeMatcher()
    for matcher in (theirs, ours):
        for topic_filter in FILTERS:
            matcher[topic_filter] = topic_filter
    for topic in TOPICS:
        assert set(ours.iter_match(topic)) == set(theirs.iter_match(topic))
    assert list(ours.iter_match("dreamcommons/pod/samples")) != []


async def test_a_client_keeps_its_topic_callbacks() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)  # never connected
    paho = client._client
    paho.message_callback_add("home/#", print)
    match_without_cycles(client)
    match_without_cycles(client)  # once is enough; twice changes nothing
    assert isinstance(paho._on_message_filtered, CycleFreeMatcher)
    assert list(paho._on_message_filtered.iter_match("home/lamp")) == [print]
    assert list(paho._on_message_filtered.iter_match("dreamcommons/x")) == []


class _Unlike:
    """A client whose insides are not the aiomqtt and paho this was written against."""

    _client = object()


def test_a_client_of_other_insides_is_left_as_it_is() -> None:
    unlike = _Unlike()
    match_without_cycles(unlike)  # type: ignore[arg-type]
    assert not hasattr(unlike._client, "_on_message_filtered")
