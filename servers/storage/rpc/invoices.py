"""Invoices: Billing stores each one once; tenants read their own, staff any company's."""

from __future__ import annotations

import grpc
from tickmesh.storage.v1 import storage_pb2

from mesh.tenancy.current import company_in_reach
from servers.storage import convert
from servers.storage.relational import invoices
from servers.storage.rpc._base import OPERATOR, SERVICE, StorageRpcs, require


class InvoiceRpcs(StorageRpcs):
    async def SaveInvoice(
        self, request: storage_pb2.SaveInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.SaveInvoiceResponse:
        require(SERVICE, OPERATOR)
        to_store = convert.stored_invoice(request.invoice)
        stored, existed = await invoices.save_invoice(self._store, to_store)
        return storage_pb2.SaveInvoiceResponse(
            invoice=convert.invoice(stored), already_existed=existed
        )

    async def ListInvoices(
        self, request: storage_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> storage_pb2.ListInvoicesResponse:
        company_id = company_in_reach(request.company_id)
        stored = await invoices.list_invoices(
            self._store, company_id, request.billing_period or None
        )
        return storage_pb2.ListInvoicesResponse(invoices=[convert.invoice(i) for i in stored])
