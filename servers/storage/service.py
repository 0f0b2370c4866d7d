"""StorageService servicer: proto in, relational call, proto out; who-may-call-what here.

Tenant RPCs act on the caller's own company from the verified principal; a
company id in a tenant's request is never trusted (another company's id reads
as NOT_FOUND). Operator and service RPCs name the company explicitly.
"""

from __future__ import annotations

from datetime import UTC
from functools import partial
from typing import Any, TypeAlias

import grpc
from tickmesh.common.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.contract import answer_unbuilt
from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.telemetry.server import annotate_tenant
from mesh.tenancy.authenticator import tenant_to_proto
from mesh.tenancy.current import (
    PrincipalKind,
    actor_label,
    company_in_reach,
    current_principal,
)
from mesh.tenancy.wiring import Tenancy
from servers.storage import convert
from servers.storage.analytics.engine import AnalyticsStore
from servers.storage.relational import (
    api_keys,
    companies,
    invoices,
    quota,
    retention,
    subscription_events,
    subscriptions,
    trading,
    users,
)
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.scope import TenantScope

OPERATOR, SERVICE, TENANT = PrincipalKind.OPERATOR, PrincipalKind.SERVICE, PrincipalKind.TENANT
Ctx: TypeAlias = grpc.aio.ServicerContext
_EFFECTS = {
    1: subscriptions.Effective.IMMEDIATE,  # CHANGE_EFFECT_IMMEDIATE
    2: subscriptions.Effective.END_OF_TERM,  # CHANGE_EFFECT_END_OF_TERM
}


def _tenant_scope() -> TenantScope:
    principal = current_principal()
    principal.require(TENANT)
    return TenantScope(principal.require_tenant().company_id)


