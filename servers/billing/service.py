"""BillingService servicer: a thin adapter from the contract to the billing modules."""

from __future__ import annotations

import grpc
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc

from mesh.contract import answer_unbuilt
from servers.billing.catalog import tier_catalog


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    """Serves the tier catalog; rating and invoices arrive with the metering issue."""

    def __init__(self) -> None:
        answer_unbuilt(
            self,
            billing_pb2_grpc.BillingServiceServicer,
            billing_pb2.DESCRIPTOR.services_by_name["BillingService"],
            "planned: metering and billing, issue #5",
        )

    async def GetTierCatalog(
        self, request: billing_pb2.GetTierCatalogRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.GetTierCatalogResponse:
        return tier_catalog()
