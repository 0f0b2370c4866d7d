"""Every server's business metrics: an in-process registry, the interceptor feeding it, the RPC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc

from mesh.context import current_call
from mesh.errors import ResourceExhausted
from mesh.interceptors.base import CallInfo, MeshInterceptor
from mesh.protoconv import tier_to_proto
from mesh.tenancy.current import PrincipalKind, current_principal, optional_principal
from mesh.tiers import Tier

SERVICE = metrics_pb2.DESCRIPTOR.services_by_name["BusinessMetricsService"]

GaugeSource = Callable[[], Mapping[str, float]]


def billing_period(now: datetime) -> str:
    """The billing period `now` falls in, "YYYY-MM" (UTC)."""
    return now.astimezone(UTC).strftime("%Y-%m")


@dataclass(slots=True)
class _Company:
    tier: Tier
    requests: int = 0
    errors: int = 0
    quota_used_ratio: float = 0.0


class BusinessMetrics:
    """Counters one server keeps about the tenants it serves; cheap enough for every call.

    Requests and sessions are counted per tier since start; per-company activity is kept
    for the current billing period only (it resets when the month turns), so it stays
    bounded by the number of tenants.
    """

    def __init__(
        self,
        service: str,
        instance_id: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.instance_id = instance_id
        self._now = now
        self._started = time.monotonic()
        self._requests = dict.fromkeys(Tier, 0)
        self._sessions = dict.fromkeys(Tier, 0)
        self._untenanted = 0
        self._period = billing_period(now())
        self._companies: dict[str, _Company] = {}
        self._gauges: dict[str, float] = {}
        self._sources: list[GaugeSource] = []

    def record_request(self, tier: Tier, company_id: str) -> None:
        """One call made for `company_id` on `tier` (counted when it starts)."""
        self._requests[tier] += 1
        self._company(tier, company_id).requests += 1

    def record_error(self, tier: Tier, company_id: str) -> None:
        """The call made for `company_id` ended in an error status."""
        self._company(tier, company_id).errors += 1

    def record_quota(self, tier: Tier, company_id: str, used_ratio: float) -> None:
        """The company's share of its daily quota used, as the quota check last saw it."""
        self._company(tier, company_id).quota_used_ratio = min(1.0, max(0.0, used_ratio))

    def record_untenanted(self) -> None:
        """A call made by a service or the operator, for no tenant."""
        self._untenanted += 1

    @contextmanager
    def session(self, tier: Tier) -> Iterator[None]:
        """Count an open session (a stream) of `tier` for the duration of the block."""
        self._sessions[tier] += 1
        try:
            yield
        finally:
            self._sessions[tier] -= 1

    def active_sessions(self) -> int:
        """Sessions open right now, all tiers."""
        return sum(self._sessions.values())

    def set_gauge(self, name: str, value: float) -> None:
        """Set a service-specific gauge reported with the metrics."""
        self._gauges[name] = value

    def add_gauge_source(self, source: GaugeSource) -> None:
        """Gauges computed when the metrics are read (e.g. a Hub's resolution counters)."""
        self._sources.append(source)

    def snapshot(self) -> metrics_pb2.GetBusinessMetricsResponse:
        """The metrics as the BusinessMetricsService returns them."""
        self._roll_period()
        gauges = {
            "uptime_seconds": time.monotonic() - self._started,
            "requests_total": float(sum(self._requests.values()) + self._untenanted),
            "untenanted_requests": float(self._untenanted),
            **self._gauges,
        }
        for source in self._sources:
            gauges.update(source())
        return metrics_pb2.GetBusinessMetricsResponse(
            service=self.service,
            instance_id=self.instance_id,
            requests_by_tier=_tier_counts(self._requests),
            active_sessions_by_tier=_tier_counts(self._sessions),
            gauges=gauges,
            companies=[
                metrics_pb2.CompanyActivity(
                    company_id=company_id,
                    tier=tier_to_proto(c.tier),
                    requests=c.requests,
                    errors=c.errors,
                    quota_used_ratio=c.quota_used_ratio,
                )
                for company_id, c in sorted(self._companies.items())
            ],
        )

    def _company(self, tier: Tier, company_id: str) -> _Company:
        self._roll_period()
        company = self._companies.get(company_id)
        if company is None:
            company = self._companies[company_id] = _Company(tier)
        # A tier change shows at once: the tier is always the latest call's.
        company.tier = tier
        return company

    def _roll_period(self) -> None:
        period = billing_period(self._now())
        if period != self._period:
            self._period = period
            self._companies.clear()


def _tier_counts(counts: Mapping[Tier, int]) -> list[metrics_pb2.TierCount]:
    return [metrics_pb2.TierCount(tier=tier_to_proto(t), value=v) for t, v in counts.items()]


def _quota_ratio(trailing: Iterable[tuple[str, object]]) -> float | None:
    """The share of the daily quota used, from the ratelimit headers the quota check queued."""
    values = {key: value for key, value in trailing}
    try:
        limit = float(str(values["ratelimit-limit"]))
        remaining = float(str(values["ratelimit-remaining"]))
    except (KeyError, ValueError):
        return None
    return 1.0 - remaining / limit if limit > 0 else None


class BusinessMetricsInterceptor(MeshInterceptor):
    """Counts every call a tenant makes to this server's own services (never routed ones).

    Runs right inside authentication, around the quota check, so a call refused for its
    quota counts too. A streaming call is a session of the caller's tier while it is open.
    """

    def __init__(self, metrics: BusinessMetrics, services: Iterable[str]) -> None:
        self._metrics = metrics
        self.scoped_to(list(services))

    @asynccontextmanager
    async def around(
        self, call: CallInfo, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[None]:
        principal = optional_principal()
        tenant = principal.tenant if principal is not None else None
        if tenant is None:
            if principal is not None:
                self._metrics.record_untenanted()
            yield
            return
        tier, company = tenant.tier, tenant.company_id
        metrics = self._metrics
        metrics.record_request(tier, company)
        try:
            if call.response_streaming or call.request_streaming:
                with metrics.session(tier):
                    yield
            else:
                yield
        except asyncio.CancelledError:
            raise  # the caller went away: not an error of ours
        except ResourceExhausted as exc:
            metrics.record_error(tier, company)
            if exc.reason == "QUOTA_EXCEEDED":
                metrics.record_quota(tier, company, 1.0)
            raise
        except BaseException:
            metrics.record_error(tier, company)
            raise
        finally:
            state = current_call()
            ratio = _quota_ratio(state.trailing) if state is not None else None
            if ratio is not None:
                metrics.record_quota(tier, company, ratio)


class BusinessMetricsServicer(metrics_pb2_grpc.BusinessMetricsServiceServicer):
    """Serves the registry to the Hub (a service) and the operator; never to tenants."""

    def __init__(self, metrics: BusinessMetrics) -> None:
        self._metrics = metrics

    async def GetBusinessMetrics(
        self, request: metrics_pb2.GetBusinessMetricsRequest, context: grpc.aio.ServicerContext
    ) -> metrics_pb2.GetBusinessMetricsResponse:
        current_principal().require(PrincipalKind.SERVICE, PrincipalKind.OPERATOR)
        return self._metrics.snapshot()
