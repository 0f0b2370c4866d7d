"""Payments: Billing puts methods on file and records charges; tenants read their method."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.current import company_in_reach
from servers.storage import convert
from servers.storage.relational import payments
from servers.storage.rpc._base import SERVICE, TENANT, StorageRpcs, require


class PaymentRpcs(StorageRpcs):
    async def SavePaymentMethod(
        self, request: storage_pb2.SavePaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SavePaymentMethodResponse:
        require(SERVICE)
        company = company_in_reach(request.company_id)
        method = convert.payment_method_from_pb(company, request.method)
        saved = await payments.save_method(self._store, method)
        return storage_pb2.SavePaymentMethodResponse(method=convert.payment_method(saved))

    async def GetPaymentMethod(
        self, request: storage_pb2.GetPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.GetPaymentMethodResponse:
        require(TENANT, SERVICE)
        method = await payments.get_method(self._store, company_in_reach(request.company_id))
        return storage_pb2.GetPaymentMethodResponse(method=convert.payment_method(method))

    async def RecordPayment(
        self, request: storage_pb2.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.RecordPaymentResponse:
        require(SERVICE)
        status = await payments.record_payment(
            self._store, convert.payment_from_pb(request.payment)
        )
        return storage_pb2.RecordPaymentResponse(payment_status=status)
