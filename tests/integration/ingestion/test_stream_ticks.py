"""StreamTicks over a real server: live, replay and seam, gaps, heartbeats, shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import grpc
import pytest
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.server import MeshServer
from tests.integration.ingestion.conftest import (
    WAIT,
    ServerFactory,
    Stub,
    publish,
    read,
    read_ticks_through,
    sidecar_quotes,
)

ChannelFactory = Callable[[str], grpc.aio.Channel]


async def test_live_stream_starts_with_the_marker_and_carries_published_ticks(stub: Stub) -> None:
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=0))
    marker = await read(call)
    assert marker.WhichOneof("payload") == "replay_complete"
    assert marker.replay_complete.replayed == 0
    reply = await publish(stub, sidecar_quotes(20))
    assert reply.accepted == 20
    seen = await read_ticks_through(call, reply.last_seq)
    assert seen == list(range(reply.last_seq - 19, reply.last_seq + 1))
    call.cancel()


async def test_replay_then_marker_then_live_has_no_gap_or_duplicate_at_the_seam(
    stub: Stub,
) -> None:
    first = await publish(stub, sidecar_quotes(10))
    await publish(stub, sidecar_quotes(10))
    resume_from = first.last_seq - 4

    async def keep_publishing() -> int:
        last = 0
        for _ in range(20):  # racing the stream's replay, so live ticks meet the seam
            last = (await publish(stub, sidecar_quotes(5))).last_seq
        return last

    publisher = asyncio.create_task(keep_publishing())
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=resume_from))
    kinds, sequences = [], []
    while "replay_complete" not in kinds:
        message = await read(call)
        kinds.append(message.WhichOneof("payload"))
        sequences += [t.sequence for t in message.batch.ticks]
    marker = message.replay_complete
    assert marker.replayed == len(sequences) >= 14  # 4 + 10, and whatever raced in
    assert marker.last_replayed_seq == sequences[-1]
    final = await asyncio.wait_for(publisher, WAIT)
    sequences += await read_ticks_through(call, final)
    assert sequences == list(range(resume_from + 1, final + 1))
    call.cancel()


async def test_a_sequence_older_than_the_buffer_gets_a_gap_notice_first(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory
) -> None:
    server = await start_ingestion(ingestion_buffer_depth="10")
    stub = Stub(aio_channel(server.address))
    first = await publish(stub, sidecar_quotes(10))
    for _ in range(4):
        last = await publish(stub, sidecar_quotes(10))
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=first.last_seq - 5))
    gap = (await read(call)).gap
    oldest = (
        await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    ).oldest_buffered_seq
    assert (gap.from_seq, gap.to_seq) == (first.last_seq - 4, oldest - 1)
    assert gap.reason == "requested sequence is older than the buffer"
    replayed = await read_ticks_through(call, last.last_seq)
    assert replayed == list(range(oldest, last.last_seq + 1))
    assert (await read(call)).replay_complete.replayed == len(replayed)
    call.cancel()


async def test_a_sequence_from_before_a_restart_is_a_gap_up_to_this_life(stub: Stub) -> None:
    status = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    # Nothing emitted yet: last_seq is this life's starting point, a unix-microsecond time.
    assert abs(status.last_seq - time.time_ns() // 1_000) < 3_600_000_000
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=status.last_seq - 1_000))
    gap = (await read(call)).gap
    assert (gap.from_seq, gap.to_seq) == (status.last_seq - 999, status.last_seq)
    assert (await read(call)).replay_complete.last_replayed_seq == status.last_seq
    reply = await publish(stub, sidecar_quotes(3))
    assert await read_ticks_through(call, reply.last_seq) == [
        status.last_seq + 1,
        status.last_seq + 2,
        status.last_seq + 3,
    ]
    call.cancel()


async def test_symbol_filter_and_max_batch_ticks(stub: Stub) -> None:
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(symbols=["GBPUSD"], max_batch_ticks=3))
    await read(call)
    gbp = sidecar_quotes(7, symbol="GBPUSD")
    for quote in gbp:
        quote.bid, quote.ask = quote.bid + 0.185, 1.27003  # a GBPUSD price
    reply = await publish(stub, sidecar_quotes(5) + gbp)
    sizes, symbols, seen = [], set(), []
    while not seen or seen[-1] < reply.last_seq:
        batch = (await read(call)).batch
        sizes.append(len(batch.ticks))
        symbols |= {t.symbol for t in batch.ticks}
        seen += [t.sequence for t in batch.ticks]
    assert symbols == {"GBPUSD"} and max(sizes) <= 3
    assert seen == list(range(reply.last_seq - 6, reply.last_seq + 1))
    call.cancel()


async def test_an_unknown_symbol_filter_is_invalid_argument(stub: Stub) -> None:
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(symbols=["EURUSD", "NOPE12"]))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read(call)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "NOPE12" in (info.value.details() or "")


async def test_an_idle_stream_gets_heartbeats(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory
) -> None:
    server = await start_ingestion(ingestion_heartbeat_seconds="0.05")
    stub = Stub(aio_channel(server.address))
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest())
    last_seq = (await read(call)).replay_complete.last_replayed_seq
    heartbeat = (await read(call)).heartbeat
    assert heartbeat.last_seq == last_seq and heartbeat.server_time_us > 0
    call.cancel()


async def test_server_stop_ends_an_open_stream_promptly(ingestion: MeshServer, stub: Stub) -> None:
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest())
    await read(call)
    stopping = asyncio.create_task(ingestion.stop())
    # The grace period is 30 s: the stream must end well before it, when the stop begins.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read(call)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == "ingestion is stopping"
    await asyncio.wait_for(stopping, WAIT)
