"""Who may call what on Billing, and precise refusals of bad input."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import billing_pb2 as invoice_pb2

from tests.integration.billing.conftest import PRO, StorageMesh, this_month

IMMEDIATE = invoice_pb2.CHANGE_EFFECT_IMMEDIATE
UNKNOWN_COMPANY = "0123456789ab"


async def refused(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def violated_fields(err: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(err)
    fields = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


async def test_a_tenant_never_sees_another_company(storage_mesh: StorageMesh) -> None:
    a = await storage_mesh.tenant(PRO, name="A")
    b = await storage_mesh.tenant(PRO, name="B")
    as_a = storage_mesh.billing_stub(a.api_key)
    for call in (
        as_a.PreviewInvoice(billing_pb2.PreviewInvoiceRequest(company_id=b.company_id)),
        as_a.ListInvoices(billing_pb2.ListInvoicesRequest(company_id=b.company_id)),
        as_a.ChangeTier(
            billing_pb2.ChangeTierRequest(company_id=b.company_id, tier=PRO, effect=IMMEDIATE)
        ),
    ):
        assert (await refused(call)).code() == grpc.StatusCode.NOT_FOUND
    own = await as_a.PreviewInvoice(billing_pb2.PreviewInvoiceRequest(company_id=a.company_id))
    assert own.invoice.company_id == a.company_id
    assert list((await as_a.ListInvoices(billing_pb2.ListInvoicesRequest())).invoices) == []


async def test_operator_rpcs_refuse_tenants_and_anonymous_callers(
    storage_mesh: StorageMesh,
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    stubs = {
        "tenant": storage_mesh.billing_stub(tenant.api_key),
        "nobody": storage_mesh.billing_stub(),
    }
    calls: list[tuple[str, object]] = [
        ("CloseBillingPeriod", billing_pb2.CloseBillingPeriodRequest(billing_period="2020-01")),
        ("RevenueReport", billing_pb2.RevenueReportRequest()),
        ("ChurnRisk", billing_pb2.ChurnRiskRequest()),
        ("UpsellCandidates", billing_pb2.UpsellCandidatesRequest()),
        ("SlaReport", billing_pb2.SlaReportRequest()),
        ("CustomerHealth", billing_pb2.CustomerHealthRequest()),
    ]
    for method, request in calls:
        err = await refused(getattr(stubs["tenant"], method)(request))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        err = await refused(getattr(stubs["nobody"], method)(request))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    # The price list alone is public.
    catalog = await stubs["nobody"].GetTierCatalog(billing_pb2.GetTierCatalogRequest())
    assert len(catalog.tiers) == 3


@pytest.mark.parametrize("period", ["2025-13", "2025-1", "25-01", "abcd-ef", " 2025-01", "1969-12"])
async def test_a_bad_period_is_invalid_argument_naming_billing_period(
    storage_mesh: StorageMesh, period: str
) -> None:
    tenant = await storage_mesh.tenant(PRO)
    operator = storage_mesh.billing_stub(storage_mesh.config.admin_key)
    as_tenant = storage_mesh.billing_stub(tenant.api_key)
    for call in (
        as_tenant.PreviewInvoice(billing_pb2.PreviewInvoiceRequest(billing_period=period)),
        as_tenant.Reconcile(billing_pb2.ReconcileRequest(billing_period=period)),
        operator.CloseBillingPeriod(billing_pb2.CloseBillingPeriodRequest(billing_period=period)),
        operator.RevenueReport(billing_pb2.RevenueReportRequest(billing_period=period)),
        operator.ChurnRisk(billing_pb2.ChurnRiskRequest(billing_period=period)),
        operator.SlaReport(billing_pb2.SlaReportRequest(billing_period=period)),
        operator.Reconcile(billing_pb2.ReconcileRequest(billing_period=period)),
    ):
        err = await refused(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(err) == ["billing_period"]


async def test_bad_requests_are_refused_precisely(storage_mesh: StorageMesh) -> None:
    tenant = await storage_mesh.tenant(PRO)
    operator = storage_mesh.billing_stub(storage_mesh.config.admin_key)
    as_tenant = storage_mesh.billing_stub(tenant.api_key)
    op, me, b, unknown = operator, as_tenant, billing_pb2, UNKNOWN_COMPANY
    cases: list[tuple[object, str, object, str, list[str]]] = [
        (op, "PreviewInvoice", b.PreviewInvoiceRequest(), "INVALID_ARGUMENT", ["company_id"]),
        (op, "PreviewInvoice", b.PreviewInvoiceRequest(company_id=unknown), "NOT_FOUND", []),
        (
            op,
            "PreviewInvoice",
            b.PreviewInvoiceRequest(company_id="not-an-id"),
            "INVALID_ARGUMENT",
            ["company_id"],
        ),
        (op, "ListInvoices", b.ListInvoicesRequest(company_id=unknown), "NOT_FOUND", []),
        (
            op,
            "CloseBillingPeriod",
            b.CloseBillingPeriodRequest(),
            "INVALID_ARGUMENT",
            ["billing_period"],
        ),
        (
            op,
            "CloseBillingPeriod",
            b.CloseBillingPeriodRequest(billing_period="2020-01", company_id=unknown),
            "NOT_FOUND",
            [],
        ),
        (
            op,
            "ChangeTier",
            b.ChangeTierRequest(company_id=unknown, tier=PRO, effect=IMMEDIATE),
            "NOT_FOUND",
            [],
        ),
        (
            op,
            "ChangeTier",
            b.ChangeTierRequest(tier=PRO, effect=IMMEDIATE),
            "INVALID_ARGUMENT",
            ["company_id"],
        ),
        (me, "ChangeTier", b.ChangeTierRequest(effect=IMMEDIATE), "INVALID_ARGUMENT", ["tier"]),
        (me, "ChangeTier", b.ChangeTierRequest(tier=PRO), "INVALID_ARGUMENT", ["effect"]),
        (
            op,
            "UpsellCandidates",
            b.UpsellCandidatesRequest(threshold=1.5),
            "INVALID_ARGUMENT",
            ["threshold"],
        ),
        (op, "CustomerHealth", b.CustomerHealthRequest(company_id=unknown), "NOT_FOUND", []),
    ]
    for stub, method, request, code, fields in cases:
        err = await refused(getattr(stub, method)(request))
        assert (err.code().name, violated_fields(err)) == (code, fields), err.details()
    # A period before the company existed previews as an empty draft, not an error.
    empty = await as_tenant.PreviewInvoice(
        billing_pb2.PreviewInvoiceRequest(billing_period="2020-01")
    )
    assert empty.invoice.total.minor_units == 0
    assert this_month() != "2020-01"
