"""The tier rules of market-data history, as plain functions (no gRPC): how far back a
tier reaches, which fields it gets, and what a well-formed request is.

Refusals in the order live data uses: malformed input (INVALID_ARGUMENT), then symbols
(PERMISSION_DENIED, servers.bridge.entitlements), then the window (OUT_OF_RANGE naming
the cheapest tier whose window reaches that far back).
"""

from __future__ import annotations

import grpc
from tickmesh.common.v1 import history_pb2, market_pb2

from mesh.errors import FieldViolation, InvalidArgument, MeshError
from mesh.tiers import Tier, limits
from servers.bridge.projection import tier_fields

DAY_US = 86_400 * 1_000_000
MAX_PAGE_BARS = 10_000
DEFAULT_PAGE_BARS = 1_000
MAX_BATCH_TICKS = 50_000
DEFAULT_BATCH_TICKS = 10_000
MAX_STREAM_SYMBOLS = 50
INTERVAL_US = {
    history_pb2.BAR_INTERVAL_1S: 1_000_000,
    history_pb2.BAR_INTERVAL_1M: 60_000_000,
    history_pb2.BAR_INTERVAL_1H: 3_600_000_000,
    history_pb2.BAR_INTERVAL_1D: DAY_US,
}
INTERVAL_NAMES = {"1s": history_pb2.BAR_INTERVAL_1S, "1m": history_pb2.BAR_INTERVAL_1M,
                  "1h": history_pb2.BAR_INTERVAL_1H, "1d": history_pb2.BAR_INTERVAL_1D}  # fmt: skip


class OutOfRange(MeshError):
    """A request past the tier's history window; names the tier that would allow it."""

    code = grpc.StatusCode.OUT_OF_RANGE
    default_reason = "HISTORY_WINDOW"


def invalid(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {message}", violations=[FieldViolation(field, message)])


def time_range(start_us: int, end_us: int, now_us: int) -> tuple[int, int]:
    """[start, end) with end 0 meaning now; INVALID_ARGUMENT when empty or unset."""
    if start_us <= 0:
        raise invalid("start_time_us", "required: unix microseconds")
    end_us = end_us or now_us
    if start_us >= end_us:
        raise invalid("start_time_us", f"must be before end_time_us ({end_us}), got {start_us}")
    return start_us, end_us


def check_window(tier: Tier, start_us: int, now_us: int) -> None:
    """OUT_OF_RANGE when `start_us` is older than `tier` keeps history for."""
    days = limits(tier).market_data_history_days
    if start_us >= now_us - days * DAY_US:
        return
    back_days = (now_us - start_us) / DAY_US
    reaching = [t for t in Tier if now_us - limits(t).market_data_history_days * DAY_US <= start_us]
    if reaching:
        needed = reaching[0]
        advice = f"the {needed.value} tier keeps {limits(needed).market_data_history_days} days"
        metadata = {"tier": tier.value, "required_tier": needed.value}
    else:
        advice = "no tier keeps history that old"
        metadata = {"tier": tier.value}
    raise OutOfRange(
        f"start_time_us is {back_days:.1f} days back; the {tier.value} tier keeps "
        f"{days} days of market-data history; {advice}",
        metadata=metadata,
    )


def interval(value: int) -> int:
    """A BarInterval other than UNSPECIFIED."""
    if value not in INTERVAL_US:
        raise invalid("interval", f"one of BAR_INTERVAL_1S, _1M, _1H, _1D; got {value}")
    return value


def parse_interval(name: str) -> int:
    """ "1s", "1m", "1h" or "1d" as a BarInterval (SDK and CLI)."""
    try:
        return INTERVAL_NAMES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown interval {name!r}; one of 1s, 1m, 1h, 1d") from None


def page_size(value: int) -> int:
    """1-10,000 bars; 0 for 1,000."""
    if value > MAX_PAGE_BARS:
        raise invalid("page_size", f"at most {MAX_PAGE_BARS}, got {value}")
    return value or DEFAULT_PAGE_BARS


def page_start(token: str, start_us: int, end_us: int) -> int:
    """Where a page starts: the token (a bar start from the previous page) or start."""
    if not token:
        return start_us
    if not token.isdigit() or not start_us <= int(token) < end_us:
        raise invalid("page_token", "not a token from this range's previous page")
    return int(token)


def stream_symbols(symbols: list[str]) -> list[str]:
    """At most 50 symbols per StreamHistory (each is read and sent in turn)."""
    if len(symbols) > MAX_STREAM_SYMBOLS:
        raise invalid("symbols", f"at most {MAX_STREAM_SYMBOLS} per stream, got {len(symbols)}")
    return symbols


def batch_ticks(value: int) -> int:
    """1-50,000; 0 for 10,000."""
    if value > MAX_BATCH_TICKS:
        raise invalid("max_batch_ticks", f"at most {MAX_BATCH_TICKS}, got {value}")
    return value or DEFAULT_BATCH_TICKS


def fields(tier: Tier) -> list[str]:
    """The Tick fields `tier` gets, exactly as live data (servers.bridge.projection)."""
    return sorted(tier_fields(tier))


def project(tick: market_pb2.Tick, tier: Tier) -> market_pb2.Tick:
    """`tick` with only the fields of `tier`."""
    out = market_pb2.Tick()
    for name in tier_fields(tier):
        value = getattr(tick, name)
        if name == "broker_quotes":
            out.broker_quotes.extend(value)
        else:
            setattr(out, name, value)
    return out
