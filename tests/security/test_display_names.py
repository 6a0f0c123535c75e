"""Nobody can pass for someone else by name: a name empty to the eye is refused, hidden
characters are dropped, and a second member of the same name is shown with a tag."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.protocol import DreamscapeState, Encoding
from dreamcommons.server.gateway import DreamServer
from tests.conftest import within
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def people(state: DreamscapeState) -> dict[str, tuple[str, int | None]]:
    return {p.id: (p.name, p.tag) for p in state.participants}


async def test_two_lyras_are_told_apart_and_a_hidden_character_changes_nothing(
    dream_server: DreamServer, server_url: str
) -> None:
    async with (
        DreamClient(server_url, "Lyra") as lyra,
        DreamClient(server_url, "Ada", role="watcher") as ada,
    ):
        await eventually(lambda: lyra.participant in people(ada.state), "Lyra listed")
        async with DreamClient(server_url, "\u202el\u200byra ") as copy:
            await eventually(lambda: copy.participant in people(ada.state), "the copy listed")
            seen = people(ada.state)
            assert seen[lyra.participant] == ("Lyra", None)
            assert seen[copy.participant] == ("lyra", 2)
            await copy.whisper("it is me, Lyra")
            await eventually(lambda: ada.state.whispers, "the whisper")
            assert (ada.state.whispers[-1].name, ada.state.whispers[-1].tag) == ("lyra", 2)
        async with DreamClient(server_url, "Zara") as zara:
            await eventually(lambda: zara.participant in people(ada.state), "Zara listed")
            assert people(ada.state)[zara.participant] == ("Zara", None)


@pytest.mark.parametrize("blank", ["\u200b\u200d", "\u202e\u202c", "\u3164 \u2800"])
async def test_a_name_empty_to_the_eye_is_refused(dream_server: DreamServer, blank: str) -> None:
    url = f"ws://127.0.0.1:{dream_server.port}/commons"
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "join", "session": "commons", "name": blank}))
        async with asyncio.timeout(within(5)):
            answer = json.loads(await ws.recv(decode=True))
    assert answer["type"] == "error"
    assert answer["code"] == ErrorCode.INVALID_FIELD.value
    assert "name" in answer["message"]
