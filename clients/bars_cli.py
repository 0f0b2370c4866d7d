"""`tickmesh bars`: OHLC bars of a symbol for an API key, as a table and a small chart."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from tickmesh.common.v1 import history_pb2

from clients import tls
from clients.errors import TickmeshError
from clients.subscriber import BAR_INTERVALS, bars
from mesh.config import MeshConfig

_SPAN = re.compile(r"([0-9]+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SPARK = "▁▂▃▄▅▆▇█"
CHART_WIDTH = 60


def parse_since(text: str) -> int:
    """ "2h", "30m", "7d" or "90s" as seconds."""
    match = _SPAN.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected e.g. 30m, 2h, 7d; got {text!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `tickmesh bars` to a `tickmesh` argument parser."""
    cmd = sub.add_parser("bars", help="show OHLC bars of a symbol from market-data history")
    cmd.add_argument("--key", required=True, help="API key (tm_...)")
    cmd.add_argument("--symbol", required=True, help="e.g. EURUSD")
    cmd.add_argument("--interval", default="1m", choices=list(BAR_INTERVALS))
    cmd.add_argument("--since", default="2h", type=parse_since, help="how far back, e.g. 2h")
    cmd.add_argument("--target", help="Bridge address (default: the configured Bridge)")
    cmd.add_argument(
        "--ca",
        type=Path,
        help="the mesh CA to trust (default: $TICKMESH_CA, else <data dir>/certs/ca.pem)",
    )
    cmd.set_defaults(func=_cmd_bars)


def _cmd_bars(config: MeshConfig, args: argparse.Namespace) -> int:
    target = args.target or config.address_of("bridge")
    ca = args.ca or tls.default_ca(config)
    return asyncio.run(
        run_bars(target, args.key, args.symbol, args.interval, args.since, sys.stdout, ca=ca)
    )


async def run_bars(
    target: str,
    key: str,
    symbol: str,
    interval: str,
    since_s: int,
    out: TextIO,
    *,
    ca: Path | None = None,
) -> int:
    """Print the bars; 0, or 1 with the refusal on one line."""
    start_us = int((time.time() - since_s) * 1_000_000)
    try:
        found = await bars(target, key, symbol, interval, start_us, ca=ca)
    except TickmeshError as exc:
        print(f"tickmesh bars: {exc}", file=out)
        return 1
    print(render(symbol, interval, found), file=out, end="")
    return 0


def render(symbol: str, interval: str, found: Sequence[history_pb2.Bar]) -> str:
    """The bars as a table (the last 20) under a one-line chart of the closes."""
    if not found:
        return f"{symbol} {interval}: no bars recorded in that range\n"
    lines = [f"{symbol} {interval}: {len(found)} bars", chart([b.close for b in found]), ""]
    lines.append(f"{'start (UTC)':<20} {'open':>10} {'high':>10} {'low':>10} {'close':>10} ticks")
    for bar in found[-20:]:
        start = datetime.fromtimestamp(bar.start_time_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{start:<20} {bar.open:>10.5f} {bar.high:>10.5f} {bar.low:>10.5f} "
                     f"{bar.close:>10.5f} {bar.tick_count}")  # fmt: skip
    return "\n".join(lines) + "\n"


def chart(values: Sequence[float], width: int = CHART_WIDTH) -> str:
    """A one-line sparkline of the last `width` values."""
    values = list(values)[-width:]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_SPARK[int((v - low) / span * (len(_SPARK) - 1))] for v in values)
