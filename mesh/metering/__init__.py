"""Producer-side usage metering: aggregate in process, spool durably, deliver exactly once."""

from mesh.metering.meter import MeterStats, Sender, UsageMeter, is_permanent
from mesh.metering.spool import Spool, SpoolLocked, spool_dir

__all__ = [
    "MeterStats",
    "Sender",
    "Spool",
    "SpoolLocked",
    "UsageMeter",
    "is_permanent",
    "spool_dir",
]
