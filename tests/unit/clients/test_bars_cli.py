"""`tickmesh bars` rendering and arguments, without a server."""

from __future__ import annotations

import argparse

import pytest
from tickmesh.common.v1 import history_pb2

from clients.bars_cli import chart, parse_since, render


def test_since_takes_a_number_and_a_unit() -> None:
    assert parse_since("2h") == 7200
    assert parse_since("30m") == 1800
    assert parse_since("7d") == 7 * 86400
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("2 hours")


def test_render_shows_a_chart_and_the_last_bars() -> None:
    bars = [history_pb2.Bar(start_time_us=i * 60_000_000, open=1.0, high=1.2, low=0.9,
                            close=1.0 + i / 100, tick_count=i) for i in range(30)]  # fmt: skip
    text = render("EURUSD", "1m", bars)
    assert text.startswith("EURUSD 1m: 30 bars\n")
    assert chart([b.close for b in bars]) in text
    assert text.count("\n") == 3 + 1 + 20
    assert render("EURUSD", "1m", []) == "EURUSD 1m: no bars recorded in that range\n"
