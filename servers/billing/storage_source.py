"""Billing's reads and writes on Storage, signed as the Billing service, as domain values.

The servicer authorizes its own caller first; every call here then acts on Billing's
own account (a service principal), so it may read any company. Mappings:
- subscription history: ListSubscriptionEvents without `since` (a company always has
  its "created" event, so an empty history means an unknown company); segments_for_period
  clips it to the period, so the tier at the period start comes from the events before it.
  Expiry arrives as an "expired" event, so InvoiceInput.expires_at stays None (Storage's
  Subscription has no expires_at and GetSubscription is tenant-only).
- usage: QueryUsage(group_by="endpoint"): ticks delivered = data points of the Bridge's
  tick endpoint (mesh.metering.vocabulary); API calls = data points of every other
  endpoint (the metering interceptor counts one per tenant call) but the server_errors
  ones, which count the calls that ended in a server-side error.
- availability: QuerySla(company), per tier the company was on: the lower of the latency
  availability (minutes in which most samples met the target) and the stream
  availability (stream time served of open), each when measured.
- credit brought forward: the credit_carried_forward lines of the previous period's
  stored invoice only, so a credit is never used twice when periods close out of order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import grpc
from google.protobuf import timestamp_pb2
from tickmesh.common.v1 import billing_pb2 as invoice_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.errors import (
    FieldViolation,
    Internal,
    InvalidArgument,
    MeshError,
    NotFound,
)
from mesh.metering.vocabulary import HISTORY_KEY, TICKS_KEY, is_server_errors_key
from mesh.peer_errors import peer_error
from mesh.protoconv import tier_from_proto, tier_to_proto
from mesh.tiers import Tier
from servers.billing.analytics import CompanySlaFigures, TierSlaFigures
from servers.billing.broker_report import BrokerFigures, Served
from servers.billing.convert import invoice_from_pb
from servers.billing.invoices import InvoiceInput, UsageSummary
from servers.billing.lines import LineKind
from servers.billing.money import Money, total
from servers.billing.periods import BillingPeriod
from servers.billing.proration import ChangeEffect
from servers.billing.subscriptions import EventKind, SubscriptionEvent

TIMEOUT_S = 10.0
PAGE_SIZE = 1000
PARALLEL = 16  # Storage calls in flight for per-company fan-outs
_EFFECT = {
    ChangeEffect.IMMEDIATE: invoice_pb2.CHANGE_EFFECT_IMMEDIATE,
    ChangeEffect.END_OF_TERM: invoice_pb2.CHANGE_EFFECT_END_OF_TERM,
}

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A company as ListCompanies shows it."""

    company_id: str
    tier: Tier  # the current tier
    active: bool  # status "active" (suspended companies count as inactive)


