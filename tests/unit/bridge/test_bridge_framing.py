"""The Bridge's hand-framed SubscribeResponses parse as the contract's messages."""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2

from mesh import wire
from servers.bridge import framing
from tests.unit.bridge.helpers import parse, tick


def test_batch_response_parses_with_every_field() -> None:
    ticks = [tick("EURUSD", 5), tick("GBPUSD", 7)]
    encoded = b"".join(wire.tick_field(t.SerializeToString()) for t in ticks)
    payload = framing.batch_response(
        wire.tick_batch(encoded, 5, 9, 1_700_000_000_000_000), skipped=3, message_seq=2
    )
    message = parse(payload)
    assert message.WhichOneof("payload") == "batch"
    assert list(message.batch.ticks) == ticks
    assert (message.batch.first_seq, message.batch.last_seq) == (5, 9)
    assert message.batch.send_time_us == 1_700_000_000_000_000
    assert (message.skipped, message.message_seq) == (3, 2)


def test_batch_response_leaves_zero_counters_out() -> None:
    batch = wire.tick_batch(wire.tick_field(tick("EURUSD", 1).SerializeToString()), 1, 1, 2)
    payload = framing.batch_response(batch, skipped=0, message_seq=0)
    assert payload == bridge_pb2.SubscribeResponse(batch=parse(payload).batch).SerializeToString()


def test_ack_response_carries_the_snapshot() -> None:
    snapshot = wire.tick_batch(wire.tick_field(tick("EURUSD", 4).SerializeToString()), 4, 9, 1)
    ack = bridge_pb2.SubscriptionAck(session_id="s", symbols=["EURUSD"], start_seq=10)
    message = parse(framing.ack_response(ack, snapshot, 1))
    assert message.ack.session_id == "s"
    assert message.ack.start_seq == 10
    assert [t.sequence for t in message.ack.snapshot.ticks] == [4]
    assert message.ack.snapshot.last_seq == 9
    assert message.message_seq == 1


def test_gap_and_heartbeat_responses() -> None:
    gap = parse(framing.gap_response(3, 8, "lost", skipped=1, message_seq=4))
    assert (gap.gap.from_seq, gap.gap.to_seq, gap.gap.reason) == (3, 8, "lost")
    assert (gap.skipped, gap.message_seq) == (1, 4)
    beat = parse(framing.heartbeat_response(123, 42, skipped=0, message_seq=5))
    assert (beat.heartbeat.server_time_us, beat.heartbeat.last_seq, beat.message_seq) == (
        123, 42, 5,
    )  # fmt: skip
