"""stream_ticks and the fan-out: replay, seam, gaps, laggards, filters, heartbeats, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.errors import Unavailable
from servers.ingestion.pipeline import IngestionPipeline
from servers.ingestion.stream import StreamRequest, stream_ticks
from tests.unit.ingestion.helpers import FakeClock, publish, ticking_quotes

WAIT = 5.0
Response = ingestion_pb2.StreamTicksResponse


def open_stream(
    pipeline: IngestionPipeline,
    from_seq: int = 0,
    symbols: frozenset[str] = frozenset(),
    max_batch_ticks: int = 2_000,
    heartbeat_s: float = 60.0,
) -> AsyncIterator[bytes]:
    return stream_ticks(
        StreamRequest(from_seq, symbols, max_batch_ticks),
        ring=pipeline.ring,
        fanout=pipeline.fanout,
        newest_seq=lambda: pipeline.last_seq,
        clock=pipeline.clock,
        heartbeat_s=heartbeat_s,
    )


async def read(stream: AsyncIterator[bytes]) -> Response:
    return Response.FromString(await asyncio.wait_for(anext(stream), WAIT))


async def read_until_complete(stream: AsyncIterator[bytes]) -> list[Response]:
    out = [await read(stream)]
    while out[-1].WhichOneof("payload") != "replay_complete":
        out.append(await read(stream))
    return out


def sequences(responses: list[Response]) -> list[int]:
    return [t.sequence for r in responses if r.HasField("batch") for t in r.batch.ticks]


async def test_live_starts_with_a_marker_and_every_consumer_gets_the_same_bytes() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    publish(pipeline, 5)
    one, two = open_stream(pipeline), open_stream(pipeline)
    for stream in (one, two):
        marker = await read(stream)
        assert marker.replay_complete.replayed == 0
        assert marker.replay_complete.last_replayed_seq == pipeline.last_seq
    publish(pipeline, 3)
    first, second = await anext(one), await anext(two)
    assert first is second  # serialized once, shared
    batch, last = Response.FromString(first).batch, pipeline.last_seq
    assert [t.sequence for t in batch.ticks] == [last - 2, last - 1, last]
    assert (batch.first_seq, batch.last_seq) == (last - 2, last)


async def test_replay_then_marker_then_live_without_gap_or_duplicate() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    for _ in range(3):
        publish(pipeline, 10)
    start = pipeline.aggregator.start_seq
    stream = open_stream(pipeline, from_seq=start + 5)
    replay = await read_until_complete(stream)
    assert replay[-1].replay_complete.replayed == 25
    assert replay[-1].replay_complete.last_replayed_seq == start + 30
    publish(pipeline, 7)
    live = [await read(stream)]
    got = sequences(replay) + sequences(live)
    assert got == list(range(start + 6, start + 38))
    # The replay's partial first chunk and the whole ones arrive as valid batches.
    batches = [r.batch for r in replay if r.HasField("batch")]
    assert all(b.first_seq == b.ticks[0].sequence for b in batches)


async def test_ticks_pending_before_a_stream_opens_are_neither_lost_nor_doubled() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    publish(pipeline, 4)
    start = pipeline.aggregator.start_seq
    pipeline.submit(ticking_quotes(3, start=4))
    stream = open_stream(pipeline, from_seq=start + 2)  # the 3 new ticks are not yet published
    replay = await read_until_complete(stream)
    pipeline.flush()
    live = await read(stream)
    assert sequences([*replay, live]) == list(range(start + 3, start + 8))


async def test_a_sequence_older_than_the_buffer_gets_a_gap_notice_first() -> None:
    pipeline = IngestionPipeline(clock=FakeClock(), buffer_depth=10)
    for _ in range(5):
        publish(pipeline, 10)
    start = pipeline.aggregator.start_seq
    stream = open_stream(pipeline, from_seq=start + 3)
    replay = await read_until_complete(stream)
    gap = replay[0].gap
    assert (gap.from_seq, gap.to_seq) == (start + 4, start + 40)
    assert "older than the buffer" in gap.reason
    assert sequences(replay) == list(range(start + 41, start + 51))


async def test_a_consumer_behind_gets_one_coalesced_batch() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    stream = open_stream(pipeline)
    await read(stream)
    for _ in range(4):
        publish(pipeline, 5)
    coalesced = await read(stream)
    start = pipeline.aggregator.start_seq
    assert [t.sequence for t in coalesced.batch.ticks] == list(range(start + 1, start + 21))
    assert (coalesced.batch.first_seq, coalesced.batch.last_seq) == (start + 1, start + 20)


async def test_a_consumer_past_its_queue_catches_up_from_the_buffer() -> None:
    pipeline = IngestionPipeline(clock=FakeClock(), max_pending_ticks=12)
    stream = open_stream(pipeline, max_batch_ticks=1_000)
    await read(stream)
    for _ in range(10):
        publish(pipeline, 5)  # 50 ticks: far past the 12 the queue holds
    assert len(pipeline.fanout) == 1
    start = pipeline.aggregator.start_seq
    caught_up = await read(stream)
    assert [t.sequence for t in caught_up.batch.ticks] == list(range(start + 1, start + 51))


async def test_a_consumer_behind_by_more_than_the_buffer_is_told_of_the_gap() -> None:
    pipeline = IngestionPipeline(clock=FakeClock(), max_pending_ticks=12, buffer_depth=10)
    stream = open_stream(pipeline)
    await read(stream)
    for _ in range(10):
        publish(pipeline, 5)
    start = pipeline.aggregator.start_seq
    gap = (await read(stream)).gap
    assert (gap.from_seq, gap.to_seq) == (start + 1, start + 40)
    assert "fell behind" in gap.reason
    rest = (await read(stream)).batch
    assert [t.sequence for t in rest.ticks] == list(range(start + 41, start + 51))


async def test_symbol_filter_and_max_batch_ticks() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    stream = open_stream(pipeline, symbols=frozenset({"USDJPY"}), max_batch_ticks=4)
    await read(stream)
    publish(pipeline, 5, "EURUSD")
    publish(pipeline, 6, "USDJPY")
    first, second = await read(stream), await read(stream)
    assert [len(r.batch.ticks) for r in (first, second)] == [4, 2]
    assert {t.symbol for r in (first, second) for t in r.batch.ticks} == {"USDJPY"}
    start = pipeline.aggregator.start_seq
    assert sequences([first, second]) == list(range(start + 6, start + 12))


async def test_an_idle_stream_gets_heartbeats() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    stream = open_stream(pipeline, heartbeat_s=0.01)
    await read(stream)
    heartbeat = (await read(stream)).heartbeat
    assert heartbeat.last_seq == pipeline.last_seq and heartbeat.server_time_us > 0


async def test_closing_ends_streams_and_refuses_new_ones() -> None:
    pipeline = IngestionPipeline(clock=FakeClock())
    stream = open_stream(pipeline)
    await read(stream)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # lets it reach its wait; closing before that ends it as well
    pipeline.close()
    with pytest.raises(Unavailable):
        await asyncio.wait_for(pending, WAIT)
    assert len(pipeline.fanout) == 0
    with pytest.raises(Unavailable):
        await anext(open_stream(pipeline))
