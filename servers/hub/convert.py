"""Proto <-> domain for the Hub's contract: instances, specs, watch events, mesh metrics."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2
from tickmesh.hub.v1 import hub_pb2

from mesh.config import SERVICES
from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.service_catalog import ServiceOffer
from mesh.tiers import Tier
from servers.hub.insights import MeshMetrics
from servers.hub.outliers import OutlierDetector
from servers.hub.registry import EventType, Health, Instance, InstanceSpec, Registry
from servers.hub.selection import score

HEALTH = {
    Health.UNSPECIFIED: hub_pb2.INSTANCE_HEALTH_UNSPECIFIED,
    Health.SERVING: hub_pb2.INSTANCE_HEALTH_SERVING,
    Health.NOT_SERVING: hub_pb2.INSTANCE_HEALTH_NOT_SERVING,
    Health.UNREACHABLE: hub_pb2.INSTANCE_HEALTH_UNREACHABLE,
}
EVENT = {
    EventType.EXISTING: hub_pb2.WatchInstancesResponse.EVENT_TYPE_EXISTING,
    EventType.SNAPSHOT_END: hub_pb2.WatchInstancesResponse.EVENT_TYPE_SNAPSHOT_END,
    EventType.ADDED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_ADDED,
    EventType.UPDATED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_UPDATED,
    EventType.REMOVED: hub_pb2.WatchInstancesResponse.EVENT_TYPE_REMOVED,
}


def timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    """`when` as a protobuf Timestamp."""
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
        tier_pool=spec.tier_pool,
        public_address=spec.public_address,
    )


def service_filter(service: str) -> str | None:
    """None for every service (empty), else a known service name; INVALID_ARGUMENT otherwise."""
    if not service:
        return None
    if service not in SERVICES:
        raise InvalidArgument(
            f"service: unknown service {service!r}; services: {', '.join(SERVICES)}",
            violations=[FieldViolation("service", f"must be one of {', '.join(SERVICES)}")],
            reason="UNKNOWN_SERVICE",
        )
    return service


def instance_to_proto(
    instance: Instance, registry: Registry, outliers: OutlierDetector
) -> hub_pb2.Instance:
    """An instance as the contract shows it (ejected shows as EJECTED)."""
    spec = instance.spec
    ejected = outliers.is_ejected(instance.instance_id)
    health = HEALTH[instance.health]
    if ejected and instance.health is Health.SERVING:
        health = hub_pb2.INSTANCE_HEALTH_EJECTED
    peers = registry.instances(instance.service) or [instance]
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
            tier_pool=spec.tier_pool,
            public_address=spec.public_address,
        ),
        health=health,
        lease_id="",  # never shown: whoever holds a lease can deregister the instance
        lease_expires_at=timestamp(registry.expires_at(instance)),
        active_sessions=instance.active_sessions,
        score=score(instance, None, ejected=ejected, cheapest_micros=cheapest),
        registered_at=timestamp(instance.registered_at),
    )


def mesh_metrics_to_proto(metrics: MeshMetrics, now: datetime) -> hub_pb2.GetMeshMetricsResponse:
    """The contract's form of the aggregated metrics."""
    return hub_pb2.GetMeshMetricsResponse(
        collected_at=timestamp(now),
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


def service_offer(
    offer: ServiceOffer, healthy_instances: int, served: set[Tier]
) -> hub_pb2.ServiceOffer:
    """One catalog entry, with what the registry shows of the service now."""
    return hub_pb2.ServiceOffer(
        name=offer.name,
        summary=offer.summary,
        methods=[hub_pb2.TenantMethod(method=m.method, scope=m.scope) for m in offer.methods],
        tiers=[
            hub_pb2.TierInclusion(tier=tier_to_proto(tier), includes=list(lines))
            for tier, lines in offer.includes.items()
        ],
        healthy_instances=healthy_instances,
        served_tiers=[tier_to_proto(t) for t in sorted(served, key=lambda t: t.rank)],
    )
