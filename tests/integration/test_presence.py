"""Presence in a room past its venue's list size, over real sockets: the welcome and the
deltas count everyone and list the host, and anyone can read the whole list a page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgpack
import pytest

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import MAX_PEOPLE_PAGE, Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import eventually

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons").model_copy(update={"list_everyone_up_to": 2})


@pytest.fixture
async def server() -> AsyncIterator[DreamServer]:
    settings = ServerSettings(port=0, open_sessions=("*",))
    async with DreamServer(settings, VENUE) as server:
        yield server


@pytest.fixture
def room_url(server: DreamServer) -> str:
    return f"ws://127.0.0.1:{server.port}/hall"


async def test_a_large_room_counts_everyone_and_pages_the_list(
    server: DreamServer, room_url: str
) -> None:
    names = ["Ada", "Bo", "Cy", "Di"]
    key = server.settings.host_key
    async with DreamClient(room_url, "Host", role="host", key=key) as host:
        dreamers = [DreamClient(room_url, name, encoding=Encoding.JSON) for name in names]
        for dreamer in dreamers:
            await dreamer.start()
        try:
            state = await host.wait_for(lambda s: s.people.here == 5)
            assert state.people.roles == {"dreamer": 4, "host": 1}
            assert [p.name for p in state.participants] == ["Host"]
            last = dreamers[-1]
            assert [p.name for p in last.state.participants] == ["Host"]  # its welcome, too
            first = await last.people(limit=3)
            rest = await last.people(offset=3)
            assert first.total == rest.total == 5
            assert sorted(p.name for p in first.participants + rest.participants) == sorted(
                [*names, "Host"]
            )
        finally:
            for dreamer in dreamers:
                await dreamer.stop()
        state = await host.wait_for(lambda s: s.people.here == 1 and s.people.away == 4)
        assert state.people.roles == {"host": 1}  # of those here


async def test_a_bad_page_request_is_refused_and_the_connection_goes_on(room_url: str) -> None:
    async with DreamClient(room_url, "Ada") as ada:
        for bad in ({"limit": 0}, {"limit": MAX_PEOPLE_PAGE + 1}, {"offset": -1}):
            frame = {"type": "people", "cid": 7, **bad}
            await ada.send_frame(msgpack.packb(frame))
        await eventually(lambda: len(ada.errors) == 3, "three refusals", 5)
        assert {(e.code, e.ref) for e in ada.errors} == {(ErrorCode.INVALID_FIELD, 7)}
        await ada.wait_for(lambda s: s.people.here == 1)  # a page is as of the last tick
        page = await ada.people()
        assert [p.name for p in page.participants] == ["Ada"]
