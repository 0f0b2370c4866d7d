"""Subscriptions: a tenant reads its own; operators and Billing change tiers and read history."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.business_time import as_of
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

    async def AdvanceSubscriptions(
        self, request: storage_pb2.AdvanceSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.AdvanceSubscriptionsResponse:
        require(OPERATOR, SERVICE)
        at = as_of(request)
        if request.company_id:
            one = await subscriptions.roll_over(
                self._store, request.company_id, now=at, actor=actor_label()
            )
            rolled = [one] if one else []
        else:
            rolled = await subscriptions.advance_subscriptions(
                self._store, now=at, actor=actor_label()
            )
        for r in rolled:  # a new tier must reach every service's auth cache at once
            if r.after.tier is not r.before.tier:
                await self._tenancy.invalidate_company(r.after.company_id)
        return storage_pb2.AdvanceSubscriptionsResponse(
            advanced=[convert.rollover(r) for r in rolled]
        )

    async def MarkPastDue(
        self, request: storage_pb2.MarkPastDueRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.MarkPastDueResponse:
        require(OPERATOR, SERVICE)
        sub = await subscriptions.mark_past_due(
            self._store, request.company_id, actor=actor_label(), now=as_of(request)
        )
        return storage_pb2.MarkPastDueResponse(subscription=convert.subscription(sub))
