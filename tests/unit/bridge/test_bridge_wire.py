"""Hand-encoded messages parse as the contract's messages; concatenation coalesces."""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from servers.bridge import wire
from tests.unit.bridge.helpers import parse, tick


def test_varint_matches_protobuf() -> None:
    assert wire.varint(0) == b"\x00"
    for value in (1, 127, 128, 300, 2**32, 2**64 - 1):
        # first_seq is field 2, varint: one tag byte, then the value's varint.
        assert wire.varint(value) == market_pb2.TickBatch(first_seq=value).SerializeToString()[1:]


def test_batch_response_parses_with_every_field() -> None:
    ticks = [tick("EURUSD", 5), tick("GBPUSD", 7)]
    encoded = b"".join(wire.tick_field(t.SerializeToString()) for t in ticks)
    payload = wire.batch_response(
        wire.tick_batch(encoded, 5, 9, 1_700_000_000_000_000), skipped=3, message_seq=2
    )
    message = parse(payload)
    assert message.WhichOneof("payload") == "batch"
    assert list(message.batch.ticks) == ticks
    assert (message.batch.first_seq, message.batch.last_seq) == (5, 9)
    assert message.batch.send_time_us == 1_700_000_000_000_000
    assert (message.skipped, message.message_seq) == (3, 2)


def test_concatenated_batches_are_one_batch_whose_first_seq_is_fixed_by_appending() -> None:
    # The property coalescing relies on (ARCHITECTURE.md): what we build joins tick bytes
    # and writes the header once, which must equal this.
    a = market_pb2.TickBatch(ticks=[tick("EURUSD", 1)], first_seq=1, last_seq=1)
    b = market_pb2.TickBatch(ticks=[tick("GBPUSD", 2)], first_seq=2, last_seq=2)
    joined = a.SerializeToString() + b.SerializeToString() + wire.uint_field(2, a.first_seq)
    merged = market_pb2.TickBatch.FromString(joined)
    assert [t.sequence for t in merged.ticks] == [1, 2]
    assert (merged.first_seq, merged.last_seq) == (1, 2)


def test_ack_response_carries_the_snapshot() -> None:
    snapshot = wire.tick_batch(wire.tick_field(tick("EURUSD", 4).SerializeToString()), 4, 9, 1)
    ack = bridge_pb2.SubscriptionAck(session_id="s", symbols=["EURUSD"], start_seq=10)
    message = parse(wire.ack_response(ack, snapshot, 1))
    assert message.ack.session_id == "s"
    assert message.ack.start_seq == 10
    assert [t.sequence for t in message.ack.snapshot.ticks] == [4]
    assert message.ack.snapshot.last_seq == 9
    assert message.message_seq == 1


def test_gap_and_heartbeat_responses() -> None:
    gap = parse(wire.gap_response(3, 8, "lost", skipped=1, message_seq=4))
    assert (gap.gap.from_seq, gap.gap.to_seq, gap.gap.reason) == (3, 8, "lost")
    assert (gap.skipped, gap.message_seq) == (1, 4)
    beat = parse(wire.heartbeat_response(123, 42, skipped=0, message_seq=5))
    assert (beat.heartbeat.server_time_us, beat.heartbeat.last_seq, beat.message_seq) == (
        123, 42, 5,
    )  # fmt: skip
