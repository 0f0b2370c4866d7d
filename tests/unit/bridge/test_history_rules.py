"""The tier rules of market-data history, without gRPC."""

from __future__ import annotations

import grpc
import pytest
from tickmesh.common.v1 import history_pb2, market_pb2

from mesh.errors import InvalidArgument
from mesh.tiers import Tier
from servers.bridge import history_rules as rules
from servers.bridge.history_service import leading_count

NOW = 1_780_000_000_000_000
DAY = rules.DAY_US


@pytest.mark.parametrize(
    ("tier", "days_back", "needed"),
    [(Tier.FREE, 8, "pro"), (Tier.FREE, 100, "enterprise"), (Tier.PRO, 91, "enterprise")],
)
def test_a_start_past_the_window_names_the_cheapest_tier_that_reaches(
    tier: Tier, days_back: int, needed: str
) -> None:
    with pytest.raises(rules.OutOfRange) as refused:
        rules.check_window(tier, NOW - days_back * DAY, NOW)
    assert refused.value.code is grpc.StatusCode.OUT_OF_RANGE
    assert refused.value.metadata["required_tier"] == needed
    assert f"the {needed} tier keeps" in refused.value.message


def test_within_the_window_passes_and_past_every_window_names_none() -> None:
    rules.check_window(Tier.FREE, NOW - 7 * DAY, NOW)
    rules.check_window(Tier.ENTERPRISE, NOW - 365 * DAY, NOW)
    with pytest.raises(rules.OutOfRange) as refused:
        rules.check_window(Tier.ENTERPRISE, NOW - 400 * DAY, NOW)
    assert "no tier keeps history that old" in refused.value.message
    assert "required_tier" not in refused.value.metadata


def test_bad_input_is_invalid_argument_naming_the_field() -> None:
    with pytest.raises(InvalidArgument, match="start_time_us"):
        rules.time_range(NOW, NOW - 1, NOW)
    with pytest.raises(InvalidArgument, match="start_time_us"):
        rules.time_range(0, 0, NOW)
    assert rules.time_range(NOW - 5, 0, NOW) == (NOW - 5, NOW)
    with pytest.raises(InvalidArgument, match="interval"):
        rules.interval(history_pb2.BAR_INTERVAL_UNSPECIFIED)
    with pytest.raises(InvalidArgument, match="page_size"):
        rules.page_size(10_001)
    assert rules.page_size(0) == rules.DEFAULT_PAGE_BARS
    with pytest.raises(InvalidArgument, match="symbols"):
        rules.stream_symbols([f"S{i:03d}" for i in range(51)])
    with pytest.raises(InvalidArgument, match="max_batch_ticks"):
        rules.batch_ticks(50_001)
    with pytest.raises(InvalidArgument, match="page_token"):
        rules.page_start("abc", 1, 10)
    assert rules.page_start("5", 1, 10) == 5
    with pytest.raises(ValueError, match="1s, 1m, 1h, 1d"):
        rules.parse_interval("5m")


def test_fields_are_the_live_projection() -> None:
    tick = market_pb2.Tick(symbol="EURUSD", bid=1.0, ask=1.1, sequence=3, spread_pips=2.0,
                           broker_quotes=[market_pb2.Quote(broker="fxcm")])  # fmt: skip
    free, pro, rich = (rules.project(tick, t) for t in Tier)
    assert (free.bid, free.spread_pips, len(free.broker_quotes)) == (1.0, 0.0, 0)
    assert (pro.spread_pips, len(pro.broker_quotes)) == (2.0, 0)
    assert rich == tick
    assert "broker_quotes" not in rules.fields(Tier.PRO)


def test_the_tick_count_is_read_from_the_head_of_a_forwarded_batch() -> None:
    from tickmesh.storage.v1 import storage_pb2

    for count in (0, 1, 127, 128, 50_000):
        message = storage_pb2.QueryTicksResponse(tick_count=count, batch=market_pb2.TickBatch())
        assert leading_count(message.SerializeToString()) == count
