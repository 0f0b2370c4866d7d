"""Reconciliation of delivered ticks against billed usage."""

from __future__ import annotations

from servers.billing.reconcile import ReconcileEntry, reconcile

from .helpers import NOV


def test_balanced_when_every_count_agrees() -> None:
    result = reconcile(NOV, delivered={"b": 50, "a": 100}, billed={"a": 100, "b": 50})
    assert result.balanced and result.mismatched == ()
    assert [(e.company_id, e.difference) for e in result.entries] == [("a", 0), ("b", 0)]


def test_differences_are_billed_minus_delivered() -> None:
    result = reconcile(NOV, delivered={"a": 100, "b": 50}, billed={"a": 100, "b": 45, "c": 3})
    assert not result.balanced
    # b: billed 45 of 50 delivered -> -5 (under-billed); c: 3 billed, none delivered -> +3
    assert result.mismatched == (ReconcileEntry("b", 50, 45), ReconcileEntry("c", 0, 3))
    assert [e.difference for e in result.mismatched] == [-5, 3]
    assert result.period == NOV


def test_nothing_to_reconcile_is_balanced() -> None:
    assert reconcile(NOV, {}, {}).balanced
