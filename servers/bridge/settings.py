"""The Bridge's own settings (TICKMESH_BRIDGE_* and the config file's [bridge] table), and
the tuning built from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesh.backoff import Backoff
from mesh.config import int_at_least, number_at_least, setting
from servers.bridge.session import SessionLimits


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """Per-subscriber bounds and stream leases."""

    heartbeat_seconds: float = setting(1.0, cast=number_at_least(0.01))
    """How long a Subscribe stream may idle before the Bridge sends a heartbeat."""

    stream_lease_seconds: float = setting(30.0, cast=number_at_least(1))
    """TTL of a stream's concurrent-stream lease in Redis; renewed every third of it."""

    queue_ticks: int = setting(4096, cast=int_at_least(1000))
    """Ticks queued for one subscriber before it is conflated to the latest per symbol."""

    batch_ticks: int = setting(2000, cast=int_at_least(1))
    """Most ticks per Subscribe message (a client may ask for fewer)."""


@dataclass(frozen=True, slots=True)
class BridgeTuning:
    """The Bridge's knobs: the configurable ones from its settings, the rest for tests."""

    session: SessionLimits = field(default_factory=SessionLimits)
    stream_lease_s: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    upstream_idle_timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> BridgeTuning:
        """The tuning `settings` ask for."""
        return cls(
            session=SessionLimits(
                max_queue_ticks=settings.queue_ticks,
                max_batch_ticks=settings.batch_ticks,
                heartbeat_s=settings.heartbeat_seconds,
            ),
            stream_lease_s=settings.stream_lease_seconds,
        )
