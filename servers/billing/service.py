"""BillingService servicer: the RPC groups of servers.billing.rpc composed into one class."""

from __future__ import annotations

from tickmesh.billing.v1 import billing_pb2_grpc

from servers.billing.rpc.analytics import AnalyticsRpcs
from servers.billing.rpc.invoicing import InvoicingRpcs
from servers.billing.rpc.payments import PaymentRpcs


class BillingServicer(
    InvoicingRpcs,
    PaymentRpcs,
    AnalyticsRpcs,
    billing_pb2_grpc.BillingServiceServicer,  # last: its stubs only answer what no group does
):
    """Every BillingService RPC; the numbers come from Storage, the rules from the modules."""
