"""BridgeService servicer: a thin adapter from the contract to the bridge modules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Iterator

import grpc
from google.protobuf import timestamp_pb2
from redis.exceptions import RedisError
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc

from mesh.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from mesh.logging import error_fields
from mesh.protoconv import tier_to_proto
from mesh.telemetry.metrics import quota_refused
from mesh.tenancy.current import company_in_reach, current_tenant
from mesh.tenancy.quota import CallQuota, QuotaStore, StreamLease, streams_exhausted
from mesh.tiers import limits
from servers.bridge.entitlements import Grant, resolve
from servers.bridge.fanout import Fanout, Opened
from servers.bridge.leases import STREAMS_QUOTA, LeaseKeeper
from servers.bridge.projection import Entry
from servers.bridge.session import Outgoing, Session
from servers.bridge.usage_counter import UsageCounter

SERVICE = bridge_pb2.DESCRIPTOR.services_by_name["BridgeService"]
PRE_SERIALIZED = ("Subscribe",)
"""Methods whose handlers write framed bytes (from cached tick encodings): bind them with
`bind(SERVICE, servicer, pre_serialized=PRE_SERIALIZED)`."""
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

log = logging.getLogger(__name__)


class BridgeServicer(bridge_pb2_grpc.BridgeServiceServicer):
    """Subscribe, GetSessionStats, GetUsage; the caller is always current_tenant()."""

    def __init__(
        self, fanout: Fanout, quota: QuotaStore, usage: UsageCounter, leases: LeaseKeeper
    ) -> None:
        self._fanout = fanout
        self._quota = quota
        self._usage = usage
        self._leases = leases

    async def Subscribe(
        self, request: bridge_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """Writes already serialized SubscribeResponse bytes (see PRE_SERIALIZED)."""
        tenant = current_tenant()
        universe = self._fanout.universe
        if universe is None:
            raise Unavailable("the bridge has not reached Ingestion yet", retry_after_s=1.0)
        options = request.options
        grant = resolve(
            list(request.symbols), tenant.tier, universe, best_effort=options.best_effort
        )
        session_id = uuid.uuid4().hex
        with _quota_store_errors():
            decision = await self._quota.acquire_stream(
                tenant.company_id, tenant.tier, session_id, self._leases.ttl_s
            )
        if decision.lease is None:
            quota_refused(tenant.tier, STREAMS_QUOTA)
            raise streams_exhausted(decision)
        try:
            with _quota_store_errors():
                calls = await self._quota.call_usage(tenant.company_id, tenant.tier)
            opened = self._fanout.open(
                session_id, tenant, grant,
                resume_from=request.resume_from,
                snapshot=not options.no_snapshot,
                max_batch_ticks=options.max_batch_ticks,
            )  # fmt: skip
            await self._stream(context, opened, _ack(grant, opened, calls), decision.lease)
        finally:
            # Shielded: a cancelled stream (client gone) must still give its slot back.
            await asyncio.shield(self._release(decision.lease))

    async def _stream(
        self,
        context: grpc.aio.ServicerContext,
        opened: Opened,
        ack: bridge_pb2.SubscriptionAck,
        lease: StreamLease,
    ) -> None:
        session = opened.session
        self._leases.hold(lease, session)
        session.metrics.stream_opened()
        # The writer is its own task, shielded: a client that cancels cancels this
        # handler, never a write in flight, so a write that completes is always counted
        # (delivered ticks are billed) and one that fails never is.
        writer = asyncio.create_task(_write_all(context, session, opened.snapshot, ack))
        writer.add_done_callback(_retrieve)
        try:
            await asyncio.shield(writer)
            if session.error is not None:
                raise session.error
        finally:
            self._leases.drop(lease)
            self._fanout.close(session.session_id)
            session.metrics.stream_closed()

    async def _release(self, lease: StreamLease) -> None:
        try:
            await self._quota.release_stream(lease)
        except Exception:
            log.warning("could not release stream lease %s; it lapses by itself",
                        lease.lease_id, exc_info=True)  # fmt: skip

    async def GetSessionStats(
        self, request: bridge_pb2.GetSessionStatsRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetSessionStatsResponse:
        """The caller's company's open sessions on this Bridge."""
        tenant = current_tenant()
        sessions = self._fanout.sessions_of(tenant.company_id)
        if request.session_id:
            sessions = [s for s in sessions if s.session_id == request.session_id]
            if not sessions:
                raise NotFound(f"no open session {request.session_id!r} of your company here")
        return bridge_pb2.GetSessionStatsResponse(sessions=[_stats(s) for s in sessions])

    async def GetUsage(
        self, request: bridge_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> bridge_pb2.GetUsageResponse:
        """Ticks this Bridge delivered to a company in a billing period: a tenant's own,
        or for operator and service callers (Billing reconciling) the one named."""
        company_id = company_in_reach(request.company_id)
        period = request.billing_period or self._usage.current_period()
        if not _PERIOD.fullmatch(period):
            raise InvalidArgument(
                f"billing_period: expected YYYY-MM, got {period!r}",
                violations=[FieldViolation("billing_period", "expected YYYY-MM")],
            )
        delivered, recorded = self._usage.company_usage(company_id, period)
        return bridge_pb2.GetUsageResponse(
            company_id=company_id,
            billing_period=period,
            ticks_delivered=delivered,
            ticks_recorded=recorded,
            open_streams=len(self._fanout.sessions_of(company_id)),
        )


@contextlib.contextmanager
def _quota_store_errors() -> Iterator[None]:
    # Without its quota store the Bridge cannot admit a stream; the caller may retry.
    try:
        yield
    except (RedisError, OSError) as exc:
        log.warning("quota store unavailable", extra=error_fields(exc))
        raise Unavailable("the quota store is unavailable; retry shortly") from None


async def _write_all(
    context: grpc.aio.ServicerContext,
    session: Session,
    snapshot: list[Entry] | None,
    ack: bridge_pb2.SubscriptionAck,
) -> None:
    # Bytes, not messages: Subscribe's serializer passes them through (PRE_SERIALIZED).
    out: Outgoing | None = session.ack_message(ack, snapshot)
    while out is not None:
        await context.write(out.payload)
        session.delivered(out)  # after the transport took it, even if the client left
        out = await session.next_message()


def _retrieve(writer: asyncio.Task[None]) -> None:
    # The handler may be gone (cancelled) when the writer fails: a write to a cancelled
    # call raises, and nobody else would look at the exception.
    if not writer.cancelled() and (error := writer.exception()) is not None:
        log.debug("subscribe writer ended", extra=error_fields(error))


def _ack(grant: Grant, opened: Opened, calls: CallQuota) -> bridge_pb2.SubscriptionAck:
    tier = limits(grant.tier)
    return bridge_pb2.SubscriptionAck(
        tier=tier_to_proto(grant.tier),
        symbols=grant.symbols,
        refused=[
            bridge_pb2.RefusedSymbol(
                symbol=r.symbol,
                reason=r.reason,
                required_tier=tier_to_proto(r.required_tier) if r.required_tier else None,
            )
            for r in grant.refused
        ],
        update_interval_ms=tier.update_interval_ms,
        features=sorted(f.value for f in tier.features),
        quota_remaining=-1 if calls.remaining is None else calls.remaining,
        start_seq=opened.start_seq,
    )


def _stats(session: Session) -> bridge_pb2.SessionStats:
    opened_at = timestamp_pb2.Timestamp()
    opened_at.FromMicroseconds(session.opened_at_us)
    return bridge_pb2.SessionStats(
        session_id=session.session_id,
        user_id=session.tenant.user_id,
        tier=tier_to_proto(session.tier),
        symbols=session.symbols,
        opened_at=opened_at,
        ticks_delivered=session.ticks_delivered,
        messages_delivered=session.messages_delivered,
        skipped=session.skipped_total,
        queue_depth=session.queue_depth,
    )
