"""StorageService servicer: the RPC groups of servers.storage.rpc composed into one class."""

from __future__ import annotations

from typing import Any

from tickmesh.storage.v1 import storage_pb2_grpc

from servers.storage.analytics.market import MarketHistory
from servers.storage.rpc.analytics import AnalyticsRpcs
from servers.storage.rpc.audit import AuditRpcs
from servers.storage.rpc.chains import ChainRpcs
from servers.storage.rpc.companies import CompanyRpcs
from servers.storage.rpc.history import HistoryRpcs
from servers.storage.rpc.invoices import InvoiceRpcs
from servers.storage.rpc.keys import KeyRpcs
from servers.storage.rpc.payments import PaymentRpcs
from servers.storage.rpc.signup import SignUpRpcs
from servers.storage.rpc.subscriptions import SubscriptionRpcs
from servers.storage.rpc.tickets import TicketRpcs
from servers.storage.rpc.trading import TradingRpcs
from servers.storage.rpc.users import UserRpcs
from servers.storage.rpc.webhooks import WebhookRpcs


class StorageServicer(
    CompanyRpcs,
    UserRpcs,
    KeyRpcs,
    SubscriptionRpcs,
    TradingRpcs,
    AnalyticsRpcs,
    InvoiceRpcs,
    WebhookRpcs,
    PaymentRpcs,
    ChainRpcs,
    HistoryRpcs,
    AuditRpcs,
    SignUpRpcs,
    TicketRpcs,
    storage_pb2_grpc.StorageServiceServicer,  # last: its stubs only answer what no group does
):
    """Tenants, users, keys, subscriptions, trading data, analytics, invoices, webhooks,
    payments, chain definitions, market-data history, the audit trail, sign-up and
    support tickets."""

    def __init__(self, *args: Any, history: MarketHistory | None = None) -> None:
        super().__init__(*args)
        self._history = history
