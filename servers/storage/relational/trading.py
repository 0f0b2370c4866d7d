"""Trading data of one tenant: MT5 broker accounts and their positions."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mesh.errors import AlreadyExists, FailedPrecondition, NotFound
from servers.storage.relational import quota, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.ids import new_entity_id
from servers.storage.relational.scope import TenantScope
from servers.storage.relational.tables import broker_accounts, trading_positions
from servers.storage.relational.users import load_user

MAX_BATCH = 1000
MAX_LIST = 1000
# (digits, decimal places) of the NUMERIC columns in tables.py.
VOLUME = (12, 2)
PRICE = (12, 5)


class PositionStatus(enum.StrEnum):
    """Open until closed; retention deletes only closed positions."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """An MT5 account of one user at one broker."""

    id: str
    user_id: str
    broker: str
    account_number: str
    account_type: str
    currency: str
    leverage: int | None
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewPosition:
    """A position to record; give close_price and closed_at together for a closed one."""

    symbol: str
    side: str
    volume: Decimal
    open_price: Decimal
    opened_at: datetime
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    close_price: Decimal | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A recorded position."""

    id: str
    account_id: str
    user_id: str
    symbol: str
    side: str
    volume: Decimal
    open_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    close_price: Decimal | None
    opened_at: datetime
    closed_at: datetime | None
    status: PositionStatus


def _account(row: sa.RowMapping) -> BrokerAccount:
    return BrokerAccount(**{name: row[name] for name in BrokerAccount.__dataclass_fields__})


def _position(row: sa.RowMapping) -> Position:
    fields = {name: row[name] for name in Position.__dataclass_fields__}
    return Position(**{**fields, "status": PositionStatus(row["status"])})


async def create_broker_account(
    store: RelationalStore,
    scope: TenantScope,
    user_id: str,
    broker: str,
    account_number: str,
    *,
    account_type: str = "demo",
    currency: str = "USD",
    leverage: int | None = None,
    now: datetime | None = None,
) -> BrokerAccount:
    """Link an MT5 account to a user of the scope's company; counts toward storage."""
    check = validation.Validator()
    user_id = check.entity_id(user_id, "user_id")
    broker = check.text("broker", broker, validation.BROKER, 32, "a lower-case broker name")
    account_number = check.text(
        "account_number", account_number, validation.ACCOUNT_NUMBER, 32, "letters, digits and -"
    )
    account_type = check.choice(account_type, "account_type", validation.ACCOUNT_TYPES)
    currency = check.text("currency", currency, validation.CURRENCY, 3, "an ISO 4217 code")
    if leverage is not None:
        check.count(leverage, "leverage", low=1, high=10_000)
    check.check()
    at = store.now(now)
    account = BrokerAccount(
        new_entity_id(),
        user_id,
        broker,
        account_number,
        account_type,
        currency,
        leverage,
        "active",
        at,
    )
    async with store.tenant(scope.company_id) as conn:
        await load_user(conn, user_id)
        taken = await conn.scalar(
            sa.select(broker_accounts.c.id).where(
                broker_accounts.c.broker == broker,
                broker_accounts.c.account_number == account_number,
            )
        )
        if taken is not None:
            raise AlreadyExists(f"{broker} account {account_number} is already linked")
        await quota.reserve(
            store, conn, scope.company_id, quota.broker_account_bytes(broker, account_number), 1, at
        )
        await conn.execute(
            broker_accounts.insert().values(
                {name: getattr(account, name) for name in BrokerAccount.__dataclass_fields__}
            )
        )
    return account


