"""HubService servicer: a thin adapter from the contract to the registry, routing and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from mesh.errors import FieldViolation, InvalidArgument, PermissionDenied
from mesh.service_catalog import service_catalog
from mesh.tenancy.current import PrincipalKind, current_principal
from mesh.tiers import Tier
from servers.hub import convert
from servers.hub.collector import MetricsCollector
from servers.hub.registry import Health, Instance, Registry
from servers.hub.selection import Resolver, routing_tier

_SERVICE, _OPERATOR = PrincipalKind.SERVICE, PrincipalKind.OPERATOR


class HubServicer(hub_pb2_grpc.HubServiceServicer):
    """Registry RPCs for services and the operator; Resolve for any authenticated caller."""

    def __init__(self, registry: Registry, resolver: Resolver, collector: MetricsCollector):
        self._registry = registry
        self._resolver = resolver
        self._collector = collector

    def _instance(self, instance: Instance) -> hub_pb2.Instance:
        return convert.instance_to_proto(instance, self._registry, self._resolver.outliers)

    async def Register(
        self, request: hub_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.RegisterResponse:
        principal = current_principal()
        principal.require(_SERVICE, _OPERATOR)
        spec = convert.spec_from_proto(request.spec)
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
            expires_at=convert.timestamp(self._registry.expires_at(instance)),
        )

    async def Heartbeat(
        self, request: hub_pb2.HeartbeatRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.HeartbeatResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        instance = self._registry.heartbeat(request.lease_id, request.active_sessions)
        return hub_pb2.HeartbeatResponse(
            expires_at=convert.timestamp(self._registry.expires_at(instance))
        )

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
        service = convert.service_filter(request.service)
        return hub_pb2.ListInstancesResponse(
            instances=[self._instance(i) for i in self._registry.instances(service)]
        )

    async def WatchInstances(
        self, request: hub_pb2.WatchInstancesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[hub_pb2.WatchInstancesResponse]:
        current_principal().require(_SERVICE, _OPERATOR)
        watch = self._registry.watch(convert.service_filter(request.service))
        async for event in watch:
            reply = hub_pb2.WatchInstancesResponse(type=convert.EVENT[event.type])
            if event.instance is not None:
                reply.instance.CopyFrom(self._instance(event.instance))
            yield reply

    async def Resolve(
        self, request: hub_pb2.ResolveRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.ResolveResponse:
        principal = current_principal()
        service = convert.service_filter(request.service)
        if service is None:
            raise InvalidArgument(
                'service: required, e.g. "bridge"',
                violations=[FieldViolation("service", "required")],
            )
        tier, company = routing_tier(principal)
        choice = self._resolver.resolve(
            service, tier, company_id=company, exclude=request.exclude_instance_ids
        )
        return hub_pb2.ResolveResponse(
            instance=self._instance(choice.instance), reason=choice.reason
        )

    async def GetServiceCatalog(
        self, request: hub_pb2.GetServiceCatalogRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.GetServiceCatalogResponse:
        offers = []
        for offer in service_catalog():
            healthy = [
                i for i in self._registry.instances(offer.name) if i.health is Health.SERVING
            ]
            # An instance registered for no tier in particular serves every tier.
            served = {tier for i in healthy for tier in (i.spec.tiers or Tier)}
            offers.append(convert.service_offer(offer, len(healthy), served))
        return hub_pb2.GetServiceCatalogResponse(services=offers)

    async def GetMeshMetrics(
        self, request: hub_pb2.GetMeshMetricsRequest, context: grpc.aio.ServicerContext
    ) -> hub_pb2.GetMeshMetricsResponse:
        current_principal().require(_SERVICE, _OPERATOR)
        metrics = await self._collector.collect()
        return convert.mesh_metrics_to_proto(metrics, self._registry.clock.now())
