"""Builders the bridge unit tests share: ticks, batches, tenants, a fake timer."""

from __future__ import annotations

from collections.abc import Callable

from tickmesh.bridge.v1 import bridge_pb2
from tickmesh.common.v1 import market_pb2

from mesh.tenancy.context import TenantContext
from mesh.tiers import Tier
from servers.bridge.entitlements import Grant
from servers.bridge.projection import BatchView


def tick(symbol: str, seq: int, bid: float = 1.0) -> market_pb2.Tick:
    """A fully populated tick (every tier-specific field set)."""
    return market_pb2.Tick(
        symbol=symbol, bid=bid, ask=bid + 0.0002, broker="fxcm", broker_time_us=seq * 10,
        ingest_time_us=seq * 10 + 1, sequence=seq, spread_pips=2.0, quality_score=0.9,
        liquidity_score=0.7, ask_broker="pepperstone", views=7,
        broker_quotes=[market_pb2.Quote(symbol=symbol, bid=bid, ask=bid + 0.0003, broker="fxcm")],
    )  # fmt: skip


def view(*ticks: market_pb2.Tick) -> BatchView:
    """A batch view over `ticks` (sequence range from the ticks)."""
    return BatchView(list(ticks), ticks[0].sequence, ticks[-1].sequence)


def tenant(tier: Tier = Tier.ENTERPRISE, company: str = "c1", user: str = "u1") -> TenantContext:
    """A tenant context."""
    return TenantContext(company_id=company, user_id=user, tier=tier, key_id="k1")


def grant(tier: Tier, *symbols: str) -> Grant:
    """A grant of `symbols` for `tier`."""
    return Grant(tier, tuple(symbols), ())


def parse(payload: bytes) -> bridge_pb2.SubscribeResponse:
    """Parse one serialized SubscribeResponse."""
    return bridge_pb2.SubscribeResponse.FromString(payload)


class FakeClock:
    """Monotonic seconds that tests move by hand."""

    def __init__(self, now: float = 1000.5) -> None:
        self.now = now  # on a free-tier boundary (each tier's grid is offset by half a slot)

    def __call__(self) -> float:
        return self.now


class FakeTimers:
    """Records scheduled callbacks; tests fire them by hand (no event loop timing)."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None], FakeHandle]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> FakeHandle:
        handle = FakeHandle()
        self.scheduled.append((delay, callback, handle))
        return handle

    def live(self) -> list[tuple[float, Callable[[], None], FakeHandle]]:
        """Scheduled callbacks not cancelled and not fired yet."""
        return [s for s in self.scheduled if not s[2].cancelled and not s[2].fired]

    def fire_all(self) -> int:
        """Run every live callback once; returns how many ran."""
        ran = 0
        for _, callback, handle in self.live():
            handle.fired = True
            callback()
            ran += 1
        return ran


class FakeHandle:
    """A cancellable scheduled callback."""

    def __init__(self) -> None:
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        self.cancelled = True
