"""The Hub's own settings: TICKMESH_HUB_* and the config file's [hub] table."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.config import int_at_least, number_at_least, percent, setting


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Leases, outlier ejection and metrics collection at the Hub."""

    lease_default_seconds: float = setting(10.0, cast=number_at_least(1))
    """The lease TTL granted when an instance asks for none."""

    lease_min_seconds: float = setting(2.0, cast=number_at_least(1))
    """Shortest lease TTL granted (shorter requests are raised to it)."""

    lease_max_seconds: float = setting(60.0, cast=number_at_least(1))
    """Longest lease TTL granted (longer requests are cut to it)."""

    eject_after_failures: int = setting(3, cast=int_at_least(1))
    """Consecutive routed-call failures that eject an instance from rotation."""

    eject_base_seconds: float = setting(5.0, cast=number_at_least(0.1))
    """First ejection's length; each repeat ejection lasts that much longer."""

    max_ejected_percent: float = setting(50.0, cast=percent)
    """At most this share of a service's instances is ejected at once."""

    panic_percent: float = setting(50.0, cast=percent)
    """Below this share of healthy instances, route to every live one rather than none."""

    metrics_timeout_seconds: float = setting(2.0, cast=number_at_least(0.1))
    """How long GetMeshMetrics waits for each instance's business metrics."""
