"""Benchmark: rate 1,000 companies' invoices for one period (pure domain code, no I/O).

Usage: .venv/bin/python bench/bench_invoices.py [--n 1000] [--repeat 5]
Each company gets a seeded random history: a tier, up to two mid-month changes, maybe an
expiry, and an availability figure. Prints the best of `repeat` runs.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from mesh.tiers import Tier
from servers.billing.clock import ManualClock
from servers.billing.invoices import Invoice, InvoiceInput, UsageSummary, preview_invoice
from servers.billing.periods import BillingPeriod
from servers.billing.subscriptions import EventKind, SubscriptionEvent

PERIOD = BillingPeriod(2025, 11)


def make_inputs(n: int, seed: int = 1) -> list[InvoiceInput]:
    """`n` companies with varied, reproducible histories in PERIOD."""
    rng = random.Random(seed)
    tiers = list(Tier)
    inputs = []
    for i in range(n):
        tier = rng.choice(tiers)
        events = [SubscriptionEvent(EventKind.CREATED, tier, datetime(2025, 10, 1, tzinfo=UTC))]
        for _ in range(rng.randrange(3)):
            new = rng.choice([t for t in tiers if t != tier])
            when = PERIOD.start + timedelta(seconds=rng.randrange(30 * 86400))
            events.append(SubscriptionEvent(EventKind.TIER_CHANGED, new, when, tier))
            tier = new
        expires = (
            PERIOD.start + timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.1 else None
        )
        availability = {
            t: Decimal(rng.choice(["100", "99.995", "99.95", "99.5", "98", "94"])) for t in tiers
        }
        usage = UsageSummary(rng.randrange(10**7), rng.randrange(10**5))
        inputs.append(
            InvoiceInput(
                f"company-{i:05d}", PERIOD, tuple(events), None, expires, usage, availability
            )
        )
    return inputs


def bench(n: int = 1000, repeat: int = 5) -> float:
    """Best wall time in seconds to rate `n` invoices."""
    inputs = make_inputs(n)
    clock = ManualClock(PERIOD.end)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        invoices: list[Invoice] = [preview_invoice(inp, clock) for inp in inputs]
        best = min(best, time.perf_counter() - start)
    assert len(invoices) == n
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seconds = bench(min(args.n, 1_000_000), max(1, min(args.repeat, 100)))  # bounded run time
    print(
        f"{args.n} invoices rated in {seconds * 1000:.1f} ms ({args.n / seconds:,.0f} invoices/s)"
    )


if __name__ == "__main__":
    main()
