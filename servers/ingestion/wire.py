"""Hand-built protobuf framing around pre-serialized TickBatch bytes (no re-serialization)."""

from __future__ import annotations

from collections.abc import Sequence

from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

_VARINT, _LEN = 0, 2


def _tag(descriptor: object, name: str, wire_type: int) -> bytes:
    # Field numbers come from the generated descriptors, so a contract change that moved
    # one would change the framing with it instead of silently corrupting the stream.
    number: int = descriptor.fields_by_name[name].number  # type: ignore[attr-defined]
    return varint(number << 3 | wire_type)


def varint(value: int) -> bytes:
    """`value` (non-negative) as a protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_RESPONSE_BATCH = _tag(ingestion_pb2.StreamTicksResponse.DESCRIPTOR, "batch", _LEN)
_FIRST_SEQ = _tag(market_pb2.TickBatch.DESCRIPTOR, "first_seq", _VARINT)
_SEND_TIME = _tag(market_pb2.TickBatch.DESCRIPTOR, "send_time_us", _VARINT)


def batch_response(batch: bytes) -> bytes:
    """A serialized StreamTicksResponse whose payload is the serialized TickBatch `batch`."""
    return b"".join((_RESPONSE_BATCH, varint(len(batch)), batch))


def coalesce(batches: Sequence[bytes], first_seq: int, send_time_us: int) -> bytes:
    """Several serialized TickBatches (in sequence order) as one serialized TickBatch.

    Concatenated messages parse as one: repeated ticks accumulate and for scalars the
    last occurrence wins. last_seq is already the last batch's; first_seq and send_time_us
    are appended so that the first batch's first_seq and the current send time win.
    """
    return b"".join((*batches, _FIRST_SEQ, varint(first_seq), _SEND_TIME, varint(send_time_us)))
