"""An ack, framed after a fixed head (there is one for every contribution), is the frame the
general path makes of it, and reads back as the same ack."""

from __future__ import annotations

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.contracts.protocol import Ack, Encoding, decode_server, encode

# every size msgpack encodes an integer in, negative ones too
cids = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from([0, 127, 128, 2**16, 2**32]))


@given(cids)
def test_an_ack_is_framed_as_the_general_path_frames_it(cid: int) -> None:
    ack = Ack(cid=cid)
    general = msgpack.packb(ack.model_dump(mode="json"), use_bin_type=True)
    assert encode(ack, Encoding.MSGPACK) == general
    assert encode(ack, Encoding.JSON) == ack.model_dump_json()


@given(cids)
def test_an_ack_reads_back_as_itself(cid: int) -> None:
    ack = Ack(cid=cid)
    for encoding in Encoding:
        assert decode_server(encode(ack, encoding), encoding) == ack
