"""`tickmesh up` runs Temporal and the Workflow service on embedded defaults: the lifecycle's
schedules exist, the test clock runs a month end through the Hub, and a stop leaves no
Temporal process behind."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from tickmesh.billing.v1 import billing_pb2, billing_pb2_grpc
from tickmesh.workflow.v1 import lifecycle_pb2, lifecycle_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from tests.e2e.conftest import mesh_up

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_up_runs_temporal_and_the_lifecycle_and_stops_them(tmp_path: Path) -> None:
    with mesh_up(tmp_path / "data", {"TICKMESH_WORKFLOW_TEST_CLOCK": "true"}) as mesh:
        temporal = mesh.state()["temporal"]
        assert temporal["pid"] and _alive(temporal["pid"])
        assert (tmp_path / "data" / "temporal" / "temporal.db").exists()
        assert f"temporal   {temporal['address']} (Temporal UI {temporal['ui']})" in mesh.log()
        key = (mesh.data_dir / "operator.key").read_text().strip()
        # Through the Hub, as a user's grpcurl would reach it.
        async with grpc.aio.insecure_channel(
            mesh.address("hub"), interceptors=api_key_interceptors(key)
        ) as channel:
            lifecycle = lifecycle_pb2_grpc.LifecycleServiceStub(channel)
            listed = await lifecycle.ListSchedules(lifecycle_pb2.ListSchedulesRequest())
            assert {s.schedule for s in listed.schedules} == {
                "month-end-close", "subscription-rollover", "daily-retention", "sla-evaluation",
                "support-response",
            }  # fmt: skip
            assert all(s.ui_url.startswith(temporal["ui"]) for s in listed.schedules)
            by = duration_pb2.Duration()
            by.FromTimedelta(timedelta(days=32))  # past the next month end, whatever today is
            moved = await lifecycle.AdvanceClock(lifecycle_pb2.AdvanceClockRequest(by=by))
            closing = [r for r in moved.runs if r.schedule == "month-end-close"]
            assert len(closing) == 1 and closing[0].status == "completed"
            # The demo companies got their invoice for the month that ended.
            invoices = await billing_pb2_grpc.BillingServiceStub(channel).ListInvoices(
                billing_pb2.ListInvoicesRequest(company_id=_demo_company(mesh.log()))
            )
            assert len(invoices.invoices) == 1
        status = mesh.tickmesh("status")
        assert "month-end-close" in status.stdout and "(test clock)" in status.stdout
        assert mesh.stop() == 0, mesh.log()[-4000:]
    assert not _alive(temporal["pid"])


def _demo_company(log: str) -> str:
    line = next(x for x in log.splitlines() if x.strip().startswith("free ") and "company" in x)
    return line.split("company", 1)[1].split()[0]
