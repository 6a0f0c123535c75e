"""Attacks on the dream server over real sockets, each refused with its own error code.

The server is closed, as in production: its sessions need a join code or an invitation.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping

import msgpack
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import JoinRefused, Refused
from dreamcommons.contracts.errors import CloseCode, ErrorCode
from dreamcommons.contracts.protocol import Encoding
from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.auth import Gatekeeper
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings
from tests.conftest import within

pytestmark = pytest.mark.integration

Frame = dict[str, object]


def url_of(server: DreamServer, session: str = "commons") -> str:
    return f"ws://127.0.0.1:{server.port}/{session}"


async def reply_to(ws: ClientConnection, frame: Mapping[str, object] | str) -> Frame:
    """Send ``frame`` and return the first answer that is not a delta."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    async with asyncio.timeout(within(5)):
        while True:
            answer: Frame = json.loads(await ws.recv(decode=True))
            if answer["type"] != "delta":
                return answer


async def raw_join(server: DreamServer, session: str = "commons", **fields: object) -> Frame:
    async with connect(url_of(server, session), subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        return await reply_to(ws, {"type": "join", "session": session, "name": "Mallory", **fields})


def refused(answer: Frame, code: ErrorCode) -> bool:
    return answer["type"] == "error" and answer["code"] == code.value


def code_of(server: DreamServer, session: str = "commons") -> str:
    return server.gatekeeper.join_code(session)


def host_key_of(server: DreamServer, session: str = "commons") -> str:
    return server.gatekeeper.host_secret(session)


# --- getting in -------------------------------------------------------------------------


async def test_joining_a_private_session_without_a_code(closed_server: DreamServer) -> None:
    assert refused(await raw_join(closed_server), ErrorCode.INVITATION_REQUIRED)
    assert refused(await raw_join(closed_server, role="watcher"), ErrorCode.INVITATION_REQUIRED)
    assert closed_server.sessions == {}  # a refused join opens nothing


async def test_guessing_the_join_code(closed_server: DreamServer) -> None:
    for guess in ("AAAAAAAA", "", "K7QM-XHD2", code_of(closed_server, "other")):
        assert refused(await raw_join(closed_server, code=guess), ErrorCode.BAD_INVITATION)
    assert (await raw_join(closed_server, code=code_of(closed_server)))["type"] == "welcome"


async def test_guessing_codes_on_one_connection_gets_it_closed(closed_server: DreamServer) -> None:
    async def guess_codes(ws: ClientConnection) -> None:
        for n in range(100):
            await reply_to(
                ws, {"type": "join", "session": "commons", "name": "M", "code": f"{n:08d}"}
            )

    url = url_of(closed_server)
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await guess_codes(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.TOO_MANY_ERRORS


async def test_a_forged_invitation(closed_server: DreamServer) -> None:
    token = closed_server.gatekeeper.invite("commons", "watcher", int(time.time()) + 600)
    prefix, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["r"] = "dreamer"
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{prefix}.{forged_body}.{signature}"
    answer = await raw_join(closed_server, role="dreamer", token=forged)
    assert refused(answer, ErrorCode.BAD_INVITATION)


async def test_an_invitation_signed_by_another_server(closed_server: DreamServer) -> None:
    foreign = Gatekeeper("some other server's secret").invite(
        "commons", "dreamer", int(time.time()) + 600
    )
    assert refused(await raw_join(closed_server, token=foreign), ErrorCode.BAD_INVITATION)


async def test_an_expired_invitation(closed_server: DreamServer) -> None:
    stale = closed_server.gatekeeper.invite("commons", "dreamer", int(time.time()) - 1)
    assert refused(await raw_join(closed_server, token=stale), ErrorCode.INVITATION_EXPIRED)


async def test_an_invitation_to_another_session(closed_server: DreamServer) -> None:
    elsewhere = closed_server.gatekeeper.invite("other", "dreamer", int(time.time()) + 600)
    assert refused(await raw_join(closed_server, token=elsewhere), ErrorCode.BAD_INVITATION)


async def test_a_watcher_invitation_used_to_dream(closed_server: DreamServer) -> None:
    token = closed_server.gatekeeper.invite("commons", "watcher", int(time.time()) + 600)
    assert refused(
        await raw_join(closed_server, role="dreamer", token=token), ErrorCode.BAD_INVITATION
    )
    assert refused(await raw_join(closed_server, role="host", token=token), ErrorCode.FORBIDDEN)
    assert (await raw_join(closed_server, role="watcher", token=token))["type"] == "welcome"


async def test_joining_as_host_without_this_sessions_key(closed_server: DreamServer) -> None:
    for key in (None, "guess", code_of(closed_server), host_key_of(closed_server, "other")):
        answer = await raw_join(closed_server, role="host", key=key)
        assert refused(answer, ErrorCode.FORBIDDEN), key
    answer = await raw_join(closed_server, role="host", code=code_of(closed_server))
    assert refused(answer, ErrorCode.FORBIDDEN)


# --- inside a session ---------------------------------------------------------------------


@pytest.fixture
async def host_and_guest(
    closed_server: DreamServer,
) -> AsyncIterator[tuple[DreamClient, DreamClient]]:
    url = url_of(closed_server)
    async with (
        DreamClient(url, "Vivienne", role="host", key=host_key_of(closed_server)) as host,
        DreamClient(url, "Mallory", code=code_of(closed_server)) as guest,
    ):
        yield host, guest


@pytest.mark.parametrize("action", ["start", "pause", "advance", "end", "harmonize", "remove"])
async def test_a_participant_tries_host_actions(
    host_and_guest: tuple[DreamClient, DreamClient], action: str
) -> None:
    host, guest = host_and_guest
    await guest.wait_for(lambda s: any(p.id == host.participant for p in s.participants))
    with pytest.raises(Refused) as refusal:
        await guest.host(action, host.participant if action == "remove" else None)  # type: ignore[arg-type]
    assert refusal.value.code is ErrorCode.FORBIDDEN
    assert "host" in refusal.value.message
    await host.share(0.5)  # the host is still there, still connected
    assert guest.state.scene.phase == "gathering"


async def test_a_participant_tries_to_issue_invitations(
    host_and_guest: tuple[DreamClient, DreamClient],
) -> None:
    _, guest = host_and_guest
    with pytest.raises(Refused) as refusal:
        await guest.invite("dreamer")
    assert refusal.value.code is ErrorCode.FORBIDDEN


async def test_the_hosts_invitation_admits_one_role_of_one_session(
    closed_server: DreamServer, host_and_guest: tuple[DreamClient, DreamClient]
) -> None:
    host, _ = host_and_guest
    invitation = await host.invite("watcher", ttl_s=600)
    async with DreamClient(url_of(closed_server), "Kai", token=invitation.token) as kai:
        assert kai.role == "watcher"
        with pytest.raises(Refused):
            await kai.contribute("moon")
    with pytest.raises(JoinRefused) as refusal:
        async with DreamClient(url_of(closed_server, "other"), "Kai", token=invitation.token):
            pass
    assert refusal.value.code is ErrorCode.BAD_INVITATION


async def test_stealing_a_resume_token_across_sessions(closed_server: DreamServer) -> None:
    gate = closed_server.gatekeeper
    async with DreamClient(url_of(closed_server, "a"), "Lyra", code=gate.join_code("a")) as lyra:
        stolen = lyra.resume_token
        assert stolen is not None
        async with DreamClient(url_of(closed_server, "b"), "Eve", code=gate.join_code("b")):
            answer = await raw_join(closed_server, "b", resume=stolen)
            assert refused(answer, ErrorCode.BAD_RESUME_TOKEN)
        answer = await raw_join(closed_server, "c", resume=stolen)  # a session not even open
        assert refused(answer, ErrorCode.BAD_RESUME_TOKEN)
        assert "c" not in closed_server.sessions


async def test_a_resume_token_cannot_change_its_role(closed_server: DreamServer) -> None:
    token = closed_server.gatekeeper.invite("commons", "watcher", int(time.time()) + 600)
    async with DreamClient(url_of(closed_server), "Kai", token=token) as kai:
        watcher_token = kai.resume_token
    answer = await raw_join(closed_server, role="dreamer", resume=watcher_token)
    assert refused(answer, ErrorCode.BAD_RESUME_TOKEN)
    answer = await raw_join(closed_server, role="host", resume=watcher_token)
    assert refused(answer, ErrorCode.FORBIDDEN)


async def test_guessing_resume_tokens(host_and_guest: tuple[DreamClient, DreamClient]) -> None:
    host, guest = host_and_guest
    server_url = host.url.rsplit("/", 1)[0]
    port = int(server_url.rsplit(":", 1)[1])
    for guess in ("p1", "p2", "", "x" * 32, guest.participant):
        async with connect(server_url + "/commons", subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
            join = {"type": "join", "session": "commons", "name": "M", "resume": guess}
            assert refused(await reply_to(ws, join), ErrorCode.BAD_RESUME_TOKEN), (guess, port)


async def test_a_removed_participant_cannot_come_back_with_the_token(
    closed_server: DreamServer, host_and_guest: tuple[DreamClient, DreamClient]
) -> None:
    host, guest = host_and_guest
    token = guest.resume_token
    await host.host("remove", guest.participant)
    answer = await raw_join(closed_server, resume=token)
    assert refused(answer, ErrorCode.BAD_RESUME_TOKEN)


# --- floods and bad frames ----------------------------------------------------------------


async def test_a_flood_of_contributions(closed_server: DreamServer) -> None:
    url = url_of(closed_server)
    async with connect(url, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        join = {
            "type": "join",
            "session": "commons",
            "name": "Flood",
            "code": code_of(closed_server),
        }
        assert (await reply_to(ws, join))["type"] == "welcome"
        for cid in range(200):
            await ws.send(json.dumps({"type": "contribute", "cid": cid, "motif": "moon"}))
        answers = await answers_until_closed(ws)
    assert ws.close_code == CloseCode.TOO_MANY_ERRORS
    codes = [a.get("code", a["type"]) for a in answers]
    assert codes.count("ack") <= closed_server.settings.contribution_burst + 1
    assert codes.count(ErrorCode.RATE_LIMITED.value) == closed_server.settings.max_errors
    assert closed_server.limits.refused["rate_limited"] == closed_server.settings.max_errors


async def answers_until_closed(ws: ClientConnection) -> list[Frame]:
    answers: list[Frame] = []
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(within(5)):
            while True:
                answer: Frame = json.loads(await ws.recv(decode=True))
                if answer["type"] != "delta":
                    answers.append(answer)
    return answers


async def test_too_many_connections_from_one_address() -> None:
    settings = ServerSettings(port=0, open_sessions=("*",), max_connections_per_address=3)
    async with DreamServer(settings, load_venue("sleep-commons")) as server:
        url = url_of(server)
        held = [await connect(url, subprotocols=[Encoding.JSON.value]) for _ in range(3)]  # type: ignore[list-item]
        async with connect(url, subprotocols=[Encoding.JSON.value]) as extra:  # type: ignore[list-item]
            answer = json.loads(await extra.recv(decode=True))
            assert refused(answer, ErrorCode.TOO_MANY_CONNECTIONS)
            with pytest.raises(ConnectionClosed) as closed:
                await extra.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.TOO_MANY_CONNECTIONS
        await held.pop().close()
        async with DreamClient(url, "Next") as next_one:  # a freed place can be taken
            assert next_one.participant
        for ws in held:
            await ws.close()
        assert server.limits.refused["too_many_connections"] == 1


async def test_a_page_of_another_origin(closed_server: DreamServer) -> None:
    url = url_of(closed_server)
    with pytest.raises(InvalidStatus) as status:
        async with connect(url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert status.value.response.status_code == 403
    assert b"bad_origin" in status.value.response.body
    own = f"http://127.0.0.1:{closed_server.port}"
    async with connect(url, origin=own, subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[arg-type, list-item]
        answer = await reply_to(ws, {"type": "join", "session": "commons", "name": "Same"})
        assert refused(answer, ErrorCode.INVITATION_REQUIRED)  # let in, then asked for a code
    assert closed_server.limits.refused["bad_origin"] == 1


async def test_a_whisper_over_the_length_limit(closed_server: DreamServer) -> None:
    async with DreamClient(url_of(closed_server), "Long", code=code_of(closed_server)) as long:
        with pytest.raises(Refused) as refusal:
            await long.whisper("z" * (closed_server.settings.max_whisper_chars + 1))
        assert refusal.value.code is ErrorCode.WHISPER_TOO_LONG


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 8000 + "]" * 8000, ErrorCode.MALFORMED_FRAME),
        ('{"type": "join", "session": "../../etc", "name": "x"}', ErrorCode.INVALID_FIELD),
        (
            '{"type": "join", "session": "commons", "name": "x", "role": "server"}',
            ErrorCode.INVALID_FIELD,
        ),
        (
            '{"type": "join", "session": "commons", "name": "x", "token": "' + "t" * 600 + '"}',
            ErrorCode.INVALID_FIELD,
        ),
        ('{"type": "host", "cid": 1, "action": "start"}', ErrorCode.NOT_JOINED),
        ('{"type": "invite", "cid": 1, "role": "host"}', ErrorCode.INVALID_FIELD),
        ("x" * 20_000, ErrorCode.FRAME_TOO_LARGE),
    ],
)
async def test_malformed_and_oversized_frames(
    closed_server: DreamServer, frame: str, code: ErrorCode
) -> None:
    async with connect(url_of(closed_server), subprotocols=[Encoding.JSON.value]) as ws:  # type: ignore[list-item]
        assert refused(await reply_to(ws, frame), code)


async def test_msgpack_bombs(closed_server: DreamServer) -> None:
    url = url_of(closed_server)
    async with connect(url, subprotocols=[Encoding.MSGPACK.value]) as ws:  # type: ignore[list-item]
        for bomb in (
            b"\xdd\xff\xff\xff\xff",  # an array that claims four billion items
            b"\xdf\xff\xff\xff\xff",  # a map that claims as many
            b"\x91" * 5000 + b"\xc0",  # nested five thousand deep
        ):
            await ws.send(bomb)
            answer = msgpack.unpackb(await ws.recv())
            assert answer["code"] == ErrorCode.MALFORMED_FRAME.value
        await ws.send(msgpack.packb({"type": "join", "session": "commons", "name": "M"}))
        assert msgpack.unpackb(await ws.recv())["code"] == ErrorCode.INVITATION_REQUIRED.value


async def test_html_in_a_whisper_stays_text(closed_server: DreamServer) -> None:
    html = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    url, code = url_of(closed_server), code_of(closed_server)
    async with (
        DreamClient(url, "Mallory", code=code, role="waker") as mallory,
        DreamClient(url, "Lyra", code=code, encoding=Encoding.JSON) as lyra,
    ):
        await mallory.whisper(html)
        state = await lyra.wait_for(lambda s: bool(s.whispers), within=within(5))
        assert state.whispers[0].text == html  # kept verbatim; the page renders it as text
