"""Hand-encoded fields and TickBatches parse as the contract's messages; concatenation coalesces."""

from __future__ import annotations

import pytest
from tickmesh.common.v1 import market_pb2

from mesh import wire

START = 1_000
TickBatch = market_pb2.TickBatch


def tick(symbol: str, seq: int) -> market_pb2.Tick:
    return market_pb2.Tick(symbol=symbol, sequence=seq, bid=1.0, ask=1.1, broker="fxcm")


def batch(first: int, last: int) -> bytes:
    """A serialized TickBatch of one EURUSD tick per sequence number."""
    message = TickBatch(first_seq=first, last_seq=last, send_time_us=7)
    for seq in range(first, last + 1):
        message.ticks.add(symbol="EURUSD", sequence=seq, bid=1.0, ask=1.1)
    return message.SerializeToString()


def test_varint_matches_protobuf() -> None:
    assert wire.varint(0) == b"\x00"
    for value in (1, 127, 128, 300, 2**32, 2**64 - 1):
        # first_seq is field 2, varint: one tag byte, then the value's varint.
        assert wire.varint(value) == TickBatch(first_seq=value).SerializeToString()[1:]
    with pytest.raises(ValueError, match="non-negative"):
        wire.varint(-1)


def test_tags_come_from_the_descriptor() -> None:
    first_seq = TickBatch.DESCRIPTOR.fields_by_name["first_seq"].number
    assert wire.tag(TickBatch, "first_seq") == wire.varint(first_seq << 3)
    ticks = TickBatch.DESCRIPTOR.fields_by_name["ticks"].number
    assert wire.tag(TickBatch, "ticks") == wire.varint(ticks << 3 | 2)
    with pytest.raises(ValueError, match="bid"):
        wire.tag(market_pb2.Tick, "bid")  # a double: fixed width, not encoded by hand


def test_fields_round_trip() -> None:
    first_seq, send_time = wire.tag(TickBatch, "first_seq"), wire.tag(TickBatch, "send_time_us")
    assert wire.uint_field(first_seq, 0) == b""
    encoded = wire.uint_field(first_seq, 300) + wire.uint_field(send_time, 2**40)
    assert TickBatch.FromString(encoded) == TickBatch(first_seq=300, send_time_us=2**40)
    one = tick("EURUSD", 1).SerializeToString()
    ticks = wire.len_field(wire.tag(TickBatch, "ticks"), one)
    assert TickBatch.FromString(ticks) == TickBatch(ticks=[tick("EURUSD", 1)])


def test_tick_batch_parses_with_every_field() -> None:
    ticks = [tick("EURUSD", 5), tick("GBPUSD", 7)]
    encoded = b"".join(wire.tick_field(t.SerializeToString()) for t in ticks)
    framed = wire.tick_batch(encoded, 5, 9, 1_700_000_000_000_000)
    expected = TickBatch(ticks=ticks, first_seq=5, last_seq=9, send_time_us=1_700_000_000_000_000)
    assert TickBatch.FromString(framed) == expected
    # The shared prefix plus a per-message send time is the same batch, byte for byte.
    assert wire.tick_batch_prefix(encoded, 5, 9) + wire.send_time(1_700_000_000_000_000) == framed
    assert framed == expected.SerializeToString()


def test_concatenated_batches_are_one_batch_whose_first_seq_is_fixed_by_appending() -> None:
    # The property coalescing relies on (ARCHITECTURE.md): what we build joins tick bytes
    # and writes the header once, which must equal this.
    a = TickBatch(ticks=[tick("EURUSD", 1)], first_seq=1, last_seq=1)
    b = TickBatch(ticks=[tick("GBPUSD", 2)], first_seq=2, last_seq=2)
    first_seq = wire.tag(TickBatch, "first_seq")
    joined = a.SerializeToString() + b.SerializeToString() + wire.uint_field(first_seq, a.first_seq)
    merged = TickBatch.FromString(joined)
    assert [t.sequence for t in merged.ticks] == [1, 2]
    assert (merged.first_seq, merged.last_seq) == (1, 2)


def test_concatenated_batches_are_one_valid_batch_with_the_first_first_seq() -> None:
    parts = [batch(START + 1, START + 3), batch(START + 4, START + 9)]
    merged = TickBatch.FromString(wire.coalesce(parts, START + 1, 123))
    assert [t.sequence for t in merged.ticks] == list(range(START + 1, START + 10))
    assert (merged.first_seq, merged.last_seq, merged.send_time_us) == (START + 1, START + 9, 123)
