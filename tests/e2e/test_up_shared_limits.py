"""On `tickmesh up`'s defaults, quotas and revocations hold mesh-wide (its shared Redis)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients.errors import TickmeshError
from mesh.client_interceptors import api_key_interceptors
from mesh.config import SERVICES
from mesh.tenancy.quota import QuotaStore
from mesh.tiers import Tier
from tests.e2e.conftest import RunningMesh, free_ports, mesh_up
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CALLS_PER_SERVICE = 550
IN_FLIGHT = 32  # calls at a time: enough to race the two services, not to flood two cores


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    """One mesh for both tests (they use different tenants): a start costs seconds."""
    with mesh_up(tmp_path_factory.mktemp("shared-limits") / "data") as running:
        yield running


def demo_tenants(mesh: RunningMesh) -> dict[str, tuple[str, str]]:
    """The demo tenants `up` printed: (company id, key) by tier."""
    found = re.findall(r"^\s+(free|pro|enterprise)\s+company (\S+)\s+key (\S+)$", mesh.log(), re.M)
    return {tier: (company, key) for tier, company, key in found}


def demo_keys(mesh: RunningMesh) -> dict[str, str]:
    """The demo tenants' keys `up` printed, by tier."""
    return {tier: key for tier, (_, key) in demo_tenants(mesh).items()}


def child_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def test_one_free_key_gets_exactly_its_daily_limit_across_two_services(
    mesh: RunningMesh,
) -> None:
    # Every service was given the one store `up` started (no TICKMESH_REDIS_URL here).
    state = mesh.state()
    url = f"redis://{state['store']['address']}/0"
    for service, child in state["services"].items():
        assert child_environment(child["pid"]).get("TICKMESH_REDIS_URL") == url, service

    key = demo_keys(mesh)["free"]
    interceptors = api_key_interceptors(key)
    async with (
        grpc.aio.insecure_channel(mesh.address("storage"), interceptors=interceptors) as s,
        grpc.aio.insecure_channel(mesh.address("bridge"), interceptors=interceptors) as b,
    ):
        storage = storage_pb2_grpc.StorageServiceStub(s)
        bridge = bridge_pb2_grpc.BridgeServiceStub(b)
        bound = asyncio.Semaphore(IN_FLIGHT)

        async def call(service: str) -> str:
            async with bound:
                try:
                    if service == "storage":
                        await storage.GetCompany(storage_pb2.GetCompanyRequest(), timeout=30)
                    else:
                        await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=30)
                except grpc.aio.AioRpcError as err:
                    return err.code().name
                return "OK"

        # Interleaved, so both services draw on the quota at the same time.
        outcomes = await asyncio.gather(
            *(call(s) for _ in range(CALLS_PER_SERVICE) for s in ("storage", "bridge"))
        )
    counts = {o: outcomes.count(o) for o in set(outcomes)}
    assert counts == {"OK": 1000, "RESOURCE_EXHAUSTED": 100}, counts


async def test_a_revoked_key_is_refused_by_another_service_on_its_next_call(
    mesh: RunningMesh,
) -> None:
    key = demo_keys(mesh)["pro"]
    key_id = key.split("_")[1]  # tm_<key id>_<secret>
    interceptors = api_key_interceptors(key)
    async with (
        grpc.aio.insecure_channel(mesh.address("storage"), interceptors=interceptors) as s,
        grpc.aio.insecure_channel(mesh.address("bridge"), interceptors=interceptors) as b,
    ):
        bridge = bridge_pb2_grpc.BridgeServiceStub(b)
        # The Bridge has the key in its cache (filled on the first call, served on the next).
        for _ in range(2):
            await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=10)
        await storage_pb2_grpc.StorageServiceStub(s).RevokeApiKey(
            storage_pb2.RevokeApiKeyRequest(key_id=key_id), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=10)
    error = TickmeshError.from_rpc_error(refused.value)
    assert (error.code, error.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_REVOKED")


async def test_a_killed_store_is_restarted_with_its_counters_and_the_services_reconnect(
    mesh: RunningMesh,
) -> None:
    company, key = demo_tenants(mesh)["enterprise"]  # unlimited, but counted all the same
    store = mesh.state()["store"]
    quota = await QuotaStore.connect(f"redis://{store['address']}/0")
    async with grpc.aio.insecure_channel(
        mesh.address("bridge"), interceptors=api_key_interceptors(key)
    ) as channel:
        bridge = bridge_pb2_grpc.BridgeServiceStub(channel)
        try:
            await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=10)
            used = (await quota.call_usage(company, Tier.ENTERPRISE)).used
            assert used >= 1

            os.kill(store["pid"], signal.SIGKILL)

            def restarted() -> bool:
                now = mesh.state()["store"]
                return now["restarts"] == 1 and now["pid"] != store["pid"]

            await eventually(restarted, "the store restarted")
            await eventually(lambda: "redis is SERVING again" in mesh.log(), "it answering")
            status = mesh.tickmesh("status")
            assert "REACHABLE    1  (shared store: redis-server" in status.stdout, status.stdout
            assert "last: killed by SIGKILL" in status.stdout
            # Its AOF kept the count, and the Bridge's client found the store again.
            assert (await quota.call_usage(company, Tier.ENTERPRISE)).used == used
            await bridge.GetUsage(bridge_pb2.GetUsageRequest(), timeout=10)
            assert (await quota.call_usage(company, Tier.ENTERPRISE)).used == used + 1
        finally:
            await quota.aclose()


def test_up_whose_store_cannot_start_exits_at_once_with_one_line(tmp_path: Path) -> None:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        env = {
            **os.environ,
            "TICKMESH_DATA_DIR": str(tmp_path / "data"),
            "TICKMESH_TLS_INSECURE": "true",
            "TICKMESH_SHARED_STORE_PORT": str(busy),
            # Every other port `up` checks is free: only the store's is taken.
            "TICKMESH_CONSOLE_PORT": "0",
            "TICKMESH_TEMPORAL_PORT": "0",
            "TICKMESH_TEMPORAL_UI_PORT": "0",
            **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        }
        result = subprocess.run(
            [sys.executable, "-m", "mesh.cli", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1 and result.stdout == "", result
    assert result.stderr == (
        f"tickmesh up: shared store: cannot bind 127.0.0.1:{busy} (in use by another program): "
        "set TICKMESH_SHARED_STORE_PORT or stop it\n"
    )
    assert not (tmp_path / "data" / "operator.key").exists()  # no service was started
