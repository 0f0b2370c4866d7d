"""SetBrokerFeed and ListSourceSwitches over gRPC: a stopped feed fails the tier views
over, every switch is listed with its cause, and bad requests are refused precisely."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.ingestion.v1 import ingestion_pb2

from mesh.tiers import FREE_SYMBOLS
from tests.integration.ingestion.conftest import WAIT, ServerFactory, Stub
from tests.waiting import eventually

ChannelFactory = Callable[[str], grpc.aio.Channel]
FEED = ingestion_pb2.SetBrokerFeedRequest


async def test_a_disconnected_feed_fails_views_over_and_back(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory
) -> None:
    server = await start_ingestion(
        ingestion_synthetic="true", ingestion_seed="5", ingestion_quotes_per_second="1500"
    )
    stub = Stub(aio_channel(server.address))

    async def fxcm_priced_free() -> bool:
        latest = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest())
        return any(b.broker == "fxcm" and b.quotes > 600 for b in latest.brokers)

    await eventually(fxcm_priced_free, "fxcm quoting every free symbol", within=WAIT)
    reply = await stub.SetBrokerFeed(
        FEED(broker="fxcm", state=ingestion_pb2.FEED_STATE_DISCONNECTED), timeout=WAIT
    )
    assert reply.state == ingestion_pb2.FEED_STATE_DISCONNECTED
    status = await stub.GetBrokerStatus(ingestion_pb2.GetBrokerStatusRequest(), timeout=WAIT)
    assert not {b.broker: b for b in status.brokers}["fxcm"].up

    free = ingestion_pb2.ListSourceSwitchesRequest(tier=tenancy_pb2.TIER_FREE, symbol="EURUSD")
    switches = (await stub.ListSourceSwitches(free, timeout=WAIT)).switches
    assert [(s.cause, list(s.to_brokers), s.kind) for s in switches] == [
        ("fxcm down; failover to ic_markets", ["ic_markets"], ingestion_pb2.SWITCH_KIND_FAILOVER)
    ]
    everything = await stub.ListSourceSwitches(ingestion_pb2.ListSourceSwitchesRequest())
    pro = [s for s in everything.switches if s.tier == tenancy_pb2.TIER_PRO]
    assert pro and all(list(s.to_brokers) == ["ic_markets", "pepperstone"] for s in pro)
    assert {s.symbol for s in everything.switches if s.tier == tenancy_pb2.TIER_FREE} == set(
        FREE_SYMBOLS
    )

    await stub.SetBrokerFeed(FEED(broker="fxcm", state=ingestion_pb2.FEED_STATE_RUNNING))

    async def back() -> bool:
        later = ingestion_pb2.ListSourceSwitchesRequest(
            tier=tenancy_pb2.TIER_FREE, symbol="EURUSD", since_us=switches[-1].time_us
        )
        found = (await stub.ListSourceSwitches(later)).switches
        return [(s.kind, list(s.to_brokers)) for s in found] == [
            (ingestion_pb2.SWITCH_KIND_RECOVERY, ["fxcm"])
        ]

    await eventually(back, "free EURUSD back on fxcm", within=WAIT, every=0.05)


async def test_set_broker_feed_refuses_unknown_brokers_and_states(
    start_ingestion: ServerFactory, aio_channel: ChannelFactory
) -> None:
    stub = Stub(aio_channel((await start_ingestion()).address))  # synthetic feeds off
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.SetBrokerFeed(FEED(broker="fxcm", state=ingestion_pb2.FEED_STATE_SILENT))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert "synthetic feeds are off" in (unknown.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as unset:
        await stub.SetBrokerFeed(FEED(broker="fxcm"))
    assert unset.value.code() == grpc.StatusCode.INVALID_ARGUMENT
