"""Billing RPCs about taking money: the payment method on file, collecting a period."""

from __future__ import annotations

from datetime import UTC

import grpc
from tickmesh.billing.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.business_time import as_of
from mesh.errors import FailedPrecondition
from mesh.tenancy.current import current_principal
from servers.billing.collection import collect_period
from servers.billing.periods import BillingPeriod
from servers.billing.rpc._base import TENANT, BillingRpcs, require_staff
from servers.billing.storage_source import StorageSource


class PaymentRpcs(BillingRpcs):
    """SetPaymentMethod, CollectPayments."""

    async def SetPaymentMethod(
        self, request: billing_pb2.SetPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.SetPaymentMethodResponse:
        company = current_principal().require_tenant().company_id
        card = await self._gateway.describe(request.token)
        await self._storage.save_payment_method(company, storage_pb2.PaymentMethod(
            token=request.token, brand=card.brand, last4=card.last4,
            exp_month=card.exp_month, exp_year=card.exp_year,
        ))  # fmt: skip
        return billing_pb2.SetPaymentMethodResponse(brand=card.brand, last4=card.last4)

    async def CollectPayments(
        self, request: billing_pb2.CollectPaymentsRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.CollectPaymentsResponse:
        require_staff()
        period = BillingPeriod.parse(request.billing_period)
        at = as_of(request) or self._clock.now()
        if at < period.end:
            raise FailedPrecondition(f"billing period {period} has not ended; nothing to collect")
        collected = await collect_period(
            self._storage, self._gateway, period, at.astimezone(UTC), request.company_id
        )
        return billing_pb2.CollectPaymentsResponse(
            collections=[
                billing_pb2.Collection(
                    company_id=c.company_id, invoice_id=c.invoice_id,
                    payment_status=c.payment_status, reason=c.reason,
                )
                for c in collected
            ]
        )  # fmt: skip


async def require_payment_method(storage: StorageSource, company: str) -> None:
    """A tenant moving itself to a paid tier needs a payment method on file (the
    operator may grant a paid tier without one)."""
    if current_principal().kind is not TENANT:
        return
    if await storage.payment_method(company) is None:
        raise FailedPrecondition(
            "a paid tier needs a payment method on file: add one with "
            "BillingService.SetPaymentMethod, then change the tier",
            reason="PAYMENT_METHOD_REQUIRED",
        )
