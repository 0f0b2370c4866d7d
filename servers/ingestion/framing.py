"""StreamTicksResponse framed around a pre-serialized TickBatch (no re-serialization)."""

from __future__ import annotations

from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.wire import len_field, tag

_BATCH = tag(ingestion_pb2.StreamTicksResponse, "batch")


def batch_response(batch: bytes) -> bytes:
    """A serialized StreamTicksResponse whose payload is the serialized TickBatch `batch`."""
    return len_field(_BATCH, batch)
