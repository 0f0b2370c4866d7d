"""Payment methods on file and the charges of invoices.

Storage keeps what the payment gateway returned (a token, a brand and last four
digits; a charge's outcome and reference), never card data. An invoice's payment
status lives beside its rated body, which never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from mesh.errors import NotFound
from servers.storage.relational import events, validation
from servers.storage.relational.engine import RelationalStore
from servers.storage.relational.tables import invoices, payment_methods, payments

PAYMENT_STATUSES = ("succeeded", "declined", "failed")


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A payment method on file."""

    company_id: str
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Payment:
    """One charge of one invoice."""

    company_id: str
    invoice_id: str
    amount_minor_units: int
    status: str
    reason: str | None
    reference: str | None
    attempted_at: datetime


async def save_method(store: RelationalStore, method: PaymentMethod) -> PaymentMethod:
    """Put `method` on file for its company, replacing the one before."""
    validation.company_id(method.company_id)
    values = {
        "token": method.token, "brand": method.brand, "last4": method.last4,
        "exp_month": method.exp_month, "exp_year": method.exp_year,
        "created_at": method.created_at,
    }  # fmt: skip
    async with store.shared() as conn:
        updated = await conn.execute(
            payment_methods.update()
            .where(payment_methods.c.company_id == method.company_id)
            .values(**values)
        )
        if updated.rowcount == 0:
            await conn.execute(
                payment_methods.insert().values(company_id=method.company_id, **values)
            )
    return method


async def get_method(store: RelationalStore, company_id: str) -> PaymentMethod:
    """The company's payment method; NOT_FOUND when it has none."""
    query = sa.select(payment_methods).where(payment_methods.c.company_id == company_id)
    async with store.shared(readonly=True) as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound("no payment method on file", reason="NO_PAYMENT_METHOD")
    return PaymentMethod(
        row["company_id"], row["token"], row["brand"], row["last4"], row["exp_month"],
        row["exp_year"], row["created_at"],
    )  # fmt: skip


async def record_payment(store: RelationalStore, payment: Payment) -> str:
    """Log the charge and set the invoice's payment status (paid or past_due); emits
    `payment.failed` for a failed one. The status after."""
    check = validation.Validator()
    check.company_id(payment.company_id)
    check.choice(payment.status, "payment.status", PAYMENT_STATUSES)
    check.check()
    status = "paid" if payment.status == "succeeded" else "past_due"
    async with store.shared() as conn:
        found = await conn.execute(
            invoices.update()
            .where(
                invoices.c.id == payment.invoice_id,
                invoices.c.company_id == payment.company_id,
            )
            .values(payment_status=status)
        )
        if found.rowcount == 0:
            raise NotFound(f"invoice {payment.invoice_id!r} not found")
        await conn.execute(payments.insert().values(
            company_id=payment.company_id, invoice_id=payment.invoice_id,
            amount_minor_units=payment.amount_minor_units, status=payment.status,
            reason=payment.reason, reference=payment.reference,
            attempted_at=payment.attempted_at,
        ))  # fmt: skip
        if status == "past_due":
            await events.emit(conn, at=payment.attempted_at, company_id=payment.company_id,
                              type="payment.failed", data={
                "invoice_id": payment.invoice_id, "amount_minor_units": payment.amount_minor_units,
                "status": payment.status, "reason": payment.reason,
            })  # fmt: skip
    return status
