"""The cluster's names: one subject token per session id, and nothing else gets through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import SESSION_ID_PATTERN, Encoding
from dreamcommons.server.cluster import names


@given(st.from_regex(SESSION_ID_PATTERN, fullmatch=True))
def test_every_session_id_is_one_subject_token(session: str) -> None:
    subject = names.events_subject(session)
    assert subject.split(".") == ["dreamcommons", "events", session]
    assert not set(session) & {".", "*", ">", " ", "\t"}


def test_deltas_have_a_subject_per_session_and_encoding() -> None:
    subjects = {names.deltas_subject("commons", encoding) for encoding in Encoding}
    assert subjects == {"dreamcommons.deltas.commons.msgpack", "dreamcommons.deltas.commons.json"}


def test_what_goes_to_a_session_s_owner_is_under_its_own_prefix() -> None:
    assert names.contributions_subject("commons") == "dreamcommons.owner.commons.contributions"
    assert names.samples_subject("commons") == "dreamcommons.owner.commons.samples"
    assert names.requests_subject("commons") == "dreamcommons.owner.commons.requests"


def test_a_gateway_is_told_to_close_a_connection_on_its_own_subject() -> None:
    assert names.gateway_subject("gate-a-1f2e3d") == "dreamcommons.gateways.gate-a-1f2e3d"
    with pytest.raises(ValueError, match="not a session id"):
        names.gateway_subject("gate.a")


@given(st.text(min_size=1, max_size=40))
def test_any_participant_id_makes_one_valid_member_key(pid: str) -> None:
    key = names.member_key("commons", pid)
    session, token = key.split(".")
    assert session == "commons"
    assert bytes.fromhex(token).decode() == pid
    assert key.startswith(names.member_keys("commons").removesuffix("*"))


def test_the_events_stream_holds_every_session_s_events() -> None:
    assert names.events_subjects() == "dreamcommons.events.>"


@pytest.mark.parametrize("bad", ["", "Commons", "a.b", "a*", ">", "a b", "-a", "x" * 65])
def test_anything_but_a_session_id_is_refused_before_nats(bad: str) -> None:
    with pytest.raises(ValueError, match="not a session id"):
        names.session_token(bad)
    with pytest.raises(ValueError, match="not a session id"):
        names.lease_key(bad)
