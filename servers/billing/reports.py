"""The analytics RPCs' inputs, assembled per company from Storage and the quota counters.

What is measured: usage (data points per service and month) and SLA figures from
Storage; daily API calls from the quota counters every service's quota check shares
(on the embedded default, without a shared Redis, only the Billing process's own).
Not measured here: concurrent streams (stream leases have no read API) and storage
bytes (GetStorageUsage is tenant-only), so those quotas read 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from mesh.tenancy.quota import QuotaStore
from servers.billing.analytics import CompanyAccount, MonthlyUsage
from servers.billing.clock import Clock
from servers.billing.convert import invoice_from_pb
from servers.billing.customer_health import HealthInput
from servers.billing.invoices import Invoice, preview_invoice
from servers.billing.periods import BillingPeriod
from servers.billing.quotas import QuotaUsage
from servers.billing.storage_source import CompanyRecord, StorageSource, each, tier_at


async def revenue_accounts(
    storage: StorageSource, period: BillingPeriod, at: datetime
) -> list[CompanyAccount]:
    """Each company on the tier in force at `at`, with its usage by service in `period`."""

    async def account(c: CompanyRecord) -> CompanyAccount | None:
        events, usage = await asyncio.gather(
            storage.history(c.company_id), storage.usage_by_service(c.company_id, period)
        )
        tier = tier_at(events, at)
        return None if tier is None else CompanyAccount(c.company_id, tier, c.active, usage)

    return [a for a in await each(await storage.companies(), account) if a]


async def monthly_usages(storage: StorageSource, last: BillingPeriod) -> list[MonthlyUsage]:
    """Each company's data points in the three months ending with `last`."""

    async def usage(c: CompanyRecord) -> MonthlyUsage:
        return MonthlyUsage(
            c.company_id, c.tier, await storage.monthly_data_points(c.company_id, last)
        )

    return await each(await storage.companies(), usage)


async def quota_use(quota: QuotaStore, c: CompanyRecord) -> QuotaUsage:
    """Today's API calls so far against the daily quota (streams, storage: not measured)."""
    calls = await quota.call_usage(c.company_id, c.tier)
    return QuotaUsage(c.company_id, c.tier, daily_api_calls=calls.used)


async def quota_usages(storage: StorageSource, quota: QuotaStore) -> list[QuotaUsage]:
    return await each(await storage.companies(), lambda c: quota_use(quota, c))


async def period_invoices(
    storage: StorageSource, period: BillingPeriod, clock: Clock
) -> list[Invoice]:
    """Each company's invoice of `period`: the stored one once closed, else a draft."""

    async def invoice(c: CompanyRecord) -> Invoice:
        stored = await storage.invoices(c.company_id, period)
        if stored:  # a closed period's credits are the ones actually invoiced
            return invoice_from_pb(stored[0])
        return preview_invoice(await storage.invoice_input(c.company_id, period), clock)

    return await each(await storage.companies(), invoice)


async def health_inputs(
    storage: StorageSource,
    quota: QuotaStore,
    companies: Sequence[CompanyRecord],
    period: BillingPeriod,
) -> list[HealthInput]:
    """Trend to `period`, today's quota use, this period's calls and availability."""

    async def inputs(c: CompanyRecord) -> HealthInput:
        months, quota_used, usage, availability = await asyncio.gather(
            storage.monthly_data_points(c.company_id, period),
            quota_use(quota, c),
            storage.usage_summary(c.company_id, period),
            storage.availability(c.company_id, period),
        )
        return HealthInput(
            c.company_id,
            c.tier,
            months,
            quota_used,
            usage.api_calls,
            usage.server_errors,
            availability.get(c.tier),
        )

    return await each(companies, inputs)


async def billed_ticks(
    storage: StorageSource, companies: list[str], period: BillingPeriod
) -> dict[str, int]:
    """Delivered ticks each company was billed for in `period`, as Storage recorded them."""
    return {
        company: (await storage.usage_summary(company, period)).ticks_delivered
        for company in companies
    }
