"""`tickmesh up` end to end: five real processes, a foreign reflection client, health, SIGTERM."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import RunningMesh

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BUF = REPO / "node_modules" / ".bin" / "buf"
SERVICE_NAMES = {
    "hub": "tickmesh.hub.v1.HubService",
    "ingestion": "tickmesh.ingestion.v1.IngestionService",
    "bridge": "tickmesh.bridge.v1.BridgeService",
    "storage": "tickmesh.storage.v1.StorageService",
    "billing": "tickmesh.billing.v1.BillingService",
    "workflow": "tickmesh.workflow.v1.LifecycleService",
}
EXTRA_SERVICES = {
    "workflow": {"tickmesh.workflow.v1.WebhookService", "tickmesh.workflow.v1.ChainService"},
    "bridge": {"tickmesh.bridge.v1.HistoryService"},
}
"""Contracts a component serves beside its main one."""
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def buf_curl(*args: str) -> str:
    """Run `buf curl` (the npm package @bufbuild/buf), a reflection client that is not ours."""
    assert BUF.exists(), "buf is missing: run `npm install` in the repository (make install does)"
    result = subprocess.run(
        [str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"buf curl {args} failed:\n{result.stderr}"
    return result.stdout


def test_reflection_lists_every_service(running_mesh: RunningMesh) -> None:
    for component, service in SERVICE_NAMES.items():
        listed = {
            line.rsplit("/", 1)[0]
            for line in buf_curl("--list-methods", f"http://{running_mesh.address(component)}")
            .strip()
            .splitlines()
        }
        assert listed == {
            service,
            *EXTRA_SERVICES.get(component, ()),
            "tickmesh.common.v1.BusinessMetricsService",  # every server has its metrics
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        }, component


def test_reflection_client_calls_a_built_rpc(running_mesh: RunningMesh) -> None:
    out = buf_curl(
        f"http://{running_mesh.address('billing')}/tickmesh.billing.v1.BillingService/GetTierCatalog"
    )
    assert '"TIER_ENTERPRISE"' in out and '"minorUnits": "49900"' in out


async def _watch(address: str, service: str, seen: list[int], serving: asyncio.Event) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service)
        )
        try:
            async for reply in stream:
                seen.append(reply.status)
                if reply.status == SERVING:
                    serving.set()
        except grpc.aio.AioRpcError as err:
            # The server going away ends the stream; what matters is what came before.
            assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def test_health_then_graceful_stop_on_sigterm(running_mesh: RunningMesh) -> None:
    children = running_mesh.child_pids()
    # And the console, then the shared Redis and Temporal, stopped last.
    assert len(children) == len(SERVICE_NAMES) + 3
    seen: dict[str, list[int]] = {c: [] for c in SERVICE_NAMES}
    serving = {c: asyncio.Event() for c in SERVICE_NAMES}
    watches = [
        asyncio.create_task(_watch(running_mesh.address(c), s, seen[c], serving[c]))
        for c, s in SERVICE_NAMES.items()
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in serving.values())), 30)

    # Every child must have exited 0 within 5 s: the launcher exits 0 only then.
    code = await asyncio.to_thread(running_mesh.stop, 5.0)
    assert code == 0, running_mesh.log()
    await asyncio.wait_for(asyncio.gather(*watches), 10)
    for component, statuses in seen.items():
        assert statuses[0] == SERVING, component
        # Health flipped before the process stopped serving.
        assert NOT_SERVING in statuses, f"{component} never reported NOT_SERVING: {statuses}"
    assert not [pid for pid in children if _alive(pid)], "orphaned service processes"


def _alive(pid: int) -> bool:
    """True if `pid` runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_status_command_reports_every_service(running_mesh: RunningMesh) -> None:
    result = running_mesh.tickmesh("status")
    assert result.returncode == 0, result.stdout + result.stderr
    for component in SERVICE_NAMES:
        assert f"{component} " in result.stdout and "SERVING" in result.stdout
    assert "mesh (from the Hub):" in result.stdout  # read with the operator key
    store = running_mesh.state()["store"]
    assert f"redis      {store['address']}" in result.stdout
    assert "REACHABLE" in result.stdout and f"{store['server']}, files in" in result.stdout
