"""Pairing codes as people read and type them, and what a birth may say of them."""

from __future__ import annotations

import random

import pytest
from pydantic import TypeAdapter, ValidationError

from dreamcommons.contracts.device_protocol import DeviceBirth, DeviceStatus, PairingOffer
from dreamcommons.contracts.pairing import (
    ALPHABET,
    CODE_LENGTH,
    PairingCode,
    format_code,
    new_code,
    status_digest,
)

codes: TypeAdapter[str] = TypeAdapter(PairingCode)


def test_the_code_space_outlasts_any_guessing_rate_seen() -> None:
    assert not set(ALPHABET) & set("01ILOU")  # nothing to misread
    assert len(set(ALPHABET)) == 30
    space = len(ALPHABET) ** CODE_LENGTH
    assert space > 5.9e14
    assert space / 3_157 / (365 * 86_400) > 5_000  # years, at the audit's rate from one address


@pytest.mark.parametrize("typed", ["K7QMXHD2PQ", "k7qm-xhd2-pq", " K7QM XHD2 PQ ", "k7QM-xhd2pq"])
def test_a_code_is_read_in_any_case_with_dashes_and_spaces(typed: str) -> None:
    assert codes.validate_python(typed) == "K7QMXHD2PQ"


@pytest.mark.parametrize("typed", ["K7QMXHD2P", "K7QMXHD2PQQ", "K7QM-XHD2-P0", "LYRA42", 42, ""])
def test_what_is_not_a_code_is_refused(typed: object) -> None:
    with pytest.raises(ValidationError):
        codes.validate_python(typed)


def test_new_codes_are_grouped_for_reading_aloud() -> None:
    code = new_code(random.Random(1))
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    assert format_code("K7QMXHD2PQ") == "K7QM-XHD2-PQ"
    assert new_code() != new_code()


def test_an_offer_accepts_its_code_only() -> None:
    offer = PairingOffer.of("K7QMXHD2PQ", "ab" * 16, "commons")
    assert offer.hint == "K7"
    assert offer.accepts("K7QMXHD2PQ")
    assert not offer.accepts("K7QMXHD2PR")
    assert PairingOffer.of("K7QMXHD2PQ", "cd" * 16).verifier != offer.verifier  # salted


def test_a_last_word_proves_itself_with_the_connections_key() -> None:
    key = "5a" * 16
    birth = DeviceBirth(
        kind="pod", model="Chrono-Cocoon", firmware="1", bd_seq=3, sample_hz=5.0, sensors=(),
        actions=(), status_digest=status_digest(key),
    )  # fmt: skip
    assert DeviceStatus(state="lost", bd_seq=3, key=key).proves(birth)
    assert not DeviceStatus(state="lost", bd_seq=3).proves(birth)
    assert not DeviceStatus(state="lost", bd_seq=3, key="00" * 16).proves(birth)
    assert DeviceStatus(state="lost", bd_seq=3).proves(
        birth.model_copy(update={"status_digest": None})
    )
