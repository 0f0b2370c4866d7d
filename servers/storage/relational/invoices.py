"""Closed invoices: stored once per company and period, byte for byte as Billing rated them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.storage.relational import events, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import invoices

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
INVOICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    """An invoice row; `body` is the serialized contract message."""

    invoice_id: str
    company_id: str
    billing_period: str
    status: str
    total_minor_units: int
    currency: str
    issued_at: datetime
    body: bytes
    payment_status: str = "open"


async def save_invoice(
    store: RelationalStore, invoice: StoredInvoice
) -> tuple[StoredInvoice, bool]:
    """Store `invoice` unless one exists for its company and period; return the stored one
    and whether it existed already (so closing a period twice returns the first invoice)."""
    check = validation.Validator()
    check.company_id(invoice.company_id)
    check.text("invoice_id", invoice.invoice_id, INVOICE_ID, 64, "letters, digits and ._:-")
    check.text("billing_period", invoice.billing_period, PERIOD, 7, "YYYY-MM")
    check.choice(invoice.status, "status", ("closed",))
    check.choice(invoice.currency, "currency", ("USD",))
    check.check()
    async with store.shared() as conn:
        existing = await _find(conn, invoice.company_id, invoice.billing_period)
        if existing is not None:
            return existing, True
        await conn.execute(invoices.insert().values(
            id=invoice.invoice_id, company_id=invoice.company_id,
            billing_period=invoice.billing_period, status=invoice.status,
            total_minor_units=invoice.total_minor_units, currency=invoice.currency,
            issued_at=invoice.issued_at, body=invoice.body,
        ))  # fmt: skip
        await events.emit(conn, at=invoice.issued_at, company_id=invoice.company_id,
                          type="invoice.issued", data={
            "invoice_id": invoice.invoice_id, "billing_period": invoice.billing_period,
            "total_minor_units": invoice.total_minor_units, "currency": invoice.currency,
        })  # fmt: skip
    return invoice, False


async def list_invoices(
    store: RelationalStore, company_id: str, billing_period: str | None = None
) -> list[StoredInvoice]:
    """The company's invoices, newest period first."""
    check = validation.Validator()
    company_id = check.company_id(company_id)
    if billing_period:
        check.text("billing_period", billing_period, PERIOD, 7, "YYYY-MM")
    check.check()
    query = sa.select(invoices).where(invoices.c.company_id == company_id)
    if billing_period:
        query = query.where(invoices.c.billing_period == billing_period)
    async with store.shared(readonly=True) as conn:
        rows = (await conn.execute(query.order_by(invoices.c.billing_period.desc()))).mappings()
        return [_record(row) for row in rows]


async def _find(conn: AsyncConnection, company_id: str, period: str) -> StoredInvoice | None:
    row = (
        (
            await conn.execute(
                sa.select(invoices).where(
                    invoices.c.company_id == company_id, invoices.c.billing_period == period
                )
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _record(row)


def _record(row: sa.RowMapping) -> StoredInvoice:
    return StoredInvoice(
        invoice_id=row["id"], company_id=row["company_id"], billing_period=row["billing_period"],
        status=row["status"], total_minor_units=row["total_minor_units"],
        currency=row["currency"], issued_at=row["issued_at"], body=bytes(row["body"]),
        payment_status=row["payment_status"],
    )  # fmt: skip
