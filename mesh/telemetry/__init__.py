"""OpenTelemetry for tickmesh: traces per RPC across every hop, and the business metrics.

Off by default, and then nothing is installed: no interceptor, no exporter, and the
metric hooks are no-ops. `configure_telemetry` turns it on from the configuration.
"""

from mesh.telemetry.setup import (
    configure_telemetry,
    enabled,
    install_pipeline,
    shutdown_telemetry,
    tracer_for,
)

__all__ = [
    "configure_telemetry",
    "enabled",
    "install_pipeline",
    "shutdown_telemetry",
    "tracer_for",
]
