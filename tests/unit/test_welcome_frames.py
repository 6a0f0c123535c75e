"""A welcome framed around a state encoded once reads back as the welcome framed whole, and
a session reuses the state's encoding only while that state is the last tick's."""

from __future__ import annotations

import pytest

from dreamcommons.contracts.protocol import (
    Encoding,
    Join,
    Snapshot,
    Welcome,
    decode_server,
    encode,
    encode_with_state,
)
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, events
from dreamcommons.server.remote_link import RemoteLink
from dreamcommons.server.session import DreamSession


def _engine_with(people: int) -> DreamEngine:
    engine = DreamEngine(load_venue("sleep-commons"), "s")
    for n in range(1, people + 1):
        pid = f"p{n:x}"
        engine.apply(events.ParticipantJoined(participant=pid, name=f"Ada {n}", role="dreamer"))
        contribution = events.MotifContributed(
            participant=pid,
            cid=1,
            motif=f"lantern{n % 5}",
            intensity=0.7,
            valence=-0.25,
            arousal=0.5,
            private=False,
        )
        engine.apply(contribution)
    engine.tick(0.1)
    return engine


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("people", [0, 3, 250])
def test_a_welcome_framed_around_its_state_reads_back_whole(
    encoding: Encoding, people: int
) -> None:
    state = _engine_with(people).state
    welcome = Welcome(
        participant="p2", resume="tok-en_", tick_hz=10.0, state=state, join_code="AB12-CD"
    )
    framed = encode_with_state(welcome, encode(state, encoding), encoding)
    assert decode_server(framed, encoding) == decode_server(encode(welcome, encoding), encoding)
    snapshot = Snapshot(state=state)
    framed = encode_with_state(snapshot, encode(state, encoding), encoding)
    assert decode_server(framed, encoding) == snapshot


@pytest.mark.parametrize("encoding", list(Encoding))
async def test_each_welcome_carries_the_state_of_the_last_tick(encoding: Encoding) -> None:
    session = DreamSession("s", load_venue("sleep-commons"))
    session.tick(0.1)
    ada = await session.join(Join(session="s", name="Ada"), _link("x"), encoding)
    bo = await session.join(Join(session="s", name="Bo"), _link("x"), encoding)
    first = decode_server(session.welcome_frame(ada.welcome, encoding), encoding)
    assert isinstance(first, Welcome)
    assert first.state == ada.welcome.state
    session.tick(0.2)  # Ada and Bo are listed from this tick on
    cy = await session.join(Join(session="s", name="Cy"), _link("x"), encoding)
    again = decode_server(session.welcome_frame(bo.welcome, encoding), encoding)
    later = decode_server(session.welcome_frame(cy.welcome, encoding), encoding)
    assert isinstance(again, Welcome)
    assert again.state == bo.welcome.state
    assert isinstance(later, Welcome)
    assert later.state is not None
    assert first.state is not None
    assert {p.name for p in later.state.participants} == {"Ada", "Bo"}
    assert later.state.seq == first.state.seq + 1


def _link(name: str) -> RemoteLink:
    """A link that is never written to here: the welcome is framed, not sent."""
    return RemoteLink("gateway", name, lambda *_: None)
