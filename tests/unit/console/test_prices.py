"""PriceBoard: a Subscribe stream folded into the latest row per symbol, with only the
fields the tier's projection carried."""

from __future__ import annotations

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2, tenancy_pb2

from console.prices import PriceBoard, tick_row


def _ack() -> bridge_pb2.SubscribeResponse:
    return bridge_pb2.SubscribeResponse(
        ack=bridge_pb2.SubscriptionAck(
            tier=tenancy_pb2.TIER_FREE,
            symbols=["EURUSD"],
            refused=[bridge_pb2.RefusedSymbol(symbol="XAUUSD", reason="not in tier free")],
            update_interval_ms=1000,
            snapshot=market_pb2.TickBatch(
                ticks=[market_pb2.Tick(symbol="EURUSD", bid=1.1, ask=1.2)]
            ),
        )
    )


def _batch(*ticks: market_pb2.Tick) -> bridge_pb2.SubscribeResponse:
    return bridge_pb2.SubscribeResponse(batch=market_pb2.TickBatch(ticks=ticks))


def test_the_ack_sets_the_tier_and_its_snapshot_fills_the_board() -> None:
    board = PriceBoard()
    board.apply(_ack())
    event = board.event()
    assert event == {
        "tier": "free", "symbols": 1, "refused": 1, "interval_ms": 1000, "updates": 0,
        "prices": [{"symbol": "EURUSD", "bid": 1.1, "ask": 1.2}],
    }  # fmt: skip
    assert board.event() is None  # nothing new since


def test_batches_replace_each_symbols_row_and_count_updates() -> None:
    board = PriceBoard()
    board.apply(_ack())
    board.event()
    board.apply(_batch(market_pb2.Tick(symbol="EURUSD", bid=1.3, ask=1.4)))
    board.apply(_batch(market_pb2.Tick(symbol="EURUSD", bid=1.5, ask=1.6)))
    board.apply(bridge_pb2.SubscribeResponse(heartbeat=market_pb2.Heartbeat()))
    event = board.event()
    assert event is not None and event["updates"] == 2
    assert event["prices"] == [{"symbol": "EURUSD", "bid": 1.5, "ask": 1.6}]  # latest only
    assert board.rows["EURUSD"]["bid"] == 1.5


def test_a_row_carries_only_the_fields_the_tier_sent() -> None:
    free = tick_row(market_pb2.Tick(symbol="EURUSD", bid=1.1, ask=1.2))
    assert set(free) == {"symbol", "bid", "ask"}
    enterprise = tick_row(
        market_pb2.Tick(
            symbol="EURUSD", bid=1.1, ask=1.2, spread_pips=1.0, quality_score=0.9,
            liquidity_score=0.8,
            broker_quotes=[market_pb2.Quote(broker="a"), market_pb2.Quote(broker="b")],
        )
    )  # fmt: skip
    assert enterprise["spread_pips"] == 1.0 and enterprise["liquidity_score"] == 0.8
    assert enterprise["brokers"] == 2
