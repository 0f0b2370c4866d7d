"""Who may call what: roles, API-key scopes, and the one table that maps every tenant RPC to
the scope it needs.

Roles are a user's standing in its company: an owner can do everything, including
making owners; an admin everything except making owners or acting on an owner's
keys; a member uses the data (market data, usage, trading, chains) but manages
nothing. Scopes are what one API key may do, at most its user's role's scopes: a
trading bot's key can be `market_data` only. Every tenant call is checked against
TENANT_RPCS by the permission interceptor; a method not in the table is refused to
tenants (fail closed), and a test lists every method of every contract so that a new
RPC cannot ship unclassified.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from mesh.errors import PermissionDenied
from mesh.tenancy.context import TenantContext


class Scope(enum.StrEnum):
    """What an API key may do."""

    MARKET_DATA = "market_data"  # live ticks, history, quotes, session stats
    USAGE_READ = "usage_read"  # usage, invoice previews, reconciliation
    BILLING = "billing"  # tier changes, payment methods, invoices
    USER_ADMIN = "user_admin"  # users and API keys
    WEBHOOKS = "webhooks"  # webhook endpoints, events, replays
    TRADING = "trading"  # broker accounts and positions
    CHAINS = "chains"  # running and reading chains


class Role(enum.StrEnum):
    """A user's standing in its company."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


ALL_SCOPES = frozenset(Scope)
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.OWNER: ALL_SCOPES,
    Role.ADMIN: ALL_SCOPES,
    Role.MEMBER: frozenset({Scope.MARKET_DATA, Scope.USAGE_READ, Scope.TRADING, Scope.CHAINS}),
}
MANAGES: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset(Role),
    Role.ADMIN: frozenset({Role.ADMIN, Role.MEMBER}),  # only owners make (or act for) owners
    Role.MEMBER: frozenset(),
}
"""The roles whose users (and their keys) a role may create or manage."""

ANY = None
"""Any verified tenant of the company (reading its own company or subscription)."""

TENANT_RPCS: dict[str, Scope | None] = {
    # Storage
    "/tickmesh.storage.v1.StorageService/GetCompany": ANY,
    "/tickmesh.storage.v1.StorageService/GetSubscription": ANY,
    "/tickmesh.storage.v1.StorageService/GetCompanyConfig": ANY,
    "/tickmesh.storage.v1.StorageService/CreateUser": Scope.USER_ADMIN,
    "/tickmesh.storage.v1.StorageService/ListUsers": Scope.USER_ADMIN,
    "/tickmesh.storage.v1.StorageService/IssueApiKey": Scope.USER_ADMIN,
    "/tickmesh.storage.v1.StorageService/RevokeApiKey": Scope.USER_ADMIN,
    "/tickmesh.storage.v1.StorageService/ListApiKeys": Scope.USER_ADMIN,
    # And the owner role, which the RPC itself requires.
    "/tickmesh.storage.v1.StorageService/ListAuditEvents": Scope.USER_ADMIN,
    "/tickmesh.storage.v1.StorageService/CreateBrokerAccount": Scope.TRADING,
    "/tickmesh.storage.v1.StorageService/RecordPositions": Scope.TRADING,
    "/tickmesh.storage.v1.StorageService/ListPositions": Scope.TRADING,
    "/tickmesh.storage.v1.StorageService/GetStorageUsage": Scope.USAGE_READ,
    "/tickmesh.storage.v1.StorageService/QueryUsage": Scope.USAGE_READ,
    "/tickmesh.storage.v1.StorageService/ListInvoices": Scope.BILLING,
    "/tickmesh.storage.v1.StorageService/CreateWebhookEndpoint": Scope.WEBHOOKS,
    "/tickmesh.storage.v1.StorageService/ListWebhookEndpoints": Scope.WEBHOOKS,
    "/tickmesh.storage.v1.StorageService/DeleteWebhookEndpoint": Scope.WEBHOOKS,
    "/tickmesh.storage.v1.StorageService/ListWebhookAttempts": Scope.WEBHOOKS,
    "/tickmesh.storage.v1.StorageService/ListEvents": Scope.WEBHOOKS,
    "/tickmesh.storage.v1.StorageService/GetPaymentMethod": Scope.BILLING,
    # Public (no credential needed; a tenant's key may call them too).
    "/tickmesh.storage.v1.StorageService/SignUp": ANY,
    "/tickmesh.storage.v1.StorageService/VerifyEmail": ANY,
    # Any user of a company may ask support.
    "/tickmesh.storage.v1.StorageService/OpenTicket": ANY,
    "/tickmesh.storage.v1.StorageService/ListTickets": ANY,
    "/tickmesh.storage.v1.StorageService/GetTicket": ANY,
    "/tickmesh.storage.v1.StorageService/ReplyTicket": ANY,
    "/tickmesh.storage.v1.StorageService/CloseTicket": ANY,
    # Billing
    "/tickmesh.billing.v1.BillingService/GetTierCatalog": ANY,
    "/tickmesh.billing.v1.BillingService/PreviewInvoice": Scope.USAGE_READ,
    "/tickmesh.billing.v1.BillingService/Reconcile": Scope.USAGE_READ,
    "/tickmesh.billing.v1.BillingService/ListInvoices": Scope.BILLING,
    "/tickmesh.billing.v1.BillingService/ChangeTier": Scope.BILLING,
    "/tickmesh.billing.v1.BillingService/SetPaymentMethod": Scope.BILLING,
    # Bridge
    "/tickmesh.bridge.v1.BridgeService/Subscribe": Scope.MARKET_DATA,
    "/tickmesh.bridge.v1.BridgeService/GetSessionStats": Scope.MARKET_DATA,
    "/tickmesh.bridge.v1.BridgeService/GetUsage": Scope.USAGE_READ,
    "/tickmesh.bridge.v1.HistoryService/GetQuote": Scope.MARKET_DATA,
    "/tickmesh.bridge.v1.HistoryService/GetBars": Scope.MARKET_DATA,
    "/tickmesh.bridge.v1.HistoryService/StreamHistory": Scope.MARKET_DATA,
    # Ingestion
    "/tickmesh.ingestion.v1.IngestionService/ListSymbols": Scope.MARKET_DATA,
    "/tickmesh.ingestion.v1.IngestionService/GetBrokerStatus": Scope.MARKET_DATA,
    # Hub
    "/tickmesh.hub.v1.HubService/Resolve": ANY,
    "/tickmesh.hub.v1.HubService/GetServiceCatalog": ANY,
    # Workflow
    "/tickmesh.workflow.v1.WebhookService/ReplayWebhook": Scope.WEBHOOKS,
    "/tickmesh.workflow.v1.ChainService/ListChains": Scope.CHAINS,
    "/tickmesh.workflow.v1.ChainService/GetChain": Scope.CHAINS,
    "/tickmesh.workflow.v1.ChainService/RunChain": Scope.CHAINS,
    "/tickmesh.workflow.v1.ChainService/GetRun": Scope.CHAINS,
    "/tickmesh.workflow.v1.ChainService/WatchRun": Scope.CHAINS,
    "/tickmesh.workflow.v1.ChainService/ListRuns": Scope.CHAINS,
}
"""Every RPC a tenant may call, and the scope it needs (ANY: none beyond being the
company's). Every other RPC is for the operator or services only."""