class StorageServicer(storage_pb2_grpc.StorageServiceServicer):
    """Tenants, users, keys, subscriptions and trading data on the relational store."""

    def __init__(self, store: RelationalStore, analytics: AnalyticsStore, tenancy: Tenancy) -> None:
        self._store = store
        self._analytics = analytics
        self._tenancy = tenancy
        answer_unbuilt(
            self,
            storage_pb2_grpc.StorageServiceServicer,
            storage_pb2.DESCRIPTOR.services_by_name["StorageService"],
            "planned: metering and billing, issue #5",
        )

    async def CreateCompany(self, request: Any, context: Ctx) -> Any:
        current_principal().require(OPERATOR)
        tier = tier_from_proto(request.tier)
        users.validate_new_user(request.owner_email, request.owner_name, "owner", prefix="owner_")
        company, sub = await companies.create_company(
            self._store, request.name, tier, actor=actor_label()
        )
        scope = TenantScope(company.id)
        owner = await users.create_user(
            self._store, scope, request.owner_email, request.owner_name, "owner"
        )
        key = await api_keys.issue_api_key(self._store, scope, owner.id, actor=actor_label())
        return storage_pb2.CreateCompanyResponse(
            company=convert.company(company, tier_to_proto(sub.tier)),
            subscription=convert.subscription(sub),
            owner=convert.user(owner),
            owner_key=storage_pb2.IssueApiKeyResponse(
                key_id=key.key_id,
                api_key=key.plaintext,
                created_at=convert.timestamp(owner.created_at),
            ),
        )

    async def GetCompany(self, request: Any, context: Ctx) -> Any:
        company_id = company_in_reach(request.company_id)
        company = await companies.get_company(self._store, company_id)
        sub = await subscriptions.get_subscription(self._store, company_id)
        return storage_pb2.GetCompanyResponse(
            company=convert.company(company, tier_to_proto(sub.tier))
        )

    async def ListCompanies(self, request: Any, context: Ctx) -> Any:
        current_principal().require(OPERATOR, SERVICE)
        size = request.page_size or 100
        if not 1 <= size <= 1000 or (request.page_token and not request.page_token.isdigit()):
            raise InvalidArgument(
                "page_size must be 1-1000 and page_token one this RPC returned",
                violations=[FieldViolation("page_size", "1-1000")],
            )
        start = int(request.page_token or 0)
        page, more = await companies.list_companies_with_tiers(
            self._store, offset=start, limit=size
        )
        return storage_pb2.ListCompaniesResponse(
            companies=[convert.company(c, tier_to_proto(t)) for c, t in page],
            next_page_token=str(start + size) if more else "",
        )

    async def CreateUser(self, request: Any, context: Ctx) -> Any:
        record = await users.create_user(
            self._store, _tenant_scope(), request.email, request.name, request.role or "member"
        )
        return storage_pb2.CreateUserResponse(user=convert.user(record))

    async def ListUsers(self, request: Any, context: Ctx) -> Any:
        records = await users.list_users(self._store, _tenant_scope())
        return storage_pb2.ListUsersResponse(users=[convert.user(u) for u in records])

    async def IssueApiKey(self, request: Any, context: Ctx) -> Any:
        principal = current_principal()
        principal.require(TENANT, OPERATOR)
        scope = TenantScope(company_in_reach(request.company_id))
        issued = await api_keys.issue_api_key(
            self._store, scope, request.user_id, actor=actor_label()
        )
        return storage_pb2.IssueApiKeyResponse(
            key_id=issued.key_id,
            api_key=issued.plaintext,
            created_at=convert.timestamp(self._store.now(None)),
        )

    async def RevokeApiKey(self, request: Any, context: Ctx) -> Any:
        scope = _tenant_scope()
        record = await api_keys.revoke_api_key(
            self._store, scope, request.key_id, actor=actor_label()
        )
        await self._tenancy.invalidate_company(scope.company_id)
        return storage_pb2.RevokeApiKeyResponse(revoked_at=convert.timestamp(record.revoked_at))

    async def AuthenticateKey(self, request: Any, context: Ctx) -> Any:
        current_principal().require(SERVICE)
        tenant = await api_keys.tenant_for_key(self._store, request.api_key)
        # The caller is a service acting for no one yet: name the tenant on the span here.
        annotate_tenant(tenant)
        return storage_pb2.AuthenticateKeyResponse(tenant=tenant_to_proto(tenant))

    async def GetSubscription(self, request: Any, context: Ctx) -> Any:
        sub = await subscriptions.get_subscription(self._store, _tenant_scope().company_id)
        return storage_pb2.GetSubscriptionResponse(subscription=convert.subscription(sub))

    async def ChangeTier(self, request: Any, context: Ctx) -> Any:
        current_principal().require(OPERATOR, SERVICE)
        effect = _EFFECTS.get(request.effect)
        if effect is None:
            raise InvalidArgument(
                "effect must be CHANGE_EFFECT_IMMEDIATE or CHANGE_EFFECT_END_OF_TERM",
                violations=[FieldViolation("effect", "IMMEDIATE or END_OF_TERM")],
            )
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
        effective_at = (
            after.updated_at if effect is subscriptions.Effective.IMMEDIATE else after.period_end
        )
        return storage_pb2.ChangeTierResponse(
            subscription=convert.subscription(after),
            previous_tier=tier_to_proto(before.tier),
            effective_at=convert.timestamp(effective_at),
        )

    async def CreateBrokerAccount(self, request: Any, context: Ctx) -> Any:
        account = await trading.create_broker_account(
            self._store, _tenant_scope(), request.user_id, request.broker, request.account_number
        )
        return storage_pb2.CreateBrokerAccountResponse(account=convert.broker_account(account))

    async def RecordPositions(self, request: Any, context: Ctx) -> Any:
        scope = _tenant_scope()
        accounts = {p.account_id for p in request.positions}
        if len(accounts) != 1:
            raise InvalidArgument(
                "positions must name exactly one account_id per request",
                violations=[
                    FieldViolation("positions", "one account_id per request, at least one")
                ],
            )
        positions = [convert.new_position(p, i) for i, p in enumerate(request.positions)]
        recorded = await trading.record_positions(self._store, scope, accounts.pop(), positions)
        usage = await quota.get_usage(self._store, scope)
        return storage_pb2.RecordPositionsResponse(
            position_ids=[p.id for p in recorded], storage_used_bytes=usage.used_bytes
        )

    async def ListPositions(self, request: Any, context: Ctx) -> Any:
        records = await trading.list_positions(
            self._store,
            _tenant_scope(),
            account_id=request.account_id or None,
            status=None if request.include_closed else trading.PositionStatus.OPEN,
            limit=request.limit or 1000,
        )
        return storage_pb2.ListPositionsResponse(positions=[convert.position(p) for p in records])

    async def GetStorageUsage(self, request: Any, context: Ctx) -> Any:
        usage = await quota.get_usage(self._store, _tenant_scope())
        limit = -1 if usage.limit_bytes is None else usage.limit_bytes
        return storage_pb2.GetStorageUsageResponse(used_bytes=usage.used_bytes, quota_bytes=limit)

    async def ApplyRetention(self, request: Any, context: Ctx) -> Any:
        current_principal().require(OPERATOR)
        if request.dry_run:
            raise InvalidArgument(
                "dry_run is not supported yet",
                violations=[FieldViolation("dry_run", "must be false")],
            )
        if request.company_id:
            results = [
                await retention.apply_retention(
                    self._store, request.company_id, actor=actor_label()
                )
            ]
        else:
            results = await retention.apply_retention_all(self._store, actor=actor_label())
        return storage_pb2.ApplyRetentionResponse(
            results=[
                storage_pb2.RetentionResult(
                    company_id=r.company_id,
                    tier=tier_to_proto(r.tier),
                    positions_deleted=r.deleted_positions,
                    cutoff=convert.timestamp(r.cutoff),
                )
                for r in results
            ]
        )

    async def ListSubscriptionEvents(self, request: Any, context: Ctx) -> Any:
        current_principal().require(OPERATOR, SERVICE)
        since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        events = await subscription_events.list_subscription_events(
            self._store, request.company_id, since, until
        )
        return storage_pb2.ListSubscriptionEventsResponse(
            events=[
                storage_pb2.SubscriptionEvent(
                    kind=e.kind,
                    from_tier=tier_to_proto(e.from_tier) if e.from_tier else None,
                    to_tier=tier_to_proto(e.to_tier),
                    effective_at=convert.timestamp(e.effective_at),
                    actor=e.actor,
                )
                for e in events
            ]
        )

    async def SaveInvoice(self, request: Any, context: Ctx) -> Any:
        current_principal().require(SERVICE, OPERATOR)
        invoice = request.invoice
        if not invoice.HasField("issued_at") or not invoice.HasField("total"):
            raise InvalidArgument(
                "invoice.issued_at and invoice.total are required",
                violations=[FieldViolation("invoice", "issued_at and total are required")],
            )
        stored, existed = await invoices.save_invoice(
            self._store,
            invoices.StoredInvoice(
                invoice_id=invoice.invoice_id,
                company_id=invoice.company_id,
                billing_period=invoice.billing_period,
                status=invoice.status,
                total_minor_units=invoice.total.minor_units,
                currency=invoice.total.currency,
                issued_at=invoice.issued_at.ToDatetime(tzinfo=UTC),
                body=invoice.SerializeToString(),
            ),
        )
        return storage_pb2.SaveInvoiceResponse(
            invoice=billing_pb2.Invoice.FromString(stored.body), already_existed=existed
        )

    async def ListInvoices(self, request: Any, context: Ctx) -> Any:
        company_id = company_in_reach(request.company_id)
        stored = await invoices.list_invoices(
            self._store, company_id, request.billing_period or None
        )
        return storage_pb2.ListInvoicesResponse(
            invoices=[billing_pb2.Invoice.FromString(i.body) for i in stored]
        )

    async def RecordUsage(self, request: Any, context: Ctx) -> Any:
        current_principal().require(SERVICE)
        known = partial(companies.existing_company_ids, self._store)
        result = await self._analytics.record_usage(request.events, known)
        return result.to_proto()

    async def QueryUsage(self, request: Any, context: Ctx) -> Any:
        company_id = company_in_reach(request.company_id)
        rows = await self._analytics.query_usage(
            company_id, request.billing_period, request.group_by
        )
        return storage_pb2.QueryUsageResponse(
            company_id=company_id,
            billing_period=request.billing_period,
            rows=[
                storage_pb2.UsageRow(
                    key=r.key,
                    events=r.events,
                    data_points=r.data_points,
                    processing_time_us=r.processing_time_us,
                )
                for r in rows
            ],
        )

    async def RecordSla(self, request: Any, context: Ctx) -> Any:
        current_principal().require(SERVICE)
        accepted = await self._analytics.record_sla(request.samples)
        return storage_pb2.RecordSlaResponse(accepted=accepted)

    async def QuerySla(self, request: Any, context: Ctx) -> Any:
        current_principal().require(SERVICE, OPERATOR)
        figures = await self._analytics.query_sla(
            request.billing_period, request.company_id or None
        )
        return storage_pb2.QuerySlaResponse(
            figures=[
                storage_pb2.SlaFigures(
                    tier=tier_to_proto(f.tier),
                    company_id=f.company_id,
                    samples=f.samples,
                    within_target=f.within_target,
                    latency_p50_us=f.latency_p50_us,
                    latency_p99_us=f.latency_p99_us,
                    availability_percent=str(f.availability_percent),
                )
                for f in figures
            ]
        )
