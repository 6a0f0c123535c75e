"""Display names as everyone sees them: normalised, never empty to the eye."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.contracts.errors import InvalidField
from dreamcommons.contracts.protocol import (
    Encoding,
    Join,
    decode_client,
    encode,
    normalise_name,
    normalise_unicode_name,
)

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def join_named(name: str) -> Join:
    frame = {"type": "join", "session": "commons", "name": name}
    decoded = decode_client(json.dumps(frame), Encoding.JSON)
    assert isinstance(decoded, Join)
    return decoded


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        ("  Lyra  ", "Lyra"),
        ("Ly\u200bra", "Lyra"),
        ("\u202eLyra\u202c", "Lyra"),
        ("Ｌｙｒａ", "Lyra"),  # full-width: NFKC
        ("Lyra\t \n Moon", "Lyra Moon"),
        ("Lyra\u3164Moon", "Lyra Moon"),  # a Hangul filler shows as a space
        ("Zoë", "Zoë"),
    ],
)
def test_names_are_normalised(typed: str, seen: str) -> None:
    assert join_named(typed).name == seen


@pytest.mark.parametrize(
    "blank", ["", "   ", "\u200b\u200b", "\u202e", "\u3164", "\u2800\u200d", "\u0301\u0301"]
)
def test_names_empty_to_the_eye_are_refused(blank: str) -> None:
    with pytest.raises(InvalidField, match="name"):
        join_named(blank)


@given(st.text(max_size=40))
def test_a_normalised_name_is_stable_visible_and_free_of_hidden_characters(typed: str) -> None:
    try:
        name = normalise_name(typed)
    except ValueError:
        return
    assert isinstance(name, str)
    assert normalise_name(name) == name
    assert name == name.strip()
    assert "  " not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in name)
    assert any(unicodedata.category(c)[0] in "LNPS" for c in name)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_a_plain_ascii_name_is_normalised_as_any_other(typed: str) -> None:
    try:
        expected: str | type[ValueError] = normalise_unicode_name(typed)
    except ValueError:
        expected = ValueError
    try:
        name: object = normalise_name(typed)
    except ValueError:
        name = ValueError
    assert name == expected


@given(st.text(alphabet=INVISIBLE + " \t\u3164", max_size=20))
def test_invisible_characters_alone_never_make_a_name(typed: str) -> None:
    with pytest.raises(ValueError, match="visible"):
        normalise_name(typed)


def test_a_name_round_trips_through_both_encodings() -> None:
    join = Join(session="commons", name="Ly\u200bra")
    assert join.name == "Lyra"
    for encoding in Encoding:
        decoded = decode_client(encode(join, encoding), encoding)
        assert isinstance(decoded, Join)
        assert decoded.name == "Lyra"
