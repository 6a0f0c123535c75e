"""The owner's count of a device's batches, which come from several ingest processes: in
order, with gaps (lost), twice (a duplicate), or the other way round (late, then not lost)."""

from __future__ import annotations

from dreamcommons.contracts.device_protocol import BioSample, SampleBatch
from dreamcommons.server.cluster.devices import BatchCounts

TWO = (BioSample(t=0.0), BioSample(t=0.1))


def batch(seq: int, bd_seq: int = 0) -> SampleBatch:
    return SampleBatch(seq=seq, bd_seq=bd_seq, samples=TWO)


def test_batches_in_order_lose_nothing_and_a_duplicate_is_not_counted() -> None:
    counts = BatchCounts()
    assert all(counts.count("pod-a", batch(seq)) for seq in range(5))
    assert not counts.count("pod-a", batch(3))  # heard again
    assert (counts.batches, counts.samples, counts.lost) == (5, 10, 0)


def test_a_gap_is_lost_until_the_missing_batch_comes_late() -> None:
    counts = BatchCounts()
    counts.count("pod-a", batch(0))
    counts.count("pod-a", batch(3))  # 1 and 2 went through another ingest, not here yet
    assert counts.lost == 4
    assert counts.count("pod-a", batch(2))
    assert counts.lost == 2
    assert not counts.count("pod-a", batch(2))  # late once, then a duplicate
    assert (counts.batches, counts.lost) == (3, 2)


def test_devices_are_counted_apart_and_a_restarted_one_counts_from_zero() -> None:
    counts = BatchCounts()
    counts.count("pod-a", batch(0))
    counts.count("pod-b", batch(7))  # another device's sequence: no gap for pod-a
    counts.count("pod-a", batch(2))  # seq 1 missing
    assert counts.count("pod-a", batch(0, bd_seq=1))  # restarted: from zero, no loss
    assert counts.count("pod-a", batch(1, bd_seq=1))
    assert (counts.batches, counts.lost) == (5, 2)


def test_a_held_batch_fills_a_gap_but_never_begins_a_sequence() -> None:
    counts = BatchCounts()
    assert not counts.count("pod-a", batch(4), held=True)  # from before the pairing
    counts.count("pod-a", batch(5))
    counts.count("pod-a", batch(7))  # 6 was heard at an ingest that did not know yet
    assert counts.count("pod-a", batch(6), held=True)
    assert not counts.count("pod-a", batch(3), held=True)
    assert (counts.batches, counts.lost, counts.dropped) == (3, 0, 2)
