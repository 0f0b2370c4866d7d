"""Per-event validation of usage batches: every bad event gets a precise reason, the rest go on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tickmesh.common.v1 import tenancy_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_to_proto
from mesh.tiers import Tier

MAX_BATCH_EVENTS = 10_000
MAX_KEY_LEN = 128
# Far above any honest flush (a meter aggregates at most a few seconds of ticks per
# event): anything larger is a unit bug (bytes for ticks, ns for us) we must not bill.
MAX_DATA_POINTS = 10**9
# ~11.6 days of server time in one aggregated event: beyond that it is a unit bug.
MAX_PROCESSING_TIME_US = 10**12
# Producers' clocks may run a little ahead of ours.
MAX_FUTURE_SKEW = timedelta(minutes=5)
# A spooled batch may wait out a long outage, but a closed billing period must not
# change under an issued invoice: 35 days covers a month's close plus a few days.
ACCEPT_WINDOW = timedelta(days=35)

COMPANY_ID = re.compile(r"[0-9a-f]{12}")
USER_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
NAME = re.compile(r"[A-Za-z0-9_./-]{1,64}")
KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY_LEN}}}")
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

TIER_BY_PROTO: dict[int, Tier] = {int(tier_to_proto(t)): t for t in Tier}

COLUMNS: tuple[str, ...] = (
    "idempotency_key",
    "company_id",
    "user_id",
    "tier",
    "service",
    "endpoint",
    "data_points",
    "processing_time_us",
    "event_time",
    "billing_period",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused event: its position in the request, its key and why."""

    index: int
    idempotency_key: str
    reason: str


@dataclass(slots=True)
class ValidRows:
    """The events that passed validation, column-oriented for a fast insert."""

    indexes: list[int] = field(default_factory=list)
    columns: tuple[list[object], ...] = field(default_factory=lambda: tuple([] for _ in COLUMNS))

    @property
    def keys(self) -> list[str]:
        """The idempotency keys, in row order."""
        return self.columns[0]  # type: ignore[return-value]

    @property
    def company_ids(self) -> list[str]:
        """The company ids, in row order."""
        return self.columns[1]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.indexes)

    def extend(self, other: ValidRows) -> None:
        """Append another batch's rows."""
        self.indexes.extend(other.indexes)
        for column, more in zip(self.columns, other.columns, strict=True):
            column.extend(more)

    def select(self, keep: Sequence[int]) -> ValidRows:
        """A copy holding only the rows at positions `keep` (positions in this batch)."""
        out = ValidRows()
        out.indexes = [self.indexes[i] for i in keep]
        out.columns = tuple([column[i] for i in keep] for column in self.columns)
        return out


def unix_us(moment: datetime) -> int:
    """Unix microseconds of an aware datetime."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _months(first_us: int, last_us: int) -> list[tuple[int, int, str]]:
    """(start_us, end_us, "YYYY-MM") of every month overlapping [first_us, last_us]."""
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=first_us)
    month = datetime(start.year, start.month, 1, tzinfo=UTC)
    out = []
    while unix_us(month) <= last_us:
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        out.append((unix_us(month), unix_us(following), f"{month.year:04d}-{month.month:02d}"))
        month = following
    return out


def period_of(event_time_us: int) -> str:
    """The billing period "YYYY-MM" (UTC) of a unix-microsecond instant."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=event_time_us)
    return f"{moment.year:04d}-{moment.month:02d}"


def _text_reason(what: str, value: str, pattern: re.Pattern[str], rule: str) -> str | None:
    if not value:
        return f"empty {what}"
    if not pattern.fullmatch(value):
        return f"malformed {what} {value[:80]!r}: must be {rule}"
    return None


