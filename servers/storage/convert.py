"""Conversions between the relational layer's records and the Storage contract."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf import timestamp_pb2
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2

from mesh.errors import FieldViolation, InvalidArgument
from mesh.protoconv import tier_to_proto
from servers.storage.relational.companies import Company
from servers.storage.relational.subscriptions import Subscription
from servers.storage.relational.trading import BrokerAccount, NewPosition, Position
from servers.storage.relational.users import User


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A protobuf Timestamp, or None for None."""
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def company(record: Company, tier: tenancy_pb2.Tier) -> storage_pb2.Company:
    return storage_pb2.Company(
        company_id=record.id,
        name=record.name,
        tier=tier,
        status=record.status.value,
        created_at=timestamp(record.created_at),
    )


def subscription(record: Subscription) -> storage_pb2.Subscription:
    return storage_pb2.Subscription(
        company_id=record.company_id,
        tier=tier_to_proto(record.tier),
        status=record.status.value,
        period_start=timestamp(record.period_start),
        period_end=timestamp(record.period_end),
        pending_tier=tier_to_proto(record.pending_tier) if record.pending_tier else None,
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
