"""Guessing credentials is limited per address, not per connection: reconnecting buys nothing,
a locked-out address is never told whether its guess was right, and another address with the
right code still gets in. Loopback has all of 127.0.0.0/8, so each address is a real one."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import Refused
from dreamcommons.contracts.errors import ErrorCode
from dreamcommons.contracts.pairing import ALPHABET
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.waiting import within

pytestmark = pytest.mark.integration

VENUE = load_venue("sleep-commons")
Frame = dict[str, object]


def guarded(**overrides: object) -> ServerSettings:
    fields: dict[str, object] = {
        "port": 0,
        "guess_free_failures": 3,
        "guess_lockout_s": 600.0,  # longer than any test: a lockout stays for the whole test
        **overrides,
    }
    return ServerSettings.model_validate(fields)


async def attempts(
    server: DreamServer, frames: list[Frame], source: str = "127.0.0.1"
) -> list[Frame]:
    """Send ``frames`` on one connection from ``source``; the answers (up to a close)."""
    url = f"ws://127.0.0.1:{server.port}/commons"
    answers: list[Frame] = []
    async with connect(
        url,
        subprotocols=[Encoding.JSON.value],  # type: ignore[list-item]
        local_addr=(source, 0),
    ) as ws:
        try:
            for frame in frames:
                await ws.send(json.dumps(frame))
                async with asyncio.timeout(within(5)):
                    while True:
                        answer: Frame = json.loads(await ws.recv(decode=True))
                        if answer["type"] != "delta":
                            answers.append(answer)
                            break
        except ConnectionClosed:
            pass
    return answers


def join(code: str | None, **fields: object) -> Frame:
    return {"type": "join", "session": "commons", "name": "Mallory", "code": code, **fields}


async def test_many_connections_from_one_address_check_only_a_few_guesses() -> None:
    async with DreamServer(guarded(), VENUE) as server:
        guesses = [join(f"WRONG{n:03d}") for n in range(7)]  # fewer than max_errors
        answered = await asyncio.gather(*(attempts(server, guesses) for _ in range(16)))
        codes = Counter(str(a.get("code")) for answers in answered for a in answers)
        assert sum(codes.values()) == 16 * 7
        assert codes[ErrorCode.BAD_INVITATION.value] == 3 + 1  # free, then the one that locks
        assert codes[ErrorCode.RATE_LIMITED.value] == 16 * 7 - 4
        assert server.limits.refused[ErrorCode.RATE_LIMITED.value] == 16 * 7 - 4
        right = server.gatekeeper.join_code("commons")
        (locked,) = await attempts(server, [join(right)])
        assert locked["code"] == ErrorCode.RATE_LIMITED.value  # never told it was right
        assert "try again in" in str(locked["message"])
        (welcome,) = await attempts(server, [join(right, name="Lyra")], source="127.0.0.2")
        assert welcome["type"] == "welcome", welcome


@pytest.mark.parametrize(
    "wrong",
    [
        {"role": "host", "key": "not-the-host-key"},
        {"token": "dc1.forged.invitation"},
        {"resume": "a-guessed-resume-token"},
    ],
    ids=["host key", "invitation", "resume token"],
)
async def test_every_credential_counts_against_the_address(wrong: Frame) -> None:
    async with DreamServer(guarded(open_sessions=("commons",)), VENUE) as server:
        answers = await attempts(server, [join(None, **wrong) for _ in range(6)])
        assert [a["code"] for a in answers][-2:] == [ErrorCode.RATE_LIMITED.value] * 2
        (refused,) = await attempts(server, [{"type": "join", "session": "commons", "name": "M"}])
        assert refused["code"] == ErrorCode.RATE_LIMITED.value


async def test_a_session_takes_few_wrong_guesses_from_everyone_but_its_members_get_back() -> None:
    limited = guarded(session_guesses_per_s=0.001, session_guess_burst=4)
    async with DreamServer(limited, VENUE) as server:
        right = server.gatekeeper.join_code("commons")
        (welcome,) = await attempts(server, [join(right, name="Lyra")], source="127.0.0.9")
        for n in range(4):
            (wrong,) = await attempts(server, [join("WRONGCODE")], source=f"127.0.1.{n}")
            assert wrong["code"] == ErrorCode.BAD_INVITATION.value
        (stranger,) = await attempts(server, [join(right)], source="127.0.2.1")
        assert stranger["code"] == ErrorCode.RATE_LIMITED.value
        again = join(None, name="Lyra", resume=welcome["resume"])
        (back,) = await attempts(server, [again], source="127.0.0.9")
        assert back["type"] == "welcome", back


async def test_wrong_pairing_codes_lock_the_address_out(mosquitto: MosquittoProcess) -> None:
    async with DreamServer(guarded(broker=mosquitto.url), VENUE) as server:
        url = f"ws://127.0.0.1:{server.port}/commons"
        code = server.gatekeeper.join_code("commons")
        async with DreamClient(url, "Mallory", code=code) as mallory:
            refusals = []
            for n in range(5):
                with pytest.raises(Refused) as refused:
                    await mallory.pair_device(f"WRNGCDEXX{ALPHABET[n]}")  # no device shows it
                refusals.append(refused.value.code)
        assert refusals == [ErrorCode.PAIRING_REFUSED] * 4 + [ErrorCode.RATE_LIMITED]
