"""A Subscribe stream from admission to its last write: the concurrent-stream lease, the
session in the fan-out, and the writer that hands its messages to the transport."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter

import grpc
from tickmesh.bridge.v1 import bridge_pb2

from mesh.errors import Unavailable
from mesh.logging import error_fields
from mesh.telemetry.metrics import quota_refused
from mesh.tenancy.authenticator import api_key_of
from mesh.tenancy.context import TenantContext
from mesh.tenancy.quota import QuotaStore, StreamLease, streams_exhausted
from servers.bridge import convert
from servers.bridge.entitlements import Grant
from servers.bridge.fanout import Fanout
from servers.bridge.leases import STREAMS_QUOTA, LeaseKeeper
from servers.bridge.projection import Entry
from servers.bridge.revalidation import StreamRevalidator
from servers.bridge.session import Outgoing, Session

log = logging.getLogger(__name__)


class Streams:
    """Admits a stream against its tier's concurrent-stream quota and runs it."""

    def __init__(
        self,
        fanout: Fanout,
        quota: QuotaStore,
        leases: LeaseKeeper,
        revalidator: StreamRevalidator | None = None,
    ) -> None:
        self._fanout = fanout
        self._quota = quota
        self._leases = leases
        self._revalidator = revalidator
        # Streams refused at the concurrent-stream quota, per company, since start (for
        # GetUsage: the console's quota-refusal panel). Bounded by the companies seen.
        self.refused: Counter[str] = Counter()

    async def run(
        self,
        context: grpc.aio.ServicerContext,
        tenant: TenantContext,
        grant: Grant,
        request: bridge_pb2.SubscribeRequest,
    ) -> None:
        """Stream `grant` to the caller until it leaves or the Bridge stops;
        RESOURCE_EXHAUSTED when the tier's streams are all taken."""
        session_id = uuid.uuid4().hex
        decision = await self._leases.acquire(tenant, session_id)
        if decision.lease is None:
            quota_refused(tenant.tier, STREAMS_QUOTA)
            self.refused[tenant.company_id] += 1
            raise streams_exhausted(decision)
        try:
            calls = await self._quota.call_usage(tenant.company_id, tenant.tier)
            options = request.options
            opened = self._fanout.open(
                session_id, tenant, grant,
                resume_from=request.resume_from,
                snapshot=not options.no_snapshot,
                max_batch_ticks=options.max_batch_ticks,
            )  # fmt: skip
            ack = convert.ack_proto(grant, opened, calls)
            await self._stream(context, opened.session, opened.snapshot, ack, decision.lease)
        finally:
            # Shielded: a cancelled stream (client gone) must still give its slot back.
            await asyncio.shield(self._release(decision.lease))

    async def _stream(
        self,
        context: grpc.aio.ServicerContext,
        session: Session,
        snapshot: list[Entry] | None,
        ack: bridge_pb2.SubscriptionAck,
        lease: StreamLease,
    ) -> None:
        self._leases.hold(lease, session)
        session.metrics.stream_opened()
        # The writer is its own task, shielded: a client that cancels cancels this
        # handler, never a write in flight, so a write that completes is always counted
        # (delivered ticks are billed) and one that fails never is.
        writer = asyncio.create_task(write_all(context, session, snapshot, ack))
        writer.add_done_callback(_retrieve)
        try:
            with self._watched(context, session):
                await asyncio.shield(writer)
            if session.error is not None:
                raise session.error
        finally:
            self._leases.drop(lease)
            self._fanout.close(session.session_id)
            session.metrics.stream_closed()

    def _watched(
        self, context: grpc.aio.ServicerContext, session: Session
    ) -> contextlib.AbstractContextManager[None]:
        # The key is re-checked while the stream runs (revoked: it ends within 1 s).
        if self._revalidator is None:
            return contextlib.nullcontext()
        api_key = api_key_of(context.invocation_metadata() or ())
        return self._revalidator.watching(session, api_key)

    async def _release(self, lease: StreamLease) -> None:
        try:
            await self._quota.release_stream(lease)
        except Unavailable:
            # The store logged the outage; the lease lapses by itself.
            log.debug("could not release stream lease %s", lease.lease_id)
        except Exception as exc:
            log.warning("could not release stream lease %s; it lapses by itself",
                        lease.lease_id, extra=error_fields(exc))  # fmt: skip


async def write_all(
    context: grpc.aio.ServicerContext,
    session: Session,
    snapshot: list[Entry] | None,
    ack: bridge_pb2.SubscriptionAck,
) -> None:
    """Write the ack, then every message the session produces, until it ends."""
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
