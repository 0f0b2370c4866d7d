"""The Bridge's outgoing SubscribeResponse messages, framed around pre-serialized ticks.

The hot path never builds SubscribeResponse objects: projected ticks are serialized once
per (tier, batch) as their `TickBatch.ticks` field encoding (mesh.wire), and a message is
those bytes joined plus a few scalar fields encoded here.
"""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from mesh.wire import len_field, tag, uint_field

_ACK = tag(bridge_pb2.SubscribeResponse, "ack")
_BATCH = tag(bridge_pb2.SubscribeResponse, "batch")
_SKIPPED = tag(bridge_pb2.SubscribeResponse, "skipped")
_MESSAGE_SEQ = tag(bridge_pb2.SubscribeResponse, "message_seq")
_SNAPSHOT = tag(bridge_pb2.SubscriptionAck, "snapshot")


def _envelope(payload_tag: bytes, payload: bytes, skipped: int, message_seq: int) -> bytes:
    return b"".join(
        (
            len_field(payload_tag, payload),
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
