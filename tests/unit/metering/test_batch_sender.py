"""SpooledBatches: a producer's batches survive Storage outages and restarts, bad ones are
dead-lettered (here with Ingestion's broker samples as the producer)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import grpc
import pytest
from tickmesh.storage.v1 import storage_pb2

from mesh.metering.batch_sender import SpooledBatches
from mesh.metering.spool import Spool
from servers.ingestion.broker_health import BrokerBoard
from servers.ingestion.broker_samples import BrokerSampler

S = 1_000_000


class _Storage:
    def __init__(self) -> None:
        self.received: list[storage_pb2.RecordBrokerSamplesRequest] = []
        self.fail: grpc.StatusCode | None = None

    async def __call__(self, payload: bytes) -> int:
        if self.fail is not None:
            raise grpc.aio.AioRpcError(self.fail, grpc.aio.Metadata(), grpc.aio.Metadata(), "no")
        request = storage_pb2.RecordBrokerSamplesRequest.FromString(payload)
        self.received.append(request)
        return len(request.samples)


def _sampler() -> BrokerSampler:
    now = [10 * S]
    board = BrokerBoard()
    sampler = BrokerSampler(board, Counter, lambda: now[0])
    board.set_up("fxcm", True, now[0], expected_rate=5.0)
    now[0] += 2 * S
    return sampler


async def test_batches_wait_in_the_spool_until_storage_takes_them(tmp_path: Path) -> None:
    storage = _Storage()
    sender = SpooledBatches(
        "broker samples", _sampler().take_request, Spool(tmp_path, "b"), storage, flush_s=1
    )
    await sender.flush()
    storage.fail = grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError):
        await sender.deliver()
    assert len(sender.spool) == 1
    sender.spool.close()

    restarted = SpooledBatches(
        "broker samples", lambda: None, Spool(tmp_path, "b"), storage, flush_s=1
    )
    storage.fail = None
    await restarted.deliver()
    assert [s.broker for r in storage.received for s in r.samples] == ["fxcm"]
    assert storage.received[0].samples[0].up_us == 2 * S
    assert (len(restarted.spool), restarted.sent) == (0, 1)
    restarted.spool.close()


async def test_a_batch_storage_refuses_is_dead_lettered(tmp_path: Path) -> None:
    storage = _Storage()
    sender = SpooledBatches(
        "broker samples", _sampler().take_request, Spool(tmp_path, "b"), storage, flush_s=1
    )
    await sender.flush()
    storage.fail = grpc.StatusCode.INVALID_ARGUMENT
    await sender.deliver()
    assert len(sender.spool) == 0 and storage.received == []
    sender.spool.close()
