"""A sleeper who hides their stage cannot be told awake from deep by what others receive.

The audit's measurement, over a real server: a watcher follows a session where one dreamer,
whose stage stays hidden, raises one motif; the delta that merges it names the dreamer in
``applied``, and its weight divided by the intensity and the (public) phase weight used to
be the stage weight. Here it is measured for an awake and a deeply asleep dreamer, each in a
session of their own, and the two watchers see the same thing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import (
    Delta,
    Encoding,
    MotifUpdate,
    ParticipantView,
    SceneView,
    Welcome,
    decode_server,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import SleeperUpdated
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons")  # the venue of the dream_server fixture
AWAKE, DEEP = 0, 3
INTENSITY = 0.25


async def what_a_watcher_sees(server: DreamServer, session: str, stage: int) -> dict[str, object]:
    """Everything a watcher can tell about the dreamer and their one motif, once it is merged:
    the motif as shown (its place and time aside, which drift with the clock), its weight over the
    intensity and the phase weight, the phase and the mood, and the dreamer as listed."""
    url = f"ws://127.0.0.1:{server.port}/{session}"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        join = {"type": "join", "session": session, "name": "Eve", "role": "watcher"}
        await ws.send(json.dumps(join))
        welcome = decode_server(await ws.recv(), Encoding.JSON)
        assert isinstance(welcome, Welcome)
        assert welcome.state is not None
        scene: SceneView = welcome.state.scene
        people: dict[str, ParticipantView] = {}
        async with DreamClient(f"ws://127.0.0.1:{server.port}/{session}", "Vesper") as sleeper:
            dream = server.sessions[session]
            dream.devices_changed(sleeper.participant, 1)
            t = dream.clock(asyncio.get_running_loop().time())
            dream.sleeper_updated(SleeperUpdated(sleeper.participant, stage, 0.0, None, None, t))
            await sleeper.contribute("moon", intensity=INTENSITY, valence=0.4, arousal=0.3)
            async with asyncio.timeout(within(10)):
                while True:
                    frame = decode_server(await ws.recv(), Encoding.JSON)
                    if not isinstance(frame, Delta):
                        continue
                    scene = frame.scene or scene
                    people.update({p.id: p for p in frame.participants})
                    if sleeper.participant in frame.applied:
                        break
        (moon,) = [m for m in frame.motifs if m.name == "moon"]
    assert moon.weight is not None  # a new motif arrives whole
    phases = VENUE.phases
    phase_weight = {
        "gathering": phases.gathering_weight,
        "descent": phases.descent_weight,
        "awakening": phases.awakening_weight,
    }.get(scene.phase, 1.0)
    return {
        "motif": moon.model_copy(update={"x": 0.0, "y": 0.0, "t": 0.0}),
        "weight per intensity": round(moon.weight / INTENSITY / phase_weight, 2),
        "phase": scene.phase,
        "mood": frame.mood,
        "dreamer": people[sleeper.participant].model_copy(update={"id": "", "name": ""}),
    }


async def test_an_awake_and_a_deep_sleeper_who_hide_their_stage_look_alike(
    dream_server: DreamServer,
) -> None:
    awake = await what_a_watcher_sees(dream_server, "awake", AWAKE)
    deep = await what_a_watcher_sees(dream_server, "deep", DEEP)
    assert awake == deep
    assert isinstance(awake["motif"], MotifUpdate)
    assert awake["motif"].colour is not None  # it was new: it came whole
    assert awake["phase"] == "gathering"
    assert awake["weight per intensity"] == 1.0  # a dreamer's role weight, whatever the stage
    assert isinstance(awake["dreamer"], ParticipantView)
    assert awake["dreamer"].stage is None
