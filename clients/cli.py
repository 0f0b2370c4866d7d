"""`tickmesh subscribe`: a live terminal table of what a key's tier receives."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import TextIO

import grpc
from tickmesh.common.v1 import tenancy_pb2

from clients import bars_cli, tls
from clients.errors import TickmeshError
from clients.live_table import LiveTable
from clients.subscriber import Ack, Gap, Reconnecting, Ticks, subscribe
from mesh.config import MeshConfig

REDRAW_S = 0.5


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client's commands (subscribe) to a `tickmesh` argument parser."""
    summary = "show live market data for an API key"
    cmd = sub.add_parser(
        "subscribe",
        help=summary,
        description=f"{summary}.\n\nA table of what the key's tier receives: price, spread,"
        " quality, updates/s,\nlatency (and liquidity, broker quotes for enterprise keys)."
        " Reconnects and\nresumes by itself; Ctrl-C or --duration stops it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # --config after the subcommand too; the top-level one is the default.
    cmd.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    cmd.add_argument("--key", required=True, help="API key (tm_...)")
    cmd.add_argument("--symbols", required=True, nargs="+", help="e.g. EURUSD GBPUSD")
    cmd.add_argument("--target", help="Bridge or Hub address (default: the configured Bridge)")
    cmd.add_argument(
        "--best-effort", action="store_true", help="leave out (and list) symbols the tier lacks"
    )
    cmd.add_argument(
        "--duration", type=float, help="stop after this many seconds, whatever happens"
    )
    cmd.add_argument(
        "--ca",
        type=Path,
        help="the mesh CA to trust (default: $TICKMESH_CA, else <data dir>/certs/ca.pem)",
    )
    cmd.set_defaults(func=_cmd_subscribe)
    bars_cli.register(sub)


def _cmd_subscribe(config: MeshConfig, args: argparse.Namespace) -> int:
    target = args.target or config.address_of("bridge")
    ca = args.ca or tls.default_ca(config)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_subscribe(target, args.key, args.symbols, args.best_effort,
                                         args.duration, sys.stdout,
                                         config.address_of("bridge"), ca=ca))  # fmt: skip
    return 0


async def run_subscribe(
    target: str,
    key: str,
    symbols: list[str],
    best_effort: bool,
    duration: float | None,
    out: TextIO,
    bridge: str | None = None,
    *,
    ca: Path | None = None,
) -> int:
    """Subscribe and draw the table until Ctrl-C or `duration` (a hard deadline, also
    while waiting to retry); 1 on a refusal, or when the deadline passes before the
    target ever answered."""
    table = LiveTable()
    interactive = out.isatty()
    next_draw = 0.0
    connected = False
    last_error: TickmeshError | None = None
    try:
        async with (
            asyncio.timeout(duration),
            contextlib.aclosing(
                subscribe(target, key, symbols, best_effort=best_effort, ca=ca)
            ) as events,
        ):
            async for event in events:
                if isinstance(event, Ack):
                    connected = True
                    features = ", ".join(event.ack.features)
                    table.status = (
                        f"tier {_tier(event.ack.tier)}, every "
                        f"{event.ack.update_interval_ms} ms, features {features}"
                    )
                    # Kept under the table: a line printed once would vanish at the redraw.
                    table.notes = [f"left out {r.symbol}: {r.reason}" for r in event.ack.refused]
                    table.add_batch(event.ack.snapshot, 0, snapshot=True)
                elif isinstance(event, Ticks):
                    table.add_batch(event.batch, event.skipped)
                elif isinstance(event, Gap):
                    table.gaps += 1
                elif isinstance(event, Reconnecting):
                    last_error = event.error
                    table.reconnects += 1
                    table.status = f"reconnecting in {event.delay_s:.1f}s: {event.error}"
                now = time.monotonic()
                if now >= next_draw:
                    _draw(table, out, interactive)
                    next_draw = now + REDRAW_S
    except TimeoutError:
        if not connected:
            print(explain(target, last_error, duration, bridge, ca), file=sys.stderr)
            return 1
    except TickmeshError as err:
        print(explain(target, err, duration, bridge, ca), file=sys.stderr)
        return 1
    except ValueError as err:  # the CA file cannot be read
        print(f"tickmesh subscribe: {err}", file=sys.stderr)
        return 1
    _draw(table, out, interactive)
    return 0


def explain(
    target: str,
    error: TickmeshError | None,
    duration: float | None = None,
    bridge: str | None = None,
    ca: Path | None = None,
) -> str:
    """A failed subscription as one line that names the target and, when obvious, the fix."""
    if error is not None and tls.handshake_failed(str(error)):
        return f"tickmesh subscribe: {target}: {tls.untrusted_hint(ca)}"
    if error is not None and error.code is grpc.StatusCode.UNIMPLEMENTED:
        where = f"the Bridge is at {bridge}" if bridge else "point --target at the Bridge"
        return f"tickmesh subscribe: {target} is not a Bridge (no Subscribe there); {where}"
    if error is None or error.code is grpc.StatusCode.UNAVAILABLE:
        waited = f" in {duration:g} s" if duration else ""
        return (
            f"tickmesh subscribe: no Bridge answered at {target}{waited}: is the mesh up? "
            "Start it with `make up`"
        )
    return f"tickmesh subscribe: {error}"


def _tier(value: int) -> str:
    return tenancy_pb2.Tier.Name(value).removeprefix("TIER_").lower()


def _draw(table: LiveTable, out: TextIO, interactive: bool) -> None:
    lines = table.render()
    if interactive:
        out.write("\x1b[H\x1b[2J")  # home + clear: redraw in place
    out.write("\n".join(lines) + "\n")
    out.flush()
