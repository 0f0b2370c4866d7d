"""Subscriptions: tier changes are audited; END_OF_TERM waits for the period end; expiry to free."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from mesh.errors import InvalidArgument, NotFound
from mesh.tiers import Tier
from servers.storage.relational import api_keys, audit, subscriptions
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.subscriptions import Effective, SubscriptionStatus
from tests.integration.storage.conftest import T0, Tenant

TenantFactory = Callable[..., Awaitable[Tenant]]
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


async def test_immediate_change_is_audited(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("free")
    company_id = tenant.scope.company_id
    later = T0 + timedelta(days=3)
    new = await subscriptions.change_tier(
        store, company_id, "Enterprise", actor=f"user:{tenant.user_id}", now=later
    )
    assert new.tier is Tier.ENTERPRISE and new.period_end == APRIL
    assert (await subscriptions.get_subscription(store, company_id)) == new
    assert (await api_keys.authenticate_key(store, tenant.key, now=later)).tier is Tier.ENTERPRISE
    [entry] = await audit.list_audit(store, company_id, action="subscription.tier_changed")
    assert (entry.actor, entry.at) == (f"user:{tenant.user_id}", later)
    assert entry.before is not None and entry.after is not None
    assert (entry.before["tier"], entry.after["tier"]) == ("free", "enterprise")
    # The same change again is a no-op, not a second audit entry.
    await subscriptions.change_tier(store, company_id, "enterprise", actor="system:test")
    assert len(await audit.list_audit(store, company_id, action="subscription.tier_changed")) == 1


async def test_end_of_term_change_waits_for_the_period_end(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("pro")
    company_id = tenant.scope.company_id
    pending = await subscriptions.change_tier(
        store, company_id, "free", actor="system:test", effective=Effective.END_OF_TERM, now=T0
    )
    assert (pending.tier, pending.pending_tier, pending.pending_effective_at) == (
        Tier.PRO,
        Tier.FREE,
        APRIL,
    )
    before_end = await subscriptions.advance_subscription(
        store, company_id, now=APRIL - timedelta(seconds=1)
    )
    assert before_end == pending
    rolled = await subscriptions.advance_subscription(store, company_id, now=APRIL)
    assert (rolled.tier, rolled.pending_tier) == (Tier.FREE, None)
    assert (rolled.period_start, rolled.period_end) == (APRIL, datetime(2026, 5, 1, tzinfo=UTC))
    actions = [e.action for e in await audit.list_audit(store, company_id)]
    assert actions[:2] == ["subscription.tier_changed", "subscription.tier_changed"]


async def test_past_due_subscription_expires_to_free(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("pro")
    company_id = tenant.scope.company_id
    due = await subscriptions.mark_past_due(store, company_id, actor="system:billing", now=T0)
    assert due.status is SubscriptionStatus.PAST_DUE
    december = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    expired = await subscriptions.advance_subscription(store, company_id, now=december)
    assert (expired.tier, expired.status) == (Tier.FREE, SubscriptionStatus.ACTIVE)
    assert expired.period_end == datetime(2027, 1, 1, tzinfo=UTC)
    [entry] = await audit.list_audit(store, company_id, action="subscription.expired")
    assert entry.before is not None and entry.before["tier"] == "pro"


async def test_renewal_keeps_the_tier(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("pro")
    renewed = await subscriptions.advance_subscription(
        store, tenant.scope.company_id, now=APRIL + timedelta(days=2)
    )
    assert (renewed.tier, renewed.period_start) == (Tier.PRO, APRIL)


async def test_refused_changes_write_no_audit(
    store: RelationalStore, tenant_factory: TenantFactory
) -> None:
    tenant = await tenant_factory("free")
    company_id = tenant.scope.company_id
    before = await audit.list_audit(store, company_id)
    with pytest.raises(InvalidArgument):
        await subscriptions.change_tier(store, company_id, "platinum", actor="system:test")
    with pytest.raises(NotFound):
        await subscriptions.change_tier(store, "0123456789ab", "pro", actor="system:test")
    assert await audit.list_audit(store, company_id) == before
    assert (await subscriptions.get_subscription(store, company_id)).tier is Tier.FREE
