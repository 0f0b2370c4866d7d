"""Subscriptions: a tenant reads its own; operators and Billing change tiers and read history."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.protoconv import tier_from_proto
from mesh.tenancy.current import actor_label
from servers.storage import convert
from servers.storage.relational import subscription_events, subscriptions
from servers.storage.rpc._base import OPERATOR, SERVICE, StorageRpcs, require, tenant_scope


class SubscriptionRpcs(StorageRpcs):
    async def GetSubscription(
        self, request: storage_pb2.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetSubscriptionResponse:
        sub = await subscriptions.get_subscription(self._store, tenant_scope().company_id)
        return storage_pb2.GetSubscriptionResponse(subscription=convert.subscription(sub))

    async def ChangeTier(
        self, request: storage_pb2.ChangeTierRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ChangeTierResponse:
        require(OPERATOR, SERVICE)
        effect = convert.change_effect(request.effect)
        tier = tier_from_proto(request.tier)
        before = await subscriptions.get_subscription(self._store, request.company_id)
        after = await subscriptions.change_tier(
            self._store,
            request.company_id,
            tier,
            actor=request.actor or actor_label(),
            effective=effect,
        )
        # Before answering, so the caller's next call anywhere sees the new tier.
        await self._tenancy.invalidate_company(request.company_id)
        return convert.tier_change(before, after, effect)

    async def ListSubscriptionEvents(
        self,
        request: storage_pb2.ListSubscriptionEventsRequest,
        context: grpc.aio.ServicerContext,
    ) -> storage_pb2.ListSubscriptionEventsResponse:
        require(OPERATOR, SERVICE)
        since, until = convert.event_window(request)
        events = await subscription_events.list_subscription_events(
            self._store, request.company_id, since, until
        )
        return storage_pb2.ListSubscriptionEventsResponse(
            events=[convert.subscription_event(e) for e in events]
        )
