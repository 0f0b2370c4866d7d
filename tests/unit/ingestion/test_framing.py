"""Ingestion's hand-framed StreamTicksResponse parses as the contract's message."""

from __future__ import annotations

from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from servers.ingestion.framing import batch_response

START = 1_000


def test_batch_response_frames_a_batch_without_reserializing() -> None:
    batch = market_pb2.TickBatch(first_seq=START + 1, last_seq=START + 400, send_time_us=7)
    for seq in range(START + 1, START + 401):
        batch.ticks.add(symbol="EURUSD", sequence=seq, bid=1.0, ask=1.1)
    data = batch.SerializeToString()  # longer than 127 bytes: a multi-byte length
    response = ingestion_pb2.StreamTicksResponse.FromString(batch_response(data))
    assert response.WhichOneof("payload") == "batch"
    assert response.batch.SerializeToString() == data
