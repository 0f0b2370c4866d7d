"""Proto answers the Bridge builds from objects (the hot path frames bytes in framing.py)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from tickmesh.bridge.v1 import bridge_pb2

from mesh.protoconv import tier_to_proto
from mesh.tenancy.quota import CallQuota
from mesh.tiers import limits
from servers.bridge.entitlements import Grant
from servers.bridge.fanout import Opened
from servers.bridge.session import Session


def ack_proto(grant: Grant, opened: Opened, calls: CallQuota) -> bridge_pb2.SubscriptionAck:
    """What a subscriber is told first: its grant, its tier's terms, where it starts."""
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


def session_stats_proto(session: Session) -> bridge_pb2.SessionStats:
    """One open session as GetSessionStats shows it."""
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
