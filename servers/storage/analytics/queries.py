"""Read side of usage analytics: usage per period, ticks delivered, monthly trends, repair."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from clickhouse_connect.driver.client import Client

from mesh.errors import FieldViolation, InvalidArgument
from mesh.metering.vocabulary import TICK_SERVICE
from servers.storage.analytics import schema
from servers.storage.analytics.validation import COMPANY_ID, period_bounds, previous_periods

# Every grouping reads usage_analytics_hourly and sums at query time: a SummingMergeTree
# collapses rows only when parts merge, so sum() keeps the answer exact before that.
_GROUP_KEYS = {
    "": "''",
    "service": "toString(service)",
    # Endpoint names repeat across services (several have a "Subscribe"), so the key
    # names both: "bridge/Subscribe" (mesh.metering.vocabulary.endpoint_key).
    "endpoint": "concat(toString(service), '/', toString(endpoint))",
    "user": "user_id",
    "day": "toString(toDate(hour))",
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage of one group (key "" for a total)."""

    key: str
    events: int
    data_points: int
    processing_time_us: int


@dataclass(frozen=True, slots=True)
class MonthlyUsage:
    """One company's usage in one billing period."""

    billing_period: str
    events: int
    data_points: int


@dataclass(frozen=True, slots=True)
class DecliningUsage:
    """A company whose data points fell month over month, oldest month first."""

    company_id: str
    periods: tuple[str, ...]
    data_points: tuple[int, ...]
    # (first - last) / first, in percent, as the Database Service seed scores churn risk.
    decline_percent: Decimal


def check_company(company_id: str) -> str:
    """The company id, or INVALID_ARGUMENT when malformed."""
    if not COMPANY_ID.fullmatch(company_id):
        raise InvalidArgument(
            f"company_id: {company_id[:40]!r} is not 12 lowercase hex characters",
            violations=[FieldViolation("company_id", "must be 12 lowercase hex characters")],
        )
    return company_id


def _yyyymm(period: str) -> int:
    start, _ = period_bounds(period)
    return start.year * 100 + start.month


def query_usage(client: Client, company_id: str, period: str, group_by: str) -> list[UsageRow]:
    """Usage of one company in one period, grouped by service, endpoint, user, day or total."""
    check_company(company_id)
    if group_by not in _GROUP_KEYS:
        valid = ", ".join(repr(k) for k in _GROUP_KEYS)
        raise InvalidArgument(
            f"group_by: unknown grouping {group_by[:20]!r}; valid: {valid}",
            violations=[FieldViolation("group_by", f"must be one of {valid}")],
        )
    result = client.query(
        f"SELECT {_GROUP_KEYS[group_by]} AS key, sum(events), sum(data_points),"
        " sum(processing_time_us) FROM usage_analytics_hourly"
        " WHERE company_id = {c:String} AND toYYYYMM(hour) = {m:UInt32}"
        " GROUP BY key ORDER BY key",
        parameters={"c": company_id, "m": _yyyymm(period)},
    )
    rows = [UsageRow(str(k), int(e), int(d), int(p)) for k, e, d, p in result.result_rows]
    if not rows and not group_by:
        return [UsageRow("", 0, 0, 0)]  # a total always has one row
    return rows


def ticks_delivered(
    client: Client, period: str, company_id: str | None = None, service: str = TICK_SERVICE
) -> dict[str, int]:
    """Data points of `service` (ticks, for the bridge) per company in one period."""
    period_bounds(period)  # validates
    where = "billing_period = {p:String} AND service = {s:String}"
    params: dict[str, object] = {"p": period, "s": service}
    if company_id is not None:
        where += " AND company_id = {c:String}"
        params["c"] = check_company(company_id)
    result = client.query(
        f"SELECT company_id, sum(data_points) FROM billing_monthly WHERE {where}"
        " GROUP BY company_id ORDER BY company_id",
        parameters=params,
    )
    return {str(c): int(n) for c, n in result.result_rows}


