"""The Workflow service's own settings: TICKMESH_WORKFLOW_* and the config file's [workflow]
table. Where Temporal is comes from the shared [temporal] section (mesh.temporal_server)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.config import as_bool, number_at_least, setting


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """The test clock and how long the service waits for Temporal."""

    test_clock: bool = setting(False, cast=as_bool)
    """Test mode: business time is a clock operators move with AdvanceClock, and the
    lifecycle follows it. Never on in production: it closes periods early."""

    temporal_wait_seconds: float = setting(60.0, cast=number_at_least(0))
    """How long to wait for Temporal at start before failing (the embedded server
    starts beside the services)."""

    webhook_poll_seconds: float = setting(1.0, cast=number_at_least(0.05))
    """How often the dispatcher asks Storage for new events when there were none."""

    webhook_retry_seconds: float = setting(5.0, cast=number_at_least(0.01))
    """The first retry of a failed delivery; each next one waits twice as long."""

    webhook_retry_max_seconds: float = setting(3600.0, cast=number_at_least(0.01))
    """The longest wait between two attempts."""

    webhook_give_up_hours: float = setting(72.0, cast=number_at_least(0.001))
    """A delivery still failing after this long is given up (its log stays)."""

    webhook_timeout_seconds: float = setting(10.0, cast=number_at_least(0.1))
    """How long a receiver has to answer one delivery."""