async def each(items: Iterable[T], work: Callable[[T], Awaitable[R]]) -> list[R]:
    """`work` over `items`, at most PARALLEL at a time, results in input order."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


def tier_at(events: Sequence[SubscriptionEvent], instant: datetime) -> Tier | None:
    """The tier in force at `instant` (None before the company existed)."""
    tier = None
    for event in sorted(events, key=lambda e: e.effective_at):
        if event.effective_at > instant:
            break
        tier = event.tier_after
    return tier


def storage_error(err: grpc.aio.AioRpcError) -> MeshError:
    """Storage's refusal as Billing's own error (its messages are safe to pass on)."""
    return peer_error(err, "Storage")


def _event(message: storage_pb2.SubscriptionEvent) -> SubscriptionEvent:
    return SubscriptionEvent(
        kind=EventKind(message.kind),
        to_tier=tier_from_proto(message.to_tier),
        effective_at=message.effective_at.ToDatetime(tzinfo=UTC),
        from_tier=tier_from_proto(message.from_tier) if message.from_tier else None,
    )


class StorageSource:
    """Storage, read (and written) as the Billing service."""

    def __init__(self, stub: storage_pb2_grpc.StorageServiceStub) -> None:
        self._stub = stub

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stub, method)(request, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as err:
            raise storage_error(err) from None

    async def companies(self) -> list[CompanyRecord]:
        """Every company, paging through ListCompanies."""
        out: list[CompanyRecord] = []
        token = ""
        while True:
            page = await self._call(
                "ListCompanies",
                storage_pb2.ListCompaniesRequest(page_size=PAGE_SIZE, page_token=token),
            )
            out += [
                CompanyRecord(c.company_id, tier_from_proto(c.tier), c.status == "active")
                for c in page.companies
            ]
            token = page.next_page_token
            if not token:
                return out

    async def history(self, company_id: str) -> tuple[SubscriptionEvent, ...]:
        """The company's whole subscription history; NOT_FOUND for an unknown company."""
        if not company_id:
            raise InvalidArgument(
                "company_id is required", violations=[FieldViolation("company_id", "required")]
            )
        reply = await self._call(
            "ListSubscriptionEvents",
            storage_pb2.ListSubscriptionEventsRequest(company_id=company_id),
        )
        if not reply.events:
            raise NotFound(f"company {company_id!r} not found", metadata={"company_id": company_id})
        return tuple(_event(e) for e in reply.events)

    async def usage(
        self, company_id: str, period: BillingPeriod, group_by: str = ""
    ) -> dict[str, storage_pb2.UsageRow]:
        """Usage rows by group key ("" for the total)."""
        reply = await self._call(
            "QueryUsage",
            storage_pb2.QueryUsageRequest(
                company_id=company_id, billing_period=str(period), group_by=group_by
            ),
        )
        return {row.key: row for row in reply.rows}

    async def usage_summary(self, company_id: str, period: BillingPeriod) -> UsageSummary:
        """Ticks delivered and API calls in the period (see the module docstring)."""
        rows = await self.usage(company_id, period, "endpoint")
        ticks = rows[TICKS_KEY].data_points if TICKS_KEY in rows else 0
        history = rows[HISTORY_KEY].data_points if HISTORY_KEY in rows else 0
        # A call is one data point of its method's endpoint (an event is one meter flush
        # of many calls); server errors are counted apart, beside the calls they ended.
        calls = errors = 0
        for key, row in rows.items():
            if is_server_errors_key(key):
                errors += row.data_points
            elif key not in (TICKS_KEY, HISTORY_KEY):
                calls += row.data_points
        return UsageSummary(
            ticks_delivered=ticks, api_calls=calls, history_rows=history, server_errors=errors
        )

    async def usage_by_service(self, company_id: str, period: BillingPeriod) -> dict[str, int]:
        """Data points per service in the period."""
        rows = await self.usage(company_id, period, "service")
        return {key: row.data_points for key, row in rows.items()}

    async def monthly_data_points(
        self, company_id: str, last: BillingPeriod
    ) -> tuple[int, int, int]:
        """Data points in the three periods ending with `last`, oldest first."""
        periods = (last.previous().previous(), last.previous(), last)
        totals = [await self.usage(company_id, p) for p in periods]
        first, middle, final = (sum(r.data_points for r in t.values()) for t in totals)
        return first, middle, final

    async def availability(self, company_id: str, period: BillingPeriod) -> dict[Tier, Decimal]:
        """Measured availability per tier the company was sampled on (none: no credit)."""
        reply = await self._call(
            "QuerySla",
            storage_pb2.QuerySlaRequest(billing_period=str(period), company_id=company_id),
        )
        return {
            tier_from_proto(f.tier): _measured(f)
            for f in reply.figures
            if f.company_id == company_id and _has_measure(f)
        }

    async def sla_figures(
        self, period: BillingPeriod
    ) -> tuple[list[TierSlaFigures], list[CompanySlaFigures]]:
        """The period's per-tier totals and each company's own figures (one QuerySla)."""
        reply = await self._call(
            "QuerySla", storage_pb2.QuerySlaRequest(billing_period=str(period))
        )
        tiers = [
            TierSlaFigures(tier_from_proto(f.tier), _measured(f), f.latency_p99_us)
            for f in reply.figures
            if not f.company_id and _has_measure(f)
        ]
        companies = [
            CompanySlaFigures(
                f.company_id,
                tier_from_proto(f.tier),
                _measured(f),
                f.minutes,
                f.minutes_missed,
                f.latency_p99_us,
            )
            for f in reply.figures
            if f.company_id and _has_measure(f)
        ]
        return tiers, companies

    async def broker_figures(
        self, period: BillingPeriod
    ) -> tuple[list[BrokerFigures], list[Served]]:
        """Each broker's measured figures in the period, and the companies served in it."""
        reply = await self._call(
            "QueryBrokerFigures", storage_pb2.QueryBrokerFiguresRequest(billing_period=str(period))
        )
        figures = [
            BrokerFigures(
                broker=f.broker,
                observed_us=f.observed_us,
                up_us=f.up_us,
                quotes=f.quotes,
                expected_quotes=f.expected_quotes,
                invalid=f.invalid,
                outliers=f.outliers,
                latency_mean_us=f.latency_mean_us,
                latency_p99_us=f.latency_p99_us,
                best_prices_won={tier_from_proto(w.tier): w.won for w in f.best_prices_won},
            )
            for f in reply.brokers
        ]
        served = [Served(s.company_id, tier_from_proto(s.tier)) for s in reply.served]
        return figures, served

    async def invoices(
        self, company_id: str, period: BillingPeriod | None = None
    ) -> list[invoice_pb2.Invoice]:
        """Stored invoices of a company, newest first (one period's, when given)."""
        reply = await self._call(
            "ListInvoices",
            storage_pb2.ListInvoicesRequest(
                company_id=company_id, billing_period=str(period) if period else ""
            ),
        )
        return list(reply.invoices)

    async def credit_brought_forward(self, company_id: str, period: BillingPeriod) -> Money:
        """The excess credit the previous period's closed invoice carried into `period`."""
        previous = await self.invoices(company_id, period.previous())
        carried = [
            line.amount
            for stored in previous
            for line in invoice_from_pb(stored).lines_of(LineKind.CREDIT_CARRIED_FORWARD)
        ]
        return total(carried)

    async def invoice_input(
        self,
        company_id: str,
        period: BillingPeriod,
        events: tuple[SubscriptionEvent, ...] | None = None,
    ) -> InvoiceInput:
        """Everything rating needs about one company and one period."""
        events = events if events is not None else await self.history(company_id)
        usage, availability, credit = await asyncio.gather(
            self.usage_summary(company_id, period),
            self.availability(company_id, period),
            self.credit_brought_forward(company_id, period),
        )
        return InvoiceInput(
            company_id=company_id,
            period=period,
            events=events,
            usage=usage,
            availability=availability,
            credit_brought_forward=credit,
        )

    async def save_invoice(self, invoice: invoice_pb2.Invoice) -> tuple[invoice_pb2.Invoice, bool]:
        """Store a closed invoice; Storage keeps the first: (stored, already_existed)."""
        reply = await self._call("SaveInvoice", storage_pb2.SaveInvoiceRequest(invoice=invoice))
        return reply.invoice, reply.already_existed

    async def payment_method(self, company_id: str) -> storage_pb2.PaymentMethod | None:
        """The company's payment method on file, None when it has none."""
        try:
            reply = await self._stub.GetPaymentMethod(
                storage_pb2.GetPaymentMethodRequest(company_id=company_id), timeout=TIMEOUT_S
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise storage_error(err) from None
        return reply.method

    async def save_payment_method(
        self, company_id: str, method: storage_pb2.PaymentMethod
    ) -> storage_pb2.PaymentMethod:
        """Put `method` on file for the company."""
        reply = await self._call(
            "SavePaymentMethod",
            storage_pb2.SavePaymentMethodRequest(company_id=company_id, method=method),
        )
        return reply.method

    async def record_payment(
        self, invoice: invoice_pb2.Invoice, status: str, at: datetime, *, reference: str,
        reason: str,
    ) -> str:  # fmt: skip
        """Log a charge of `invoice`; its payment status after."""
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(at)
        reply = await self._call("RecordPayment", storage_pb2.RecordPaymentRequest(
            payment=storage_pb2.Payment(
                invoice_id=invoice.invoice_id, company_id=invoice.company_id,
                amount_minor_units=invoice.total.minor_units, status=status, reason=reason,
                reference=reference, attempted_at=stamp,
            )
        ))  # fmt: skip
        return str(reply.payment_status)

    async def mark_past_due(self, company_id: str, at: datetime) -> None:
        """The subscription is unpaid since `at`: it expires to free at its period end."""
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(at)
        try:
            await self._stub.MarkPastDue(
                storage_pb2.MarkPastDueRequest(company_id=company_id, as_of=stamp),
                timeout=TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as err:
            # A free subscription cannot be past due: nothing to expire.
            if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise storage_error(err) from None

    async def change_tier(
        self, company_id: str, tier: Tier, effect: ChangeEffect, actor: str
    ) -> storage_pb2.ChangeTierResponse:
        """Storage.ChangeTier on the company, audited as done by `actor`."""
        request = storage_pb2.ChangeTierRequest(
            company_id=company_id, tier=tier_to_proto(tier), effect=_EFFECT[effect], actor=actor
        )
        return await self._call("ChangeTier", request)


def _has_measure(figures: storage_pb2.SlaFigures) -> bool:
    return bool(figures.samples or figures.stream_minutes)


def _measured(figures: storage_pb2.SlaFigures) -> Decimal:
    """The availability an SLA is judged on: the lower of latency and stream availability."""
    measured = []
    if figures.samples:
        measured.append(_percent(figures.availability_percent))
    if figures.stream_minutes:
        measured.append(_percent(figures.stream_availability_percent))
    return min(measured)


def _percent(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Internal(f"Storage sent availability {text[:20]!r}, not a decimal") from None
