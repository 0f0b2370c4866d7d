"""Conversions between Storage's records (relational and analytics) and its contract."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf import timestamp_pb2
from tickmesh.common.v1 import billing_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier
from servers.storage.analytics import SlaFigures, UsageRow
from servers.storage.analytics.brokers import BrokerFigures, ServedCompany
from servers.storage.relational.api_keys import ApiKey, IssuedKey
from servers.storage.relational.chains import ChainVersion
from servers.storage.relational.companies import Company
from servers.storage.relational.events import Event
from servers.storage.relational.invoices import StoredInvoice
from servers.storage.relational.payments import Payment, PaymentMethod
from servers.storage.relational.quota import StorageUsage
from servers.storage.relational.retention import RetentionResult
from servers.storage.relational.subscription_events import SubscriptionEvent
from servers.storage.relational.subscriptions import Effective, Rollover, Subscription
from servers.storage.relational.trading import BrokerAccount, NewPosition, Position
from servers.storage.relational.users import User
from servers.storage.relational.validation import Validator
from servers.storage.relational.webhooks import Attempt, Endpoint

WEBHOOK_ID = re.compile(r"we_[0-9a-f]{24}")
EVENT_ID = re.compile(r"evt_[0-9a-f]{24}")
TOKEN = re.compile(r"[A-Za-z0-9_]{3,100}")
BRAND = re.compile(r"[a-z]{2,20}")
LAST4 = re.compile(r"[0-9]{4}")

_EFFECTS = {
    billing_pb2.CHANGE_EFFECT_IMMEDIATE: Effective.IMMEDIATE,
    billing_pb2.CHANGE_EFFECT_END_OF_TERM: Effective.END_OF_TERM,
}


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A protobuf Timestamp, or None for None."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def company(record: Company, tier: Tier) -> storage_pb2.Company:
    return storage_pb2.Company(
        company_id=record.id,
        name=record.name,
        tier=tier_to_proto(tier),
        status=record.status.value,
        created_at=timestamp(record.created_at),
    )


def created_company(
    record: Company, sub: Subscription, owner: User, key: IssuedKey
) -> storage_pb2.CreateCompanyResponse:
    return storage_pb2.CreateCompanyResponse(
        company=company(record, sub.tier),
        subscription=subscription(sub),
        owner=user(owner),
        owner_key=issued_key(key, owner.created_at),
    )


def page_window(request: storage_pb2.ListCompaniesRequest) -> tuple[int, int]:
    """(offset, size) of the page asked for; the page token is the offset as digits."""
    size = request.page_size or 100
    if not 1 <= size <= 1000 or (request.page_token and not request.page_token.isdigit()):
        raise InvalidArgument(
            "page_size must be 1-1000 and page_token one this RPC returned",
            violations=[FieldViolation("page_size", "1-1000")],
        )
    return int(request.page_token or 0), size


def company_page(
    listed: Sequence[tuple[Company, Tier]], next_offset: int | None
) -> storage_pb2.ListCompaniesResponse:
    """A page of companies; `next_offset` None on the last."""
    return storage_pb2.ListCompaniesResponse(
        companies=[company(c, tier) for c, tier in listed],
        next_page_token="" if next_offset is None else str(next_offset),
    )


def issued_key(key: IssuedKey, created_at: datetime) -> storage_pb2.IssueApiKeyResponse:
    return storage_pb2.IssueApiKeyResponse(
        key_id=key.key_id, api_key=key.plaintext, created_at=timestamp(created_at),
        expires_at=timestamp(key.expires_at),
    )  # fmt: skip


def api_key(key: ApiKey) -> storage_pb2.ApiKeyInfo:
    return storage_pb2.ApiKeyInfo(
        key_id=key.id, prefix=key.prefix, user_id=key.user_id, scopes=sorted(key.scopes),
        created_at=timestamp(key.created_at), expires_at=timestamp(key.expires_at),
        revoked_at=timestamp(key.revoked_at), last_used_at=timestamp(key.last_used_at),
    )  # fmt: skip


def subscription(record: Subscription) -> storage_pb2.Subscription:
    return storage_pb2.Subscription(
        company_id=record.company_id,
        tier=tier_to_proto(record.tier),
        status=record.status.value,
        period_start=timestamp(record.period_start),
        period_end=timestamp(record.period_end),
        pending_tier=tier_to_proto(record.pending_tier) if record.pending_tier else None,
    )


def rollover(record: Rollover) -> storage_pb2.SubscriptionAdvance:
    return storage_pb2.SubscriptionAdvance(
        company_id=record.after.company_id,
        action=record.action,
        tier_before=tier_to_proto(record.before.tier),
        tier_after=tier_to_proto(record.after.tier),
        period_start=timestamp(record.after.period_start),
    )


def change_effect(value: billing_pb2.ChangeEffect) -> Effective:
    """The domain effect of a ChangeTierRequest; INVALID_ARGUMENT when unset or unknown."""
    effect = _EFFECTS.get(value)
    if effect is None:
        raise InvalidArgument(
            "effect must be CHANGE_EFFECT_IMMEDIATE or CHANGE_EFFECT_END_OF_TERM",
            violations=[FieldViolation("effect", "IMMEDIATE or END_OF_TERM")],
        )
    return effect


def tier_change(
    before: Subscription, after: Subscription, effect: Effective
) -> storage_pb2.ChangeTierResponse:
    """The change as asked: effective now (when recorded) or at the end of the period."""
    effective_at = after.updated_at if effect is Effective.IMMEDIATE else after.period_end
    return storage_pb2.ChangeTierResponse(
        subscription=subscription(after),
        previous_tier=tier_to_proto(before.tier),
        effective_at=timestamp(effective_at),
    )


def event_window(
    request: storage_pb2.ListSubscriptionEventsRequest,
) -> tuple[datetime | None, datetime | None]:
    """[since, until) of the request; None for an open end."""
    since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
    until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
    return since, until


def subscription_event(record: SubscriptionEvent) -> storage_pb2.SubscriptionEvent:
    return storage_pb2.SubscriptionEvent(
        kind=record.kind,
        from_tier=tier_to_proto(record.from_tier) if record.from_tier else None,
        to_tier=tier_to_proto(record.to_tier),
        effective_at=timestamp(record.effective_at),
        actor=record.actor,
    )


def user(record: User) -> storage_pb2.User:
    return storage_pb2.User(
        user_id=record.id,
        email=record.email,
        name=record.name,
        role=record.role,
        created_at=timestamp(record.created_at),
    )


def broker_account(record: BrokerAccount) -> storage_pb2.BrokerAccount:
    return storage_pb2.BrokerAccount(
        account_id=record.id,
        user_id=record.user_id,
        broker=record.broker,
        account_number=record.account_number,
    )


def position(record: Position) -> storage_pb2.Position:
    return storage_pb2.Position(
        position_id=record.id,
        account_id=record.account_id,
        symbol=record.symbol,
        side=record.side,
        volume=str(record.volume),
        open_price=str(record.open_price),
        close_price="" if record.close_price is None else str(record.close_price),
        opened_at=timestamp(record.opened_at),
        closed_at=timestamp(record.closed_at),
    )


def position_batch(messages: Sequence[storage_pb2.Position]) -> tuple[str, list[NewPosition]]:
    """The one account a RecordPositions request names, and its positions to record."""
    accounts = {p.account_id for p in messages}
    if len(accounts) != 1:
        raise InvalidArgument(
            "positions must name exactly one account_id per request",
            violations=[FieldViolation("positions", "one account_id per request, at least one")],
        )
    return accounts.pop(), [new_position(p, i) for i, p in enumerate(messages)]


def new_position(message: storage_pb2.Position, index: int) -> NewPosition:
    """A position to record; decimals are exact strings, never floats."""
    field = f"positions[{index}]"
    closed = message.HasField("closed_at")
    return NewPosition(
        symbol=message.symbol,
        side=message.side,
        volume=_decimal(message.volume, f"{field}.volume"),
        open_price=_decimal(message.open_price, f"{field}.open_price"),
        opened_at=message.opened_at.ToDatetime(tzinfo=UTC)
        if message.HasField("opened_at")
        else _missing(f"{field}.opened_at"),
        close_price=_decimal(message.close_price, f"{field}.close_price")
        if message.close_price
        else None,
        closed_at=message.closed_at.ToDatetime(tzinfo=UTC) if closed else None,
    )


def storage_usage(usage: StorageUsage) -> storage_pb2.GetStorageUsageResponse:
    """Used and allowed bytes; an unlimited quota is -1."""
    limit = -1 if usage.limit_bytes is None else usage.limit_bytes
    return storage_pb2.GetStorageUsageResponse(used_bytes=usage.used_bytes, quota_bytes=limit)


def retention_result(record: RetentionResult) -> storage_pb2.RetentionResult:
    return storage_pb2.RetentionResult(
        company_id=record.company_id,
        tier=tier_to_proto(record.tier),
        positions_deleted=record.deleted_positions,
        cutoff=timestamp(record.cutoff),
    )


def stored_invoice(message: billing_pb2.Invoice) -> StoredInvoice:
    """An invoice to store: its indexed fields, and the message itself as the body."""
    if not message.HasField("issued_at") or not message.HasField("total"):
        raise InvalidArgument(
            "invoice.issued_at and invoice.total are required",
            violations=[FieldViolation("invoice", "issued_at and total are required")],
        )
    return StoredInvoice(
        invoice_id=message.invoice_id,
        company_id=message.company_id,
        billing_period=message.billing_period,
        status=message.status,
        total_minor_units=message.total.minor_units,
        currency=message.total.currency,
        issued_at=message.issued_at.ToDatetime(tzinfo=UTC),
        body=message.SerializeToString(),
    )


def invoice(record: StoredInvoice) -> billing_pb2.Invoice:
    """The invoice exactly as it was first stored, with its payment status now."""
    message = billing_pb2.Invoice.FromString(record.body)
    message.payment_status = record.payment_status
    return message


def usage_row(record: UsageRow) -> storage_pb2.UsageRow:
    return storage_pb2.UsageRow(
        key=record.key,
        events=record.events,
        data_points=record.data_points,
        processing_time_us=record.processing_time_us,
    )


def sla_figures(record: SlaFigures) -> storage_pb2.SlaFigures:
    figures = storage_pb2.SlaFigures(
        tier=tier_to_proto(record.tier),
        company_id=record.company_id,
        samples=record.samples,
        within_target=record.within_target,
        latency_p50_us=record.latency_p50_us,
        latency_p99_us=record.latency_p99_us,
        availability_percent=str(record.availability_percent),
        minutes=record.minutes,
        minutes_missed=record.minutes_missed,
        held_samples=record.held_samples,
        latency_with_hold_p50_us=record.latency_with_hold_p50_us,
        latency_with_hold_p99_us=record.latency_with_hold_p99_us,
        latency_histogram=[
            storage_pb2.LatencyBucket(below_us=bound, samples=n) for bound, n in record.histogram
        ],
    )
    if (streams := record.streams) is not None:
        figures.completeness_percent = str(streams.completeness_percent)
        figures.stream_availability_percent = str(streams.stream_availability_percent)
        figures.stream_minutes = streams.stream_minutes
        figures.minutes_below_redundancy = streams.minutes_below_redundancy
        figures.live_sources_min = streams.live_sources_min
    return figures


def broker_figures_response(
    figures: list[BrokerFigures], served: list[ServedCompany]
) -> storage_pb2.QueryBrokerFiguresResponse:
    return storage_pb2.QueryBrokerFiguresResponse(
        brokers=[
            storage_pb2.BrokerFigures(
                broker=f.broker,
                samples=f.samples,
                observed_us=f.observed_us,
                up_us=f.up_us,
                quotes=f.quotes,
                expected_quotes=f.expected_quotes,
                invalid=f.invalid,
                outliers=f.outliers,
                latency_mean_us=f.latency_mean_us,
                latency_p99_us=f.latency_p99_us,
                best_prices_won=[
                    storage_pb2.BestPricesWon(tier=tier_to_proto(t), won=n)
                    for t, n in sorted(f.best_prices_won.items(), key=lambda kv: kv[0].rank)
                ],
            )
            for f in figures
        ],
        served=[
            storage_pb2.ServedCompany(
                company_id=s.company_id, tier=tier_to_proto(s.tier), ticks=s.ticks
            )
            for s in served
        ],
    )


def _decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidArgument(
            f"{field}: {text[:40]!r} is not a decimal number",
            violations=[FieldViolation(field, "an exact decimal string, e.g. '0.10'")],
        ) from None
    if not value.is_finite():
        raise InvalidArgument(
            f"{field}: must be finite", violations=[FieldViolation(field, "must be finite")]
        )
    return value


def _missing(field: str) -> datetime:
    raise InvalidArgument(f"{field} is required", violations=[FieldViolation(field, "required")])


def webhook_endpoint(record: Endpoint) -> storage_pb2.WebhookEndpoint:
    return storage_pb2.WebhookEndpoint(
        endpoint_id=record.endpoint_id,
        company_id=record.company_id,
        url=record.url,
        event_types=list(record.event_types),
        status=record.status,
        disabled_reason=record.disabled_reason or "",
        created_at=timestamp(record.created_at),
        failing_since=timestamp(record.failing_since),
        secret=record.secret,
    )


def webhook_attempt(record: Attempt) -> storage_pb2.WebhookAttempt:
    return storage_pb2.WebhookAttempt(
        endpoint_id=record.endpoint_id,
        event_id=record.event_id,
        company_id=record.company_id,
        attempt=record.attempt,
        succeeded=record.succeeded,
        status_code=record.status_code or 0,
        error=record.error or "",
        attempted_at=timestamp(record.attempted_at),
        duration_ms=record.duration_ms,
    )


def attempt_from_pb(message: storage_pb2.WebhookAttempt) -> Attempt:
    """The attempt to log; INVALID_ARGUMENT when an id or the time is missing."""
    check = Validator()
    check.text("attempt.endpoint_id", message.endpoint_id, WEBHOOK_ID, 40, "an endpoint id")
    check.text("attempt.event_id", message.event_id, EVENT_ID, 40, "an event id")
    company = check.company_id(message.company_id, "attempt.company_id")
    check.count(message.attempt, "attempt.attempt", low=1, high=10_000)
    if not message.HasField("attempted_at"):
        check.fail("attempt.attempted_at", "required")
    check.check()
    return Attempt(
        message.endpoint_id, message.event_id, company, message.attempt, message.succeeded,
        message.status_code or None, message.error or None,
        message.attempted_at.ToDatetime(tzinfo=UTC), max(0, message.duration_ms),
    )  # fmt: skip


def event(record: Event) -> storage_pb2.Event:
    return storage_pb2.Event(
        seq=record.seq,
        event_id=record.event_id,
        company_id=record.company_id,
        type=record.type,
        occurred_at=timestamp(record.occurred_at),
        data_json=json.dumps(record.data, sort_keys=True),
    )


def payment_method(record: PaymentMethod) -> storage_pb2.PaymentMethod:
    return storage_pb2.PaymentMethod(
        token=record.token, brand=record.brand, last4=record.last4,
        exp_month=record.exp_month, exp_year=record.exp_year,
        created_at=timestamp(record.created_at),
    )  # fmt: skip


def payment_method_from_pb(company_id: str, message: storage_pb2.PaymentMethod) -> PaymentMethod:
    """The method to store; INVALID_ARGUMENT naming what is missing."""
    check = Validator()
    check.text("method.token", message.token, TOKEN, 100, "a gateway token")
    check.text("method.brand", message.brand, BRAND, 20, "a card brand")
    check.text("method.last4", message.last4, LAST4, 4, "four digits")
    check.count(message.exp_month, "method.exp_month", low=1, high=12)
    check.count(message.exp_year, "method.exp_year", low=2000, high=2200)
    check.check()
    return PaymentMethod(
        company_id, message.token, message.brand, message.last4, message.exp_month,
        message.exp_year, datetime.now(UTC),
    )  # fmt: skip


def payment_from_pb(message: storage_pb2.Payment) -> Payment:
    if not message.HasField("attempted_at"):
        raise InvalidArgument(
            "payment.attempted_at is required",
            violations=[FieldViolation("payment.attempted_at", "required")],
        )
    return Payment(
        message.company_id, message.invoice_id, message.amount_minor_units, message.status,
        message.reason or None, message.reference or None,
        message.attempted_at.ToDatetime(tzinfo=UTC),
    )  # fmt: skip


def chain_version(record: ChainVersion) -> storage_pb2.ChainVersion:
    return storage_pb2.ChainVersion(
        name=record.name, version=record.version, definition=record.definition,
        registered_at=timestamp(record.registered_at),
    )  # fmt: skip
