"""Events other services report: validated, and one row per dedupe key however often sent."""

from __future__ import annotations

import pytest

from mesh.errors import InvalidArgument, NotFound
from servers.storage.relational import companies, events
from servers.storage.relational.engine import RelationalStore
from tests.integration.storage.conftest import T0


async def test_a_repeated_report_is_one_event(store: RelationalStore) -> None:
    company, _ = await companies.create_company(store, "Reported Ltd", now=T0)
    first, duplicate = await events.report(
        store, company_id=company.id, type="sla.violated", data={"tier": "free"},
        dedupe_key=f"sla.violated:{company.id}:2026-03", now=T0,
    )  # fmt: skip
    assert not duplicate
    again, duplicate = await events.report(
        store, company_id=company.id, type="sla.violated", data={"tier": "free"},
        dedupe_key=f"sla.violated:{company.id}:2026-03", now=T0,
    )  # fmt: skip
    assert (again, duplicate) == (first, True)
    listed = await events.list_events(store, company_id=company.id)
    assert [e.event_id for e in listed if e.type == "sla.violated"] == [first]


async def test_reports_are_validated(store: RelationalStore) -> None:
    company, _ = await companies.create_company(store, "Checked Ltd", now=T0)
    with pytest.raises(InvalidArgument) as caught:
        await events.report(
            store, company_id=company.id, type="invoice.issued", data={}, dedupe_key="a b"
        )
    assert {v.field for v in caught.value.violations} == {"type", "dedupe_key"}
    with pytest.raises(NotFound):
        await events.report(
            store, company_id="0" * 12, type="quota.warning", data={}, dedupe_key="k"
        )