def _per_company_month(
    client: Client, periods: list[str], company_id: str | None
) -> dict[str, dict[str, tuple[int, int]]]:
    where = "billing_period IN {ps:Array(String)}"
    params: dict[str, object] = {"ps": periods}
    if company_id is not None:
        where += " AND company_id = {c:String}"
        params["c"] = check_company(company_id)
    result = client.query(
        "SELECT company_id, billing_period, sum(events), sum(data_points)"
        f" FROM billing_monthly WHERE {where} GROUP BY company_id, billing_period",
        parameters=params,
    )
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for company, period, events, points in result.result_rows:
        out.setdefault(str(company), {})[str(period)] = (int(events), int(points))
    return out


def monthly_usage(
    client: Client, company_id: str, end_period: str, months: int
) -> list[MonthlyUsage]:
    """A company's usage in the `months` periods ending with `end_period`, oldest first.

    Months without usage are present with zeros: a silent month is the strongest churn
    signal, and grouping over stored rows alone would skip it.
    """
    if not 1 <= months <= 120:
        raise InvalidArgument(
            "months: must be 1-120", violations=[FieldViolation("months", "must be 1-120")]
        )
    periods = previous_periods(end_period, months)
    found = _per_company_month(client, periods, company_id).get(company_id, {})
    return [MonthlyUsage(p, *found.get(p, (0, 0))) for p in periods]


def declining_usage(client: Client, end_period: str, months: int = 3) -> list[DecliningUsage]:
    """Companies whose data points fell strictly in each of `months` periods to `end_period`.

    The seed's churn rule (current < previous < two months ago) on data points, because
    an event here is one meter flush, so counting events would measure flush frequency.
    Pass the last closed period: a month in progress always looks like a decline.
    """
    if not 2 <= months <= 24:
        raise InvalidArgument(
            "months: must be 2-24", violations=[FieldViolation("months", "must be 2-24")]
        )
    periods = previous_periods(end_period, months)
    out = []
    for company, by_period in sorted(_per_company_month(client, periods, None).items()):
        points = tuple(by_period.get(p, (0, 0))[1] for p in periods)
        if all(a > b for a, b in itertools.pairwise(points)):
            decline = Decimal(100 * (points[0] - points[-1])) / Decimal(points[0])
            out.append(
                DecliningUsage(
                    company,
                    tuple(periods),
                    points,
                    decline.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN),
                )
            )
    return out


def _totals(client: Client, sql: str, period: str) -> dict[str, tuple[int, int, int]]:
    result = client.query(sql, parameters={"m": _yyyymm(period), "p": period})
    return {str(c): (int(e), int(d), int(t)) for c, e, d, t in result.result_rows}


def aggregates_mismatch(client: Client, period: str) -> list[str]:
    """Companies whose aggregates in a period differ from usage_tracking (normally none)."""
    sums = "count(), sum(data_points), sum(processing_time_us)"
    agg = "sum(events), sum(data_points), sum(processing_time_us)"
    base = _totals(
        client,
        f"SELECT company_id, {sums} FROM usage_tracking"
        " WHERE toYYYYMM(event_time) = {m:UInt32} GROUP BY company_id",
        period,
    )
    hourly = _totals(
        client,
        f"SELECT company_id, {agg} FROM usage_analytics_hourly"
        " WHERE toYYYYMM(hour) = {m:UInt32} GROUP BY company_id",
        period,
    )
    monthly = _totals(
        client,
        f"SELECT company_id, {agg} FROM billing_monthly"
        " WHERE billing_period = {p:String} GROUP BY company_id",
        period,
    )
    companies = base.keys() | hourly.keys() | monthly.keys()
    return sorted(c for c in companies if not base.get(c) == hourly.get(c) == monthly.get(c))


def rebuild_aggregates(client: Client, period: str) -> None:
    """Recompute both aggregates of one period from usage_tracking (writer thread only)."""
    yyyymm = _yyyymm(period)  # validated: safe to inline below
    client.command(f"ALTER TABLE usage_analytics_hourly DROP PARTITION {yyyymm}")
    client.command(f"ALTER TABLE billing_monthly DROP PARTITION '{period}'")
    where = f"WHERE toYYYYMM(event_time) = {yyyymm}"
    client.command(
        "INSERT INTO usage_analytics_hourly"
        f" {schema.USAGE_HOURLY_SELECT} {where} {schema.USAGE_HOURLY_GROUP}"
    )
    client.command(
        "INSERT INTO billing_monthly"
        f" {schema.BILLING_MONTHLY_SELECT} {where} {schema.BILLING_MONTHLY_GROUP}"
    )
