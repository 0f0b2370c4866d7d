"""The running Bridge's parts in one record, for tests and diagnostics to look inside."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.metering.meter import UsageMeter
from mesh.tenancy.quota import QuotaStore
from servers.bridge.fanout import Fanout
from servers.bridge.upstream import Upstream
from servers.bridge.usage_counter import UsageCounter


@dataclass
class BridgeParts:
    """The running Bridge's parts (tests and health checks look inside)."""

    fanout: Fanout
    upstream: Upstream
    usage: UsageCounter
    quota: QuotaStore
    meter: UsageMeter
