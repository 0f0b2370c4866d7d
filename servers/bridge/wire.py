"""Protobuf wire encoding of the Bridge's outgoing messages, built from pre-serialized ticks.

The hot path never builds SubscribeResponse objects: projected ticks are serialized once
per (tier, batch) as their `TickBatch.ticks` field encoding, and a message is those bytes
joined plus a few scalar fields encoded here. Concatenated encodings of one message type
parse as one message (repeated fields append), which is what makes coalescing a join.
"""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

_VARINT, _LEN = 0, 2
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))


def varint(value: int) -> bytes:
    """The base-128 varint encoding of a non-negative integer."""
    if value < 0x80:
        if value < 0:
            raise ValueError("varint encodes non-negative integers only")
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def uint_field(number: int, value: int) -> bytes:
    """A varint field; empty for 0, as proto3 leaves defaults out."""
    return _tag(number, _VARINT) + varint(value) if value else b""


def len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (sub-message, string or bytes)."""
    return _tag(number, _LEN) + varint(len(payload)) + payload


# TickBatch fields.
_TICKS, _FIRST_SEQ, _LAST_SEQ, _SEND_TIME = 1, 2, 3, 4
# SubscribeResponse fields.
_ACK, _BATCH, _SKIPPED, _MESSAGE_SEQ = 1, 2, 5, 6
# SubscriptionAck.snapshot.
_SNAPSHOT = 7


def tick_field(tick_payload: bytes) -> bytes:
    """One serialized Tick as an entry of TickBatch.ticks: what projection caches."""
    return len_field(_TICKS, tick_payload)


def tick_batch(ticks: bytes, first_seq: int, last_seq: int, send_time_us: int) -> bytes:
    """A serialized TickBatch from joined tick_field encodings."""
    return tick_batch_prefix(ticks, first_seq, last_seq) + send_time(send_time_us)


def tick_batch_prefix(ticks: bytes, first_seq: int, last_seq: int) -> bytes:
    """A serialized TickBatch without its send time: the part many subscribers share."""
    return b"".join((ticks, uint_field(_FIRST_SEQ, first_seq), uint_field(_LAST_SEQ, last_seq)))


def send_time(send_time_us: int) -> bytes:
    """TickBatch.send_time_us, appended per message to a shared prefix (fields of one
    message may come in any order, and a later one is simply the rest of it)."""
    return uint_field(_SEND_TIME, send_time_us)


def _envelope(payload_field: int, payload: bytes, skipped: int, message_seq: int) -> bytes:
    return b"".join(
        (
            len_field(payload_field, payload),
            uint_field(_SKIPPED, skipped),
            uint_field(_MESSAGE_SEQ, message_seq),
        )
    )


def batch_response(batch: bytes, *, skipped: int, message_seq: int) -> bytes:
    """A serialized SubscribeResponse carrying a serialized TickBatch."""
    return _envelope(_BATCH, batch, skipped, message_seq)


def ack_response(
    ack: bridge_pb2.SubscriptionAck, snapshot: bytes | None, message_seq: int
) -> bytes:
    """A serialized SubscribeResponse carrying `ack` with a pre-serialized snapshot batch."""
    payload = ack.SerializeToString()
    if snapshot is not None:
        payload += len_field(_SNAPSHOT, snapshot)
    return _envelope(_ACK, payload, 0, message_seq)


def gap_response(
    from_seq: int, to_seq: int, reason: str, *, skipped: int, message_seq: int
) -> bytes:
    """A serialized SubscribeResponse carrying a GapNotice (rare: built from objects)."""
    gap = market_pb2.GapNotice(from_seq=from_seq, to_seq=to_seq, reason=reason)
    response = bridge_pb2.SubscribeResponse(gap=gap, skipped=skipped, message_seq=message_seq)
    return response.SerializeToString()


def heartbeat_response(
    server_time_us: int, last_seq: int, *, skipped: int, message_seq: int
) -> bytes:
    """A serialized SubscribeResponse carrying a Heartbeat (about one a second when idle)."""
    beat = market_pb2.Heartbeat(server_time_us=server_time_us, last_seq=last_seq)
    response = bridge_pb2.SubscribeResponse(
        heartbeat=beat, skipped=skipped, message_seq=message_seq
    )
    return response.SerializeToString()