async def _load_account(conn: AsyncConnection, account_id: str) -> BrokerAccount:
    row = (
        (await conn.execute(sa.select(broker_accounts).where(broker_accounts.c.id == account_id)))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(
            f"broker account {account_id} not found", metadata={"account_id": account_id}
        )
    return _account(row)


async def list_broker_accounts(
    store: RelationalStore, scope: TenantScope, *, user_id: str | None = None
) -> list[BrokerAccount]:
    """The scope's broker accounts (optionally one user's), oldest first."""
    query = sa.select(broker_accounts).order_by(broker_accounts.c.created_at, broker_accounts.c.id)
    if user_id is not None:
        query = query.where(broker_accounts.c.user_id == validation.entity_id(user_id, "user_id"))
    async with store.tenant(scope.company_id, readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_account(row) for row in rows]


def _validate_position(check: validation.Validator, field: str, new: NewPosition) -> None:
    if not isinstance(new, NewPosition):
        check.fail(field, "must be a NewPosition")
        return
    check.text(f"{field}.symbol", new.symbol, validation.SYMBOL, 20, "an upper-case symbol")
    check.choice(new.side, f"{field}.side", validation.SIDES)
    check.decimal(new.volume, f"{field}.volume", digits=VOLUME[0], places=VOLUME[1])
    for name in ("open_price", "stop_loss", "take_profit", "close_price"):
        value = getattr(new, name)
        if value is not None or name == "open_price":
            check.decimal(value, f"{field}.{name}", digits=PRICE[0], places=PRICE[1])
    opened = check.aware(new.opened_at, f"{field}.opened_at")
    if (new.close_price is None) != (new.closed_at is None):
        check.fail(f"{field}.closed_at", "close_price and closed_at come together")
    elif new.closed_at is not None:
        closed = check.aware(new.closed_at, f"{field}.closed_at")
        if closed.tzinfo and opened.tzinfo and closed < opened:
            check.fail(f"{field}.closed_at", "must not be before opened_at")


async def record_positions(
    store: RelationalStore,
    scope: TenantScope,
    account_id: str,
    positions: Sequence[NewPosition],
    *,
    now: datetime | None = None,
) -> list[Position]:
    """Record a batch of positions on one of the scope's accounts: all or nothing.

    The batch is charged to the storage quota first; a batch that would exceed it
    raises ResourceExhausted and writes none of its rows.
    """
    check = validation.Validator()
    account_id = check.entity_id(account_id, "account_id")
    batch = list(positions)
    if not 1 <= len(batch) <= MAX_BATCH:
        check.fail("positions", f"must hold 1 to {MAX_BATCH} positions")
    else:
        check.each("positions", batch, lambda field, new: _validate_position(check, field, new))
    check.check()
    at = store.now(now)
    async with store.tenant(scope.company_id) as conn:
        account = await _load_account(conn, account_id)
        recorded = [
            Position(
                id=new_entity_id(),
                account_id=account.id,
                user_id=account.user_id,
                symbol=new.symbol,
                side=new.side,
                volume=new.volume,
                open_price=new.open_price,
                stop_loss=new.stop_loss,
                take_profit=new.take_profit,
                close_price=new.close_price,
                opened_at=new.opened_at,
                closed_at=new.closed_at,
                status=PositionStatus.CLOSED if new.closed_at else PositionStatus.OPEN,
            )
            for new in batch
        ]
        nbytes = sum(quota.position_bytes(position.symbol) for position in recorded)
        await quota.reserve(store, conn, scope.company_id, nbytes, len(recorded), at)
        await conn.execute(
            trading_positions.insert(),
            [
                {
                    **{name: getattr(p, name) for name in Position.__dataclass_fields__},
                    "status": p.status.value,
                }
                for p in recorded
            ],
        )
    return recorded


async def close_position(
    store: RelationalStore,
    scope: TenantScope,
    position_id: str,
    close_price: Decimal,
    *,
    now: datetime | None = None,
) -> Position:
    """Close one of the scope's open positions at `close_price`, at `now`."""
    check = validation.Validator()
    position_id = check.entity_id(position_id, "position_id")
    price = check.decimal(close_price, "close_price", digits=PRICE[0], places=PRICE[1])
    check.check()
    at = store.now(now)
    async with store.tenant(scope.company_id) as conn:
        position = await _load_position(conn, position_id, for_update=True)
        if position.status is PositionStatus.CLOSED:
            raise FailedPrecondition(f"position {position_id} is already closed")
        if at < position.opened_at:
            raise FailedPrecondition(f"position {position_id} opened after {at.isoformat()}")
        await conn.execute(
            trading_positions.update()
            .where(trading_positions.c.id == position_id)
            .values(status=PositionStatus.CLOSED.value, close_price=price, closed_at=at)
        )
    return replace(position, status=PositionStatus.CLOSED, close_price=price, closed_at=at)


async def _load_position(conn: AsyncConnection, position_id: str, *, for_update: bool) -> Position:
    query = sa.select(trading_positions).where(trading_positions.c.id == position_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"position {position_id} not found", metadata={"position_id": position_id})
    return _position(row)


async def get_position(store: RelationalStore, scope: TenantScope, position_id: str) -> Position:
    """One of the scope's positions; NotFound for ids of any other company."""
    position_id = validation.entity_id(position_id, "position_id")
    async with store.tenant(scope.company_id, readonly=True) as conn:
        return await _load_position(conn, position_id, for_update=False)


async def list_positions(
    store: RelationalStore,
    scope: TenantScope,
    *,
    account_id: str | None = None,
    user_id: str | None = None,
    symbol: str | None = None,
    status: PositionStatus | str | None = None,
    limit: int = 100,
) -> list[Position]:
    """The scope's positions matching every given filter, newest opened first."""
    check = validation.Validator()
    if account_id is not None:
        check.entity_id(account_id, "account_id")
    if user_id is not None:
        check.entity_id(user_id, "user_id")
    if symbol is not None:
        check.text("symbol", symbol, validation.SYMBOL, 20, "an upper-case symbol")
    if status is not None:
        check.choice(str(status), "status", tuple(PositionStatus))
    check.count(limit, "limit", low=1, high=MAX_LIST)
    check.check()
    query = sa.select(trading_positions)
    for column, value in (
        (trading_positions.c.account_id, account_id),
        (trading_positions.c.user_id, user_id),
        (trading_positions.c.symbol, symbol),
        (trading_positions.c.status, None if status is None else str(status)),
    ):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(trading_positions.c.opened_at.desc(), trading_positions.c.id).limit(
        limit
    )
    async with store.tenant(scope.company_id, readonly=True) as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_position(row) for row in rows]
