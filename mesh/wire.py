"""Protobuf wire encoding by hand, to frame pre-serialized bytes without re-serializing them.

Ingestion serializes each TickBatch once for every consumer, and the Bridge serializes each
projected tick once per tier; messages around them are those bytes joined plus a few fields
encoded here. Concatenated encodings of one message type parse as one message (repeated
fields append, the last scalar wins), which is what makes framing and coalescing a join.

Field tags come from the generated descriptors, so a contract change that renumbered a
field would change the framing with it instead of silently corrupting the stream.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from tickmesh.common.v1 import market_pb2

_VARINT, _LEN = 0, 2
# Signed ints encode like unsigned ones while non-negative, and varint() refuses the rest;
# zigzag (sint) and fixed-width fields are encoded differently and not supported.
_WIRE_TYPES = {
    FieldDescriptor.TYPE_UINT32: _VARINT,
    FieldDescriptor.TYPE_UINT64: _VARINT,
    FieldDescriptor.TYPE_INT32: _VARINT,
    FieldDescriptor.TYPE_INT64: _VARINT,
    FieldDescriptor.TYPE_BOOL: _VARINT,
    FieldDescriptor.TYPE_ENUM: _VARINT,
    FieldDescriptor.TYPE_MESSAGE: _LEN,
    FieldDescriptor.TYPE_BYTES: _LEN,
    FieldDescriptor.TYPE_STRING: _LEN,
}
# Most values the hot path encodes (lengths of ticks, small counters) fit in one byte.
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


def tag(message: type[Message], field: str) -> bytes:
    """The encoded tag (field number and wire type) of `message`'s field `field`.

    Only varint (holding non-negative values) and length-delimited fields. Compute tags
    once, as module constants: the hot path only joins bytes.
    """
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    wire_type = _WIRE_TYPES.get(descriptor.type)
    if wire_type is None:
        raise ValueError(f"{descriptor.full_name}: no hand encoding for its field type")
    return varint(descriptor.number << 3 | wire_type)


def uint_field(field_tag: bytes, value: int) -> bytes:
    """A varint field; empty for 0, as proto3 leaves defaults out."""
    return field_tag + varint(value) if value else b""


def len_field(field_tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (sub-message, string or bytes)."""
    return b"".join((field_tag, varint(len(payload)), payload))


# TickBatch (tickmesh.common.v1), which Ingestion and the Bridge both frame.
_TICKS = tag(market_pb2.TickBatch, "ticks")
_FIRST_SEQ = tag(market_pb2.TickBatch, "first_seq")
_LAST_SEQ = tag(market_pb2.TickBatch, "last_seq")
_SEND_TIME = tag(market_pb2.TickBatch, "send_time_us")


_RELEASED_TIME = tag(market_pb2.Tick, "released_time_us")

TICK_DELIVERY_FIELDS = frozenset({"released_time_us"})
"""Tick fields the Bridge sets as it delivers a tick: never a producer's, never recorded
with the history, never part of a tier's projection."""


def released(entry: bytes, released_time_us: int) -> bytes:
    """A tick_field encoding with Tick.released_time_us appended (a field after the
    others is simply more of the message), for an update the tier's throttle held."""
    position = len(_TICKS)
    while entry[position] & 0x80:  # the payload's length, a varint
        position += 1
    return tick_field(entry[position + 1 :] + uint_field(_RELEASED_TIME, released_time_us))


def tick_field(tick_payload: bytes) -> bytes:
    """One serialized Tick as an entry of TickBatch.ticks: what the Bridge's projection caches."""
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


def coalesce(batches: Sequence[bytes], first_seq: int, send_time_us: int) -> bytes:
    """Several serialized TickBatches (in sequence order) as one serialized TickBatch.

    Concatenated messages parse as one: repeated ticks accumulate and for scalars the
    last occurrence wins. last_seq is already the last batch's; first_seq and send_time_us
    are appended so that the first batch's first_seq and the current send time win.
    """
    # Written even when 0, unlike uint_field: an appended field must override the batches'.
    return b"".join((*batches, _FIRST_SEQ, varint(first_seq), _SEND_TIME, varint(send_time_us)))
