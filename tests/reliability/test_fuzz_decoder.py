"""Tens of thousands of random and mutated frames at the decoder: each one is a client message
or a ``ProtocolError``; nothing else escapes, nothing hangs."""

from __future__ import annotations

import random
import typing

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamcommons.contracts.errors import ProtocolError
from dreamcommons.contracts.protocol import ClientMessage, Encoding, decode_client, encode
from tests.reliability.frames import frames, mutants

MESSAGE_TYPES = typing.get_args(typing.get_args(ClientMessage)[0])
SEEDS = 8  # frames drawn by hypothesis per encoding and example
MUTANTS = 24  # byte-level mutants of each
EXAMPLES = 60  # 60 x 2 encodings x 8 x (1 + 24) = 24,000 frames


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.randoms(use_true_random=False))
def test_the_decoder_survives_anything(data: st.DataObject, rng: random.Random) -> None:
    for encoding in Encoding:
        seeds = data.draw(st.lists(frames(encoding), min_size=SEEDS, max_size=SEEDS))
        batch = seeds + [m for seed in seeds for m in mutants(seed, rng, MUTANTS)]
        refused: list[ProtocolError] = []
        for frame in batch:
            try:
                message = decode_client(frame, encoding)
            except ProtocolError as error:
                refused.append(error)
                continue
            assert isinstance(message, MESSAGE_TYPES)
            assert decode_client(encode(message, encoding), encoding) == message
        assert all(error.code and error.message for error in refused)
