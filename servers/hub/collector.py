"""Collects every serving instance's business metrics concurrently, each with a deadline."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import grpc
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc

from mesh.channel_pool import ChannelPool
from mesh.client_interceptors import MetadataPairs
from servers.hub.insights import MeshMetrics, Report, ServiceHealth, aggregate
from servers.hub.registry import Instance
from servers.hub.selection import Resolver


class MetricsCollector:
    """Asks each SERVING instance for GetBusinessMetrics and aggregates the answers."""

    def __init__(
        self,
        resolver: Resolver,
        channels: ChannelPool,
        *,
        relay_metadata: Callable[[], MetadataPairs],
        timeout_s: float = 2.0,
        local: Callable[[], metrics_pb2.GetBusinessMetricsResponse] | None = None,
    ) -> None:
        self._resolver = resolver
        self._channels = channels
        self._relay_metadata = relay_metadata
        self._timeout_s = timeout_s
        self._local = local

    async def collect(self) -> MeshMetrics:
        """Mesh-wide metrics now; an instance that does not answer in time is reported as
        failing, never waited for."""
        instances = self._resolver.registry.instances()
        serving = [i for i in instances if self._resolver.healthy(i)]
        reports = list(await asyncio.gather(*(self._fetch(i) for i in serving)))
        if self._local is not None:
            # The Hub's own figures (its Resolve calls), unless it registered itself and
            # was asked above.
            mine = self._local()
            if all(r.instance_id != mine.instance_id for r in reports):
                reports.append(Report(mine.service, mine.instance_id, mine))
        total: Counter[str] = Counter(i.service for i in instances)
        healthy: Counter[str] = Counter(i.service for i in serving)
        services = [ServiceHealth(name, total[name], healthy[name]) for name in sorted(total)]
        return aggregate(reports, services)

    async def _fetch(self, instance: Instance) -> Report:
        stub = metrics_pb2_grpc.BusinessMetricsServiceStub(
            self._channels.channel(instance.spec.address, instance.spec.service)
        )
        try:
            reply = await stub.GetBusinessMetrics(
                metrics_pb2.GetBusinessMetricsRequest(),
                timeout=self._timeout_s,
                metadata=tuple(self._relay_metadata()),
            )
        except grpc.aio.AioRpcError as err:
            return Report(
                instance.service, instance.instance_id, error=f"{err.code().name}: {err.details()}"
            )
        return Report(instance.service, instance.instance_id, reply)
