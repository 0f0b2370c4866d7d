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
