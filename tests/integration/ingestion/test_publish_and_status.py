"""PublishTicks, ListSymbols and GetBrokerStatus over a real server; synthetic feeds live."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.common.v1 import market_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.config import ConfigError, load_config
from mesh.host import build_service
from servers.ingestion.app import SPEC
from tests.integration.ingestion.conftest import (
    WAIT,
    ServerFactory,
    Stub,
    now_us,
    publish,
    read,
    read_ticks_through,
    sidecar_quotes,
)

ChannelFactory = Callable[[str], grpc.aio.Channel]


async def test_good_quotes_are_kept_and_bad_ones_rejected_with_reasons(stub: Stub) -> None:
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest())
    await read(call)
    good = sidecar_quotes(3)
    bad = [
        market_pb2.Quote(symbol="EURUSD", bid=-1.0, ask=1.08, broker="sidecar_x"),
        market_pb2.Quote(symbol="EURUSD", bid=1.09, ask=1.08, broker="sidecar_x"),
        market_pb2.Quote(symbol="EURUSD", bid=math.nan, ask=1.08, broker="sidecar_x"),
        market_pb2.Quote(symbol="ZZZZZZ", bid=1.0, ask=1.1, broker="sidecar_x"),
        market_pb2.Quote(symbol="", bid=1.0, ask=1.1, broker="sidecar_x"),
    ]
    # Two messages: indexes count across the whole stream.
    reply = await publish(
        stub, [good[0], bad[0], bad[1]], [bad[2], good[1], bad[3], bad[4], good[2]]
    )
    assert (reply.accepted, reply.rejected) == (3, 5)
    assert [(r.index, r.symbol, r.reason) for r in reply.rejections] == [
        (1, "EURUSD", "bid must be positive, got -1.0"),
        (2, "EURUSD", "ask below bid (1.08 < 1.09)"),
        (3, "EURUSD", "bid is not a finite number"),
        (5, "ZZZZZZ", "unknown symbol ZZZZZZ"),
        (6, "", "missing symbol"),
    ]
    ticks = []
    while len(ticks) < 3:
        message = await read(call)
        ticks += list(message.batch.ticks)
    assert [t.sequence for t in ticks] == [reply.last_seq - 2, reply.last_seq - 1, reply.last_seq]
    assert {t.broker for t in ticks} == {"sidecar_x"}
    assert ticks[-1].broker_quotes[0].broker == "sidecar_x"
    call.cancel()


async def test_an_oversize_message_is_invalid_argument_and_earlier_quotes_stay(
    stub: Stub,
) -> None:
    before = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    requests = [
        ingestion_pb2.PublishTicksRequest(quotes=sidecar_quotes(3)),
        ingestion_pb2.PublishTicksRequest(quotes=sidecar_quotes(10_001)),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.PublishTicks(iter(requests), timeout=WAIT)
    error = info.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "10001 quotes, more than 10000" in (error.details() or "")
    assert "the 3 quotes accepted earlier in this stream are kept" in (error.details() or "")
    status = rpc_status.from_call(error)
    assert status is not None
    by_type = {detail.TypeName(): detail for detail in status.details}
    error_info = error_details_pb2.ErrorInfo()
    by_type["google.rpc.ErrorInfo"].Unpack(error_info)
    assert error_info.reason == "TOO_MANY_QUOTES"
    assert error_info.metadata["accepted_before"] == "3"
    assert error_info.metadata["first_index"] == "3"
    bad_request = error_details_pb2.BadRequest()
    by_type["google.rpc.BadRequest"].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["quotes"]
    after = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    assert after.last_seq == before.last_seq + 3  # the first message's ticks were kept


async def test_a_message_over_the_size_limit_is_refused_and_earlier_quotes_stay(
    stub: Stub,
) -> None:
    before = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    big = ingestion_pb2.PublishTicksRequest(quotes=sidecar_quotes(3))
    big.quotes[0].broker = "x" * (3 * 1024 * 1024)  # 3 MiB: over PublishTicks' 2 MiB
    requests = [ingestion_pb2.PublishTicksRequest(quotes=sidecar_quotes(3)), big]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.PublishTicks(iter(requests), timeout=WAIT)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(info.value)
    assert status is not None
    error_info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(error_info) for detail in status.details)
    assert error_info.reason == "MESSAGE_TOO_LARGE"
    assert error_info.metadata["limit_bytes"] == str(2 * 1024 * 1024)
    after = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
    assert after.last_seq == before.last_seq + 3  # the first message's ticks were kept


async def test_list_symbols_goes_beyond_the_majors(stub: Stub) -> None:
    reply = await stub.ListSymbols(ingestion_pb2.ListSymbolsRequest(), timeout=WAIT)
    symbols = {info.symbol: info for info in reply.symbols}
    assert len(symbols) > 28 and sum(info.major for info in reply.symbols) == 28
    assert {"USDSEK", "EURPLN", "USDCNH", "XAUUSD", "XAGUSD"} <= set(symbols)
    assert (symbols["EURUSD"].digits, symbols["EURUSD"].pip_size) == (5, 0.0001)
    assert (symbols["USDJPY"].digits, symbols["USDJPY"].pip_size) == (3, 0.01)
    assert symbols["XAUUSD"].digits == 2 and not symbols["XAUUSD"].major
    assert list(symbols["EURUSD"].brokers) == []  # no synthetic feeds on this server
    await publish(stub, sidecar_quotes(1))
    reply = await stub.ListSymbols(ingestion_pb2.ListSymbolsRequest(), timeout=WAIT)
    assert next(i.brokers for i in reply.symbols if i.symbol == "EURUSD") == ["sidecar_x"]


async def test_broker_status_of_a_publisher(stub: Stub) -> None:
    quotes = sidecar_quotes(4)
    quotes[0].broker_time_us = now_us() - 3_000
    reply = await publish(stub, quotes, [market_pb2.Quote(symbol="EURUSD", broker="sidecar_x")])
    status = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest(), timeout=WAIT)
    (sidecar,) = status.brokers
    assert (sidecar.broker, sidecar.up, sidecar.quotes, sidecar.rejected) == (
        "sidecar_x",
        True,
        5,
        1,
    )
    assert sidecar.latency_p99_us >= 3_000
    assert status.last_seq == reply.last_seq
    assert status.oldest_buffered_seq == reply.last_seq - 3


async def test_synthetic_feeds_make_a_lively_stream(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory
) -> None:
    server = await start_ingestion(
        ingestion_synthetic="true", ingestion_seed="11", ingestion_quotes_per_second="600"
    )
    stub = Stub(aio_channel(server.address))
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest())
    start = (await read(call)).replay_complete.last_replayed_seq
    seen = await read_ticks_through(call, start + 100)
    assert seen[:100] == list(range(start + 1, start + 101))
    call.cancel()
    status = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest(), timeout=WAIT)
    brokers = {b.broker: b for b in status.brokers}
    assert set(brokers) == {"ic_markets", "pepperstone", "fxcm"}
    assert sum(b.quotes for b in brokers.values()) >= 100
    assert all(b.latency_p50_us > 0 for b in brokers.values() if b.quotes)
    listed = await stub.ListSymbols(ingestion_pb2.ListSymbolsRequest(), timeout=WAIT)
    by_symbol = {info.symbol: list(info.brokers) for info in listed.symbols}
    assert by_symbol["EURUSD"] == ["ic_markets", "pepperstone", "fxcm"]
    assert by_symbol["USDCZK"] == ["ic_markets", "pepperstone"]  # fxcm does not carry it


async def test_a_replay_file_feeds_the_stream(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory, tmp_path: Path
) -> None:
    path = tmp_path / "quotes.csv"
    rows = ["broker_time_us,broker,symbol,bid,ask"]
    rows += [f"{1_000 + i},lmax,USDJPY,{150.5 + 0.001 * (i % 2):.3f},150.504" for i in range(50)]
    path.write_text("\n".join(rows) + "\n")
    server = await start_ingestion(ingestion_replay_file=str(path), ingestion_replay_speed="0")
    stub = Stub(aio_channel(server.address))
    # The replay may be done before the stream opens: resuming from 1 (long before this
    # life) is told as a gap up to this life's start, then everything it emitted follows.
    call = stub.StreamTicks(ingestion_pb2.StreamTicksRequest(from_seq=1))
    start = (await read(call)).gap.to_seq
    seen = await read_ticks_through(call, start + 50)
    assert seen == list(range(start + 1, start + 51))
    call.cancel()


async def test_a_missing_replay_file_is_a_configuration_error(tmp_path: Path) -> None:
    config = load_config(
        env={
            "TICKMESH_DATA_DIR": str(tmp_path),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_INGESTION_REPLAY_FILE": str(tmp_path / "missing.csv"),
        }
    )
    with pytest.raises(ConfigError, match="TICKMESH_INGESTION_REPLAY_FILE"):
        await build_service(SPEC, config, port=0)
