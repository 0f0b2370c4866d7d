"""Subscribe's contract on a real server: the ack, entitlements, refusals, stream limits,
and the session/usage RPCs."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2, tenancy_pb2

from mesh.tiers import Tier
from mesh.wire import TICK_DELIVERY_FIELDS
from tests.integration.bridge.conftest import (
    SYNTHETIC,
    Bridge,
    next_message,
    wait_until,
)
from tests.integration.bridge.fake_ingestion import WAIT

BASIC = {"symbol", "bid", "ask", "broker", "broker_time_us", "ingest_time_us", "sequence"}
PRO = BASIC | {"spread_pips", "quality_score"}
# Every field a producer sets (a held update also gets the delivery fields).
ALL = {f.name for f in market_pb2.Tick.DESCRIPTOR.fields} - TICK_DELIVERY_FIELDS


def _details(error: grpc.aio.AioRpcError) -> list[object]:
    status = rpc_status.from_call(error)
    assert status is not None
    out: list[object] = []
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
                     error_details_pb2.QuotaFailure):  # fmt: skip
            message = kind()
            if detail.Unpack(message):
                out.append(message)
    return out


async def _refusal(call: grpc.aio.UnaryStreamCall) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asyncio.wait_for(call.read(), WAIT)
    return caught.value


async def test_ack_with_snapshot_comes_first(bridge: Bridge) -> None:
    bridge.upstream.feed("EURUSD", "GBPUSD", "USDCHF")
    last = bridge.upstream.feed("EURUSD")
    await bridge.fed()
    client = bridge.client(Tier.PRO)
    call = client.subscribe("EURUSD", "GBPUSD", "AUDUSD")
    first = await next_message(call)
    assert first.WhichOneof("payload") == "ack" and first.message_seq == 1
    ack = first.ack
    assert ack.session_id and ack.tier == tenancy_pb2.TIER_PRO
    assert list(ack.symbols) == ["EURUSD", "GBPUSD", "AUDUSD"]
    assert ack.update_interval_ms == 100
    assert list(ack.features) == ["basic_price", "quality_score", "spread_analysis"]
    assert ack.start_seq == last.last_seq + 1
    assert ack.quota_remaining == 49_999  # the Subscribe call itself counted
    # The last price of each granted symbol that has one, projected to pro.
    assert [(t.symbol, t.sequence) for t in ack.snapshot.ticks] == [("GBPUSD", 2),
                                                                    ("EURUSD", 4)]  # fmt: skip
    assert all({f.name for f, _ in t.ListFields()} == PRO for t in ack.snapshot.ticks)
    call.cancel()


@pytest.mark.parametrize(("tier", "fields"), [(Tier.FREE, BASIC), (Tier.PRO, PRO),
                                               (Tier.ENTERPRISE, ALL)])  # fmt: skip
async def test_each_tier_receives_only_its_fields(
    bridge: Bridge, tier: Tier, fields: set[str]
) -> None:
    call = bridge.client(tier).subscribe("EURUSD")
    await next_message(call)
    bridge.upstream.feed("EURUSD")
    message = await next_message(call)
    (only,) = message.batch.ticks
    assert {f.name for f, _ in only.ListFields()} == fields
    call.cancel()


async def test_free_subscriber_gets_only_its_symbols(bridge: Bridge) -> None:
    call = bridge.client(Tier.FREE).subscribe("EURUSD", "GBPUSD")
    await next_message(call)
    bridge.upstream.feed("USDCHF", "EURUSD", "USDJPY", "GBPUSD", "S00001")
    message = await next_message(call)
    assert [t.symbol for t in message.batch.ticks] == ["EURUSD", "GBPUSD"]
    assert (message.batch.first_seq, message.batch.last_seq) == (2, 5)
    call.cancel()


async def test_a_symbol_outside_the_tier_names_the_tier_that_has_it(bridge: Bridge) -> None:
    error = await _refusal(bridge.client(Tier.FREE).subscribe("EURUSD", "USDCHF"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "pro tier" in (error.details() or "")
    (info,) = [d for d in _details(error) if isinstance(d, error_details_pb2.ErrorInfo)]
    assert info.metadata["required_tier"] == "pro"
    error = await _refusal(bridge.client(Tier.PRO).subscribe("EURUSD", "USDTRY"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "enterprise" in (error.details() or "")


async def test_best_effort_lists_refused_symbols_in_the_ack(bridge: Bridge) -> None:
    call = bridge.client(Tier.FREE).subscribe("EURUSD", "USDCHF", "USDTRY", best_effort=True)
    ack = (await next_message(call)).ack
    assert list(ack.symbols) == ["EURUSD"]
    assert [(r.symbol, r.required_tier) for r in ack.refused] == [
        ("USDCHF", tenancy_pb2.TIER_PRO),
        ("USDTRY", tenancy_pb2.TIER_ENTERPRISE),
    ]
    assert all(r.reason for r in ack.refused)
    call.cancel()


@pytest.mark.parametrize(
    ("symbols", "fragment"),
    [
        ((), "at least one"),
        (SYNTHETIC[:501], "at most 500"),
        (("EURUSD", "NOPE42"), "unknown symbol 'NOPE42'"),
        (("EURUSD", "EURUSD"), "duplicate symbol 'EURUSD'"),
        (("eurusd",), "malformed"),
    ],
)
async def test_invalid_requests_are_invalid_argument_naming_symbols(
    bridge: Bridge, symbols: tuple[str, ...], fragment: str
) -> None:
    error = await _refusal(bridge.client(Tier.ENTERPRISE).subscribe(*symbols))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (error.details() or "")
    (bad,) = [d for d in _details(error) if isinstance(d, error_details_pb2.BadRequest)]
    assert [v.field for v in bad.field_violations] == ["symbols"]


async def test_free_tier_gets_one_stream_and_the_slot_comes_back(bridge: Bridge) -> None:
    client = bridge.client(Tier.FREE)
    first = client.subscribe("EURUSD")
    await next_message(first)
    error = await _refusal(client.subscribe("GBPUSD"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    (quota,) = [d for d in _details(error) if isinstance(d, error_details_pb2.QuotaFailure)]
    assert quota.violations[0].subject == f"company:{client.company}"
    assert "1 concurrent streams on the free tier" in quota.violations[0].description
    assert (await client.usage()).streams_refused == 1  # counted for GetUsage
    # Another company is not affected.
    other = bridge.client(Tier.FREE).subscribe("EURUSD")
    await next_message(other)
    first.cancel()
    await wait_until(lambda: not bridge.parts.fanout.sessions_of(client.company))
    # The lease is released as the stream ends; a new stream fits again.
    again = client.subscribe("GBPUSD")
    assert (await next_message(again)).WhichOneof("payload") == "ack"
    again.cancel()
    other.cancel()


async def test_pro_tier_gets_five_streams(bridge: Bridge) -> None:
    client = bridge.client(Tier.PRO)
    calls = [client.subscribe("EURUSD") for _ in range(5)]
    for call in calls:
        await next_message(call)
    error = await _refusal(client.subscribe("EURUSD"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    for call in calls:
        call.cancel()


async def test_session_stats_and_usage_cover_only_the_callers_company(bridge: Bridge) -> None:
    mine = bridge.client(Tier.PRO, company="acme", user="alice")
    colleague = bridge.client(Tier.PRO, company="acme", user="bob")
    stranger = bridge.client(Tier.PRO, company="globex")
    calls = [c.subscribe("EURUSD", "GBPUSD") for c in (mine, colleague, stranger)]
    acks = [(await next_message(call)).ack for call in calls]
    bridge.upstream.feed("EURUSD", "GBPUSD")
    for call in calls:
        assert len((await next_message(call)).batch.ticks) == 2
    fanout = bridge.parts.fanout
    await wait_until(
        lambda: all(
            s.ticks_delivered == 2 for c in ("acme", "globex") for s in fanout.sessions_of(c)
        )
    )

    stats = await mine.stats()
    assert sorted(s.user_id for s in stats.sessions) == ["alice", "bob"]
    one = (await mine.stats(acks[0].session_id)).sessions[0]
    assert (one.ticks_delivered, one.messages_delivered, one.skipped) == (2, 2, 0)
    assert list(one.symbols) == ["EURUSD", "GBPUSD"] and one.tier == tenancy_pb2.TIER_PRO
    assert one.opened_at.seconds > 0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stranger.stats(acks[0].session_id)  # another company's session: not found
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    usage = await mine.usage()
    assert (usage.company_id, usage.ticks_delivered, usage.open_streams) == ("acme", 4, 2)
    assert usage.billing_period == bridge.parts.usage.current_period()
    assert (await stranger.usage()).ticks_delivered == 2
    assert usage.streams_refused == 0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mine.usage("2030-13")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for call in calls:
        call.cancel()


async def test_calls_without_a_tenant_are_unauthenticated(bridge: Bridge) -> None:
    client = bridge.client(Tier.FREE)
    error = await _refusal(client.stub.Subscribe(bridge_pb2.SubscribeRequest(symbols=["EURUSD"])))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
