"""The recorder against a controllable Ingestion: resumes from the recorded sequence and
stores each sequence once, whatever the upstream replays twice."""

from __future__ import annotations

import time

import grpc
import pytest
from tickmesh.common.v1 import market_pb2

from mesh.backoff import Backoff
from servers.storage.analytics import AnalyticsStore
from servers.storage.analytics.market import open_market_history
from servers.storage.recorder import Recorder
from tests.integration.bridge.fake_ingestion import start_fake_ingestion
from tests.waiting import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")
SYMBOLS = ("RECAAA", "RECBBB")


async def test_the_recorder_resumes_after_the_last_recorded_sequence(
    store: AnalyticsStore, tmp_path_factory: pytest.TempPathFactory
) -> None:
    history = await open_market_history(store, tmp_path_factory.mktemp("schemas"))
    server, fake, port = await start_fake_ingestion(SYMBOLS)
    # Sequences above whatever the package recorded, ingest times (seq * 1000 us) near now.
    fake.next_seq = max(history.last_seq + 1, time.time_ns() // 1_000_000)
    fake.replay_overlap = 2  # a sloppy upstream: every resume repeats two ticks
    channels: list[grpc.aio.Channel] = []

    def channel() -> grpc.aio.Channel:
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
        return channels[-1]

    recorder = Recorder(
        history, channel, flush_interval_s=0.02, backoff=Backoff(initial_s=0.05, max_s=0.1)
    )
    try:
        watermark = history.last_seq
        await recorder.start()
        await eventually(lambda: fake.open_streams == 1, "the recorder streaming")
        first = fake.feed(*SYMBOLS)
        await eventually(lambda: history.last_seq == first.last_seq, "the first batch recorded")

        fake.disconnect()
        await eventually(lambda: fake.open_streams == 0, "the stream broken")
        second = fake.feed(*SYMBOLS, bid=1.2)  # while no stream is open: replayed on resume
        await eventually(lambda: history.last_seq == second.last_seq, "the second batch")
        resumes = [r.from_seq for r in fake.requests]
        assert resumes[0] == watermark  # what Storage held, not "live from now"
        assert resumes[-1] == first.last_seq  # the replay repeats two recorded ticks
    finally:
        await recorder.stop()
        await server.stop(None)
        for open_channel in channels:
            await open_channel.close()

    recorded = []
    for symbol in SYMBOLS:
        page = await history.tick_page(symbol, 1, 2**62, ["symbol"], None, 100)
        recorded += market_pb2.TickBatch.FromString(page.batch).ticks
    sequences = sorted(t.sequence for t in recorded)
    assert sequences == list(range(first.first_seq, second.last_seq + 1))
    assert recorder.stats.recorded == 4
    assert recorder.stats.duplicates >= 2
