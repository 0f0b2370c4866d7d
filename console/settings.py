"""The console's own settings: TICKMESH_CONSOLE_* and the config file's [console] table."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.config import as_port, number_at_least, setting

SECTION = "console"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    """Where the console listens and how fresh its live data is."""

    port: int = setting(8080, cast=as_port)
    """Its HTTP port on 127.0.0.1; 0 picks a free one (`up` prints the one it got)."""

    sample_seconds: float = setting(1.0, cast=number_at_least(0.1))
    """How often a live page's numbers are read from the mesh and pushed (SSE)."""

    session_hours: float = setting(8.0, cast=number_at_least(0.01))
    """How long a login lasts."""
