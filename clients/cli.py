"""`tickmesh subscribe`: a live terminal table of what a key's tier receives."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import TextIO

from tickmesh.common.v1 import tenancy_pb2

from clients.errors import TickmeshError
from clients.live_table import LiveTable
from clients.subscriber import Ack, Gap, Reconnecting, Ticks, subscribe
from mesh.config import MeshConfig

REDRAW_S = 0.5


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client's commands (subscribe) to a `tickmesh` argument parser."""
    cmd = sub.add_parser("subscribe", help="show live market data for an API key")
    cmd.add_argument("--key", required=True, help="API key (tm_...)")
    cmd.add_argument("--symbols", required=True, nargs="+", help="e.g. EURUSD GBPUSD")
    cmd.add_argument("--target", help="Bridge or Hub address (default: the configured Bridge)")
    cmd.add_argument("--best-effort", action="store_true", help="drop symbols outside the tier")
    cmd.add_argument("--duration", type=float, help="stop after this many seconds")
    cmd.set_defaults(func=_cmd_subscribe)
    __import__("clients.bars_cli").bars_cli.register(sub)


def _cmd_subscribe(config: MeshConfig, args: argparse.Namespace) -> int:
    target = args.target or config.address_of("bridge")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_subscribe(target, args.key, args.symbols, args.best_effort,
                                         args.duration, sys.stdout))  # fmt: skip
    return 0


async def run_subscribe(
    target: str,
    key: str,
    symbols: list[str],
    best_effort: bool,
    duration: float | None,
    out: TextIO,
) -> int:
    """Subscribe and draw the table until Ctrl-C or `duration`; 1 on a refusal."""
    table = LiveTable()
    interactive = out.isatty()
    deadline = time.monotonic() + duration if duration else None
    next_draw = 0.0
    try:
        async with contextlib.aclosing(
            subscribe(target, key, symbols, best_effort=best_effort)
        ) as events:
            async for event in events:
                if isinstance(event, Ack):
                    features = ", ".join(event.ack.features)
                    table.status = (
                        f"tier {_tier(event.ack.tier)}, every "
                        f"{event.ack.update_interval_ms} ms, features {features}"
                    )
                    for refused in event.ack.refused:
                        print(f"left out {refused.symbol}: {refused.reason}", file=out)
                    table.add_batch(event.ack.snapshot, 0)
                elif isinstance(event, Ticks):
                    table.add_batch(event.batch, event.skipped)
                elif isinstance(event, Gap):
                    table.gaps += 1
                elif isinstance(event, Reconnecting):
                    table.reconnects += 1
                    table.status = f"reconnecting in {event.delay_s:.1f}s: {event.error}"
                now = time.monotonic()
                if now >= next_draw:
                    _draw(table, out, interactive)
                    next_draw = now + REDRAW_S
                if deadline is not None and now >= deadline:
                    break
    except TickmeshError as err:
        print(f"tickmesh subscribe: {err}", file=sys.stderr)
        return 1
    _draw(table, out, interactive)
    return 0


def _tier(value: int) -> str:
    return tenancy_pb2.Tier.Name(value).removeprefix("TIER_").lower()


def _draw(table: LiveTable, out: TextIO, interactive: bool) -> None:
    lines = table.render()
    if interactive:
        out.write("\x1b[H\x1b[2J")  # home + clear: redraw in place
    out.write("\n".join(lines) + "\n")
    out.flush()
