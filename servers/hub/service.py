"""HubService servicer: a thin adapter from the contract to the registry, routing and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import grpc
from google.protobuf import timestamp_pb2
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.config import SERVICES
from mesh.errors import FieldViolation, InvalidArgument, PermissionDenied
from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.tenancy.current import PrincipalKind, current_principal
from servers.hub.collector import MetricsCollector
from servers.hub.insights import MeshMetrics
from servers.hub.registry import EventType, Health, Instance, InstanceSpec, Registry
from servers.hub.selection import Resolver, routing_tier, score

_SERVICE, _OPERATOR = PrincipalKind.SERVICE, PrincipalKind.OPERATOR

_HEALTH = {
    Health.UNSPECIFIED: hub_pb2.INSTANCE_HEALTH_UNSPECIFIED,
    Health.SERVING: hub_pb2.INSTANCE_HEALTH_SERVING,
    Health.NOT_SERVING: hub_pb2.INSTANCE_HEALTH_NOT_SERVING,
    Health.UNREACHABLE: hub_pb2.INSTANCE_HEALTH_UNREACHABLE,
}
_EVENT = {
    EventType.EXISTING: hub_pb2.WatchInstancesResponse.EVENT_TYPE_EXISTING,
    EventType.SNAPSHOT_END: hub_pb2.WatchInstancesResponse.EVENT_TYPE_SNAPSHOT_END,
    EventType.ADDED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_ADDED,
    EventType.UPDATED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_UPDATED,
    EventType.REMOVED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_REMOVED,
}


def _timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def spec_from_proto(spec: hub_pb2.InstanceSpec) -> InstanceSpec:
    """The domain spec; INVALID_ARGUMENT for an unset or unknown tier."""
    tiers = frozenset(
        tier_from_proto(value, field=f"spec.tiers[{n}]") for n, value in enumerate(spec.tiers)
    )
    return InstanceSpec(
        instance_id=spec.instance_id,
        service=spec.service,
        address=spec.address,
        zone=spec.zone,
        tiers=tiers,
        capacity=spec.capacity,
        free_tier_allowed=spec.free_tier_allowed,
        cost_per_request_micros=spec.cost_per_request_micros,
        labels=dict(spec.labels),
    )


def _service_filter(service: str) -> str | None:
    if not service:
        return None
    if service not in SERVICES:
        raise InvalidArgument(
            f"service: unknown service {service!r}; services: {', '.join(SERVICES)}",
            violations=[FieldViolation("service", f"must be one of {', '.join(SERVICES)}")],
            reason="UNKNOWN_SERVICE",
        )
    return service


class HubServicer(hub_pb2_grpc.HubServiceServicer):
    """Registry RPCs for services and the operator; Resolve for any authenticated caller."""

    def __init__(self, registry: Registry, resolver: Resolver, collector: MetricsCollector):
        self._registry = registry
        self._resolver = resolver
        self._collector = collector

    def instance_to_proto(self, instance: Instance) -> hub_pb2.Instance:
        """An instance as the contract shows it (ejected shows as EJECTED)."""
        spec = instance.spec
        ejected = self._resolver.outliers.is_ejected(instance.instance_id)
        health = _HEALTH[instance.health]
        if ejected and instance.health is Health.SERVING:
            health = hub_pb2.INSTANCE_HEALTH_EJECTED
        peers = self._registry.instances(instance.service) or [instance]
        cheapest = min(i.spec.cost_per_request_micros for i in peers)
        return hub_pb2.Instance(
            spec=hub_pb2.InstanceSpec(
                instance_id=spec.instance_id,
                service=spec.service,
                address=spec.address,
                zone=spec.zone,
                tiers=[tier_to_proto(t) for t in sorted(spec.tiers, key=lambda t: t.rank)],
                capacity=spec.capacity,
                free_tier_allowed=spec.free_tier_allowed,
                cost_per_request_micros=spec.cost_per_request_micros,
                labels=dict(spec.labels),
            ),
            health=health,
            lease_id="",  # never shown: whoever holds a lease can deregister the instance
            lease_expires_at=_timestamp(self._registry.expires_at(instance)),
            active_sessions=instance.active_sessions,
            score=score(instance, None, ejected=ejected, cheapest_micros=cheapest),
            registered_at=_timestamp(instance.registered_at),
        )

    async def Register(
        self, request: hub_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.RegisterResponse:
        principal = current_principal()
        principal.require(_SERVICE, _OPERATOR)
        spec = spec_from_proto(request.spec)
        if principal.kind is _SERVICE and principal.service != spec.service:
            raise PermissionDenied(
                f"{principal.service} may register only {principal.service} instances,"
                f" not {spec.service!r}",
                reason="CALLER_NOT_ALLOWED",
            )
        instance = self._registry.register(spec, request.ttl_seconds)
        return hub_pb2.RegisterResponse(
            lease_id=instance.lease_id,
            ttl_seconds=round(instance.ttl_s),
            expires_at=_timestamp(self._registry.expires_at(instance)),
        )

    async def Heartbeat(
        self, request: hub_pb2.HeartbeatRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.HeartbeatResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        instance = self._registry.heartbeat(request.lease_id, request.active_sessions)
        return hub_pb2.HeartbeatResponse(expires_at=_timestamp(self._registry.expires_at(instance)))

    async def Deregister(
        self, request: hub_pb2.DeregisterRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.DeregisterResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        self._registry.deregister(request.lease_id)
        return hub_pb2.DeregisterResponse()

    async def ListInstances(
        self, request: hub_pb2.ListInstancesRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.ListInstancesResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        service = _service_filter(request.service)
        return hub_pb2.ListInstancesResponse(
            instances=[self.instance_to_proto(i) for i in self._registry.instances(service)]
        )

    async def WatchInstances(
        self, request: hub_pb2.WatchInstancesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[hub_pb2.WatchInstancesResponse]:
        current_principal().require(_SERVICE, _OPERATOR)
        watch = self._registry.watch(_service_filter(request.service))
        async for event in watch:
            reply = hub_pb2.WatchInstancesResponse(type=_EVENT[event.type])
            if event.instance is not None:
                reply.instance.CopyFrom(self.instance_to_proto(event.instance))
            yield reply

    async def Resolve(
        self, request: hub_pb2.ResolveRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.ResolveResponse:
        principal = current_principal()
        service = _service_filter(request.service)
        if service is None:
            raise InvalidArgument(
                'service: required, e.g. "bridge"',
                violations=[FieldViolation("service", "required")],
            )
        tier, company = routing_tier(principal)
        choice = self._resolver.resolve(service, tier, company_id=company)
        return hub_pb2.ResolveResponse(
            instance=self.instance_to_proto(choice.instance), reason=choice.reason
        )

    async def GetMeshMetrics(
        self, request: hub_pb2.GetMeshMetricsRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.GetMeshMetricsResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        metrics = await self._collector.collect()
        return mesh_metrics_to_proto(metrics, self._registry.clock.now())


def mesh_metrics_to_proto(metrics: MeshMetrics, now: datetime) -> hub_pb2.GetMeshMetricsResponse:
    """The contract's form of the aggregated metrics."""
    return hub_pb2.GetMeshMetricsResponse(
        collected_at=_timestamp(now),
        services=[
            hub_pb2.ServiceSummary(service=s.service, instances=s.instances, healthy=s.healthy)
            for s in metrics.services
        ],
        revenue_by_service=metrics.revenue_by_service,
        revenue_by_tier={tier.value: cents for tier, cents in metrics.revenue_by_tier.items()},
        active_sessions_by_tier={t.value: n for t, n in metrics.sessions_by_tier.items()},
        customers=[
            hub_pb2.CustomerHealth(
                company_id=c.company_id,
                tier=tier_to_proto(c.tier),
                score=c.score,
                factors=list(c.factors),
            )
            for c in metrics.customers
        ],
        insights=[
            hub_pb2.Insight(kind=i.kind, message=i.message, recommendation=i.recommendation)
            for i in metrics.insights
        ],
    )
