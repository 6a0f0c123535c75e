"""Host secrets, join codes and signed invitations: who is admitted to which session, as what."""

from __future__ import annotations

import base64
import json

import pytest

from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Join, Role
from dreamcommons.contracts.tokens import normalise_code, peek_role
from dreamcommons.server.auth import Gatekeeper

SECRET = "a server secret of some length"
NOW = 1_800_000_000.0


@pytest.fixture
def gate() -> Gatekeeper:
    return Gatekeeper(SECRET, operator_key="operator-key")


def refusal(gate: Gatekeeper, request: Join, now: float = NOW) -> ErrorCode:
    with pytest.raises(NotAllowed) as refused:
        gate.admit(request, now)
    return refused.value.code


def join(**fields: object) -> Join:
    return Join.model_validate({"session": "commons", "name": "Lyra", **fields})


def test_secrets_and_codes_are_per_session_and_stable_for_one_server_secret() -> None:
    one, again, other = Gatekeeper(SECRET), Gatekeeper(SECRET), Gatekeeper(SECRET + "!")
    assert one.join_code("commons") == again.join_code("commons") != other.join_code("commons")
    assert one.join_code("commons") != one.join_code("commons2")
    assert one.host_secret("commons") == again.host_secret("commons")
    assert one.host_secret("commons") != one.host_secret("commons2")
    assert len(one.host_secret("commons")) >= 22  # at least 128 bits
    assert len(one.join_code("commons")) == 8


def test_a_private_session_needs_a_code_or_an_invitation(gate: Gatekeeper) -> None:
    assert refusal(gate, join()) is ErrorCode.INVITATION_REQUIRED
    assert refusal(gate, join(code="WRONGCOD")) is ErrorCode.BAD_INVITATION
    code = gate.join_code("commons")
    gate.admit(join(code=code), NOW)
    gate.admit(join(code=f"{code[:4].lower()}-{code[4:]}"), NOW)  # as people type it
    gate.admit(join(code=code, role="watcher"), NOW)
    assert refusal(gate, join(session="elsewhere", code=code)) is ErrorCode.BAD_INVITATION


def test_an_open_session_needs_nothing_but_a_host_still_needs_the_key() -> None:
    gate = Gatekeeper(SECRET, open_sessions=("demo",))
    gate.admit(join(session="demo"), NOW)
    assert refusal(gate, join(session="commons")) is ErrorCode.INVITATION_REQUIRED
    assert refusal(gate, join(session="demo", role="host")) is ErrorCode.FORBIDDEN
    everything = Gatekeeper(SECRET, open_sessions=("*",))
    everything.admit(join(session="anything"), NOW)


def test_the_host_needs_this_sessions_secret_or_the_operator_key(gate: Gatekeeper) -> None:
    gate.admit(join(role="host", key=gate.host_secret("commons")), NOW)
    gate.admit(join(role="host", key="operator-key"), NOW)
    other = gate.host_secret("other")
    assert refusal(gate, join(role="host", key=other)) is ErrorCode.FORBIDDEN
    assert refusal(gate, join(role="host", code=gate.join_code("commons"))) is ErrorCode.FORBIDDEN
    assert refusal(gate, join(role="host")) is ErrorCode.FORBIDDEN


@pytest.mark.parametrize("role", ["dreamer", "waker", "watcher"])
def test_an_invitation_admits_its_session_and_role_until_it_expires(
    gate: Gatekeeper, role: Role
) -> None:
    token = gate.invite("commons", role, int(NOW) + 60)
    assert peek_role(token) == role
    gate.admit(join(token=token, role=role), NOW)
    gate.admit(join(token=token, role=role), NOW + 59)
    assert refusal(gate, join(token=token, role=role), NOW + 60) is ErrorCode.INVITATION_EXPIRED


def test_an_invitation_is_for_one_session_and_one_role(gate: Gatekeeper) -> None:
    token = gate.invite("commons", "watcher", int(NOW) + 60)
    assert refusal(gate, join(token=token, role="dreamer")) is ErrorCode.BAD_INVITATION
    assert refusal(gate, join(token=token, role="watcher", session="x")) is ErrorCode.BAD_INVITATION
    assert refusal(gate, join(token=token, role="host")) is ErrorCode.FORBIDDEN


def forge(token: str, **changes: object) -> str:
    prefix, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    new_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{prefix}.{new_body}.{signature}"


def test_a_forged_or_foreign_invitation_is_refused(gate: Gatekeeper) -> None:
    token = gate.invite("commons", "watcher", int(NOW) + 60)
    foreign = Gatekeeper("another server's secret").invite("commons", "dreamer", int(NOW) + 60)
    for bad in (
        forge(token, r="dreamer"),
        forge(token, e=int(NOW) + 10**9),
        foreign,
        token[:-2],
        "dc1.e30.",
        "dc2." + token[4:],
        "not a token",
        "",
    ):
        code = refusal(gate, join(token=bad, role="dreamer"))
        assert code is ErrorCode.BAD_INVITATION, bad


def test_hosts_cannot_be_invited(gate: Gatekeeper) -> None:
    with pytest.raises(ValueError, match="invitations"):
        gate.invite("commons", "host", int(NOW) + 60)


def test_codes_are_typed_loosely() -> None:
    assert normalise_code(" k7qm-xhd2 ") == "K7QMXHD2"
    assert peek_role("garbage") is None
