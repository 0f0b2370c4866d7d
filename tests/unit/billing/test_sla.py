"""The SLA violation policy: which companies' shortfalls are reported."""

from __future__ import annotations

from decimal import Decimal

from mesh.tiers import Tier
from servers.billing import sla


def test_enterprise_shortfalls_are_violations_at_once_pro_ones_when_they_repeat() -> None:
    short = Decimal("98")
    assert sla.violated(Tier.ENTERPRISE, short, minutes_missed=1)
    assert not sla.violated(Tier.PRO, short, minutes_missed=sla.PATTERN_MINUTES - 1)
    assert sla.violated(Tier.PRO, short, minutes_missed=sla.PATTERN_MINUTES)
    assert not sla.violated(Tier.FREE, Decimal("10"), minutes_missed=50)
    # Met, or nothing measured: never a violation, however many minutes were missed.
    assert not sla.violated(Tier.ENTERPRISE, Decimal("99.99"), minutes_missed=0)
    assert not sla.violated(Tier.PRO, None, minutes_missed=10)