def validate_usage(
    events: Sequence[tenancy_pb2.UsageEvent], now: datetime
) -> tuple[ValidRows, list[Rejection]]:
    """Split a batch into insertable rows and rejections, checking each event on its own.

    Strings repeat heavily within a batch (one meter flush covers few companies and
    services), so each distinct value is checked once: this loop is on the ingest path.
    """
    now_us = unix_us(now)
    oldest_us = now_us - ACCEPT_WINDOW // timedelta(microseconds=1)
    newest_us = now_us + MAX_FUTURE_SKEW // timedelta(microseconds=1)
    months = _months(oldest_us, newest_us)
    ok_company: set[str] = set()
    ok_user: set[str] = set()
    ok_name: set[str] = set()
    rows = ValidRows()
    keys, companies, users, tiers, services, endpoints, points, times, event_times, periods = (
        rows.columns
    )
    rejected: list[Rejection] = []
    for index, event in enumerate(events):
        key = event.idempotency_key
        reason = None
        if not key:
            reason = "empty idempotency key"
        elif not KEY.fullmatch(key):
            reason = (
                f"malformed idempotency key: must be 1-{MAX_KEY_LEN} printable ASCII characters"
            )
        company = event.company_id
        if reason is None and company not in ok_company:
            reason = _text_reason("company id", company, COMPANY_ID, "12 lowercase hex characters")
            if reason is None:
                ok_company.add(company)
        user = event.user_id
        if reason is None and user not in ok_user:
            reason = _text_reason("user id", user, USER_ID, "1-64 of [A-Za-z0-9_.:@-]")
            if reason is None:
                ok_user.add(user)
        service, endpoint = event.service, event.endpoint
        if reason is None and service not in ok_name:
            reason = _text_reason("service", service, NAME, "1-64 of [A-Za-z0-9_./-]")
            if reason is None:
                ok_name.add(service)
        if reason is None and endpoint not in ok_name:
            reason = _text_reason("endpoint", endpoint, NAME, "1-64 of [A-Za-z0-9_./-]")
            if reason is None:
                ok_name.add(endpoint)
        tier = TIER_BY_PROTO.get(event.tier)
        if reason is None and tier is None:
            reason = f"unknown or unset tier {event.tier}"
        data_points, processing = event.data_points, event.processing_time_us
        if reason is None:
            if data_points < 0:
                reason = f"negative data_points {data_points}"
            elif data_points > MAX_DATA_POINTS:
                reason = f"data_points {data_points} exceeds {MAX_DATA_POINTS} per event"
            elif processing < 0:
                reason = f"negative processing_time_us {processing}"
            elif processing > MAX_PROCESSING_TIME_US:
                reason = (
                    f"processing_time_us {processing} exceeds {MAX_PROCESSING_TIME_US} per event"
                )
        at = event.event_time_us
        period = event.billing_period
        if reason is None:
            if at <= 0:
                reason = "event time unset"
            elif at > newest_us:
                reason = f"event time {at} us is more than {MAX_FUTURE_SKEW} in the future"
            elif at < oldest_us:
                reason = f"event time {at} us is older than the {ACCEPT_WINDOW.days}-day window"
            else:
                expected = next(p for start, end, p in months if start <= at < end)
                if period != expected:
                    if PERIOD.fullmatch(period):
                        reason = (
                            f"billing period {period!r} does not match the event time ({expected})"
                        )
                    else:
                        reason = f"malformed billing period {period[:20]!r}: must be YYYY-MM"
        if reason is not None:
            rejected.append(Rejection(index, key, reason))
            continue
        rows.indexes.append(index)
        keys.append(key)
        companies.append(company)
        users.append(user)
        tiers.append(tier.value)  # type: ignore[union-attr]
        services.append(service)
        endpoints.append(endpoint)
        points.append(data_points)
        times.append(processing)
        event_times.append(at)  # DateTime64(6) takes raw microsecond ticks
        periods.append(period)
    return rows, rejected


def period_bounds(period: str, field_name: str = "billing_period") -> tuple[datetime, datetime]:
    """[start, end) of a "YYYY-MM" billing period in UTC; INVALID_ARGUMENT if malformed."""
    if not PERIOD.fullmatch(period):
        raise InvalidArgument(
            f"{field_name}: {period[:20]!r} is not a YYYY-MM period",
            violations=[FieldViolation(field_name, "must be YYYY-MM")],
        )
    year, month = int(period[:4]), int(period[5:])
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def previous_periods(end_period: str, count: int) -> list[str]:
    """`count` consecutive periods ending with `end_period`, oldest first."""
    start, _ = period_bounds(end_period, "end_period")
    index = start.year * 12 + start.month - 1 - (count - 1)
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, index + count)]


def check_batch_size(count: int, field: str) -> None:
    """INVALID_ARGUMENT when a request carries more than MAX_BATCH_EVENTS `field` items."""
    if count > MAX_BATCH_EVENTS:
        raise InvalidArgument(
            f"{field}: {count} exceeds the limit of {MAX_BATCH_EVENTS} per request",
            violations=[FieldViolation(field, f"at most {MAX_BATCH_EVENTS}")],
        )


def accepted_times_us(now: datetime) -> tuple[int, int]:
    """The oldest and newest time (unix microseconds) an item may carry at `now`."""
    now_us = unix_us(now)
    tick = timedelta(microseconds=1)
    return now_us - ACCEPT_WINDOW // tick, now_us + MAX_FUTURE_SKEW // tick