NOT_FOR_TENANTS = frozenset({
    f"/tickmesh.billing.v1.BillingService/{m}" for m in (
        "CloseBillingPeriod", "RevenueReport", "ChurnRisk", "UpsellCandidates", "SlaReport",
        "CustomerHealth", "CollectPayments", "BrokerReport",
    )
} | {
    f"/tickmesh.storage.v1.StorageService/{m}" for m in (
        "CreateCompany", "ListCompanies", "AuthenticateKey", "ChangeTier",
        "ListSubscriptionEvents", "ApplyRetention", "RecordUsage", "RecordSla", "QuerySla",
        "SaveInvoice", "AdvanceSubscriptions", "MarkPastDue", "RecordWebhookAttempt",
        "SavePaymentMethod", "RecordPayment", "SaveChainVersion", "ListChainVersions",
        "RecordTicks", "GetRecordedSequence", "QueryTicks", "QueryBars", "LatestTicks",
        "EmitEvent", "ReportMissedResponses", "SetCompanyConfig", "RecordBrokerSamples",
        "QueryBrokerFigures",
    )
} | {
    "/tickmesh.ingestion.v1.IngestionService/StreamTicks",
    "/tickmesh.ingestion.v1.IngestionService/ListSourceSwitches",
    "/tickmesh.ingestion.v1.IngestionService/SetBrokerFeed",
    "/tickmesh.ingestion.v1.IngestionService/PublishTicks",
    "/tickmesh.workflow.v1.ChainService/RegisterChain",
    "/tickmesh.common.v1.BusinessMetricsService/GetBusinessMetrics",
} | {
    f"/tickmesh.hub.v1.HubService/{m}" for m in (
        "Register", "Heartbeat", "Deregister", "ListInstances", "WatchInstances", "GetMeshMetrics",
    )
} | {
    f"/tickmesh.workflow.v1.LifecycleService/{m}" for m in (
        "GetClock", "AdvanceClock", "ListSchedules", "RunSchedule",
    )
})  # fmt: skip
"""The operator's and the services' RPCs: refused to every API key. Listed so that every
RPC of every contract is classified on purpose (a test checks it)."""


def parse_role(value: str) -> Role:
    """The role named `value`; ValueError for an unknown one."""
    return Role(value)


def key_scopes(role: Role, requested: Iterable[str] = ()) -> frozenset[Scope]:
    """A key's scopes: the requested ones (all must be the role's), or the role's all."""
    wanted = frozenset(Scope(s) for s in requested)
    return wanted or ROLE_SCOPES[role]


def held_scopes(tenant: TenantContext) -> frozenset[str]:
    """What a tenant's call may do: its key's scopes within its role's (an unknown role
    holds nothing)."""
    try:
        role = ROLE_SCOPES[Role(tenant.role)]
    except ValueError:
        return frozenset()
    granted = {s.value for s in role}
    return frozenset(tenant.scopes & granted if tenant.scopes else granted)


def check_manages(tenant: TenantContext, role: str) -> None:
    """PERMISSION_DENIED unless `tenant`'s role may create or manage a user of `role`
    (an unknown `role` is left to the caller's validation)."""
    try:
        wanted = Role(role)
    except ValueError:
        return
    try:
        manages = MANAGES[Role(tenant.role)]
    except ValueError:
        manages = frozenset()
    if wanted not in manages:
        raise PermissionDenied(
            f"{with_article(tenant.role)} cannot make {with_article(role)}; only an owner can",
            reason="ROLE_REQUIRED",
            metadata={"required_role": Role.OWNER.value, "role": tenant.role},
        )


def with_article(role: str) -> str:
    """`an owner`, `an admin`, `a member`."""
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def roles_with(scope: Scope) -> list[str]:
    """The roles whose users can hold `scope`, for a denial's message."""
    return [r.value for r in Role if scope in ROLE_SCOPES[r]]
