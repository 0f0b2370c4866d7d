"""Tier pools end to end: `up` with two Bridge pools (enterprise+pro, free), the Hub routing
each tier to its pool, a pool refusing the other tier with the address of the right one,
and the SDK finding its pool by itself (issue 22)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from tickmesh.bridge.v1 import bridge_pb2, bridge_pb2_grpc
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc

from clients.subscriber import Ack, Reconnecting, Ticks, subscribe
from mesh.client_interceptors import api_key_interceptors
from mesh.tiers import FREE_SYMBOLS
from tests.e2e.conftest import RunningMesh, mesh_up
from tests.e2e.test_clients import CLIENTS, client_command, summary_of

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def pooled_mesh(tmp_path_factory: pytest.TempPathFactory) -> RunningMesh:
    data_dir = tmp_path_factory.mktemp("pools") / "data"
    with mesh_up(data_dir, {"TICKMESH_BRIDGES": "enterprise+pro,free"}) as mesh:
        yield mesh


def demo_keys(mesh: RunningMesh) -> dict[str, str]:
    records = json.loads((mesh.data_dir / "demo.json").read_text())
    return {r["tier"]: r["api_key"] for r in records}


def bridges(mesh: RunningMesh) -> tuple[dict[str, object], dict[str, object]]:
    """The paid pool's Bridge (the configured port) and the free pool's."""
    services = mesh.state()["services"]
    return services["bridge"], services["bridge-2"]


async def resolve(mesh: RunningMesh, key: str) -> str:
    async with grpc.aio.insecure_channel(
        mesh.address("hub"), interceptors=api_key_interceptors(key)
    ) as channel:
        reply = await hub_pb2_grpc.HubServiceStub(channel).Resolve(
            hub_pb2.ResolveRequest(service="bridge"), timeout=10
        )
        return str(reply.instance.spec.address)


async def refusal(address: str, key: str, symbols: list[str]) -> grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(
        address, interceptors=api_key_interceptors(key)
    ) as channel:
        call = bridge_pb2_grpc.BridgeServiceStub(channel).Subscribe(
            bridge_pb2.SubscribeRequest(symbols=symbols), timeout=10
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        return caught.value


def test_up_starts_one_bridge_per_pool_the_free_one_at_lower_priority(
    pooled_mesh: RunningMesh,
) -> None:
    paid, free = bridges(pooled_mesh)
    assert paid["address"] == pooled_mesh.address("bridge")
    log = pooled_mesh.log()
    assert f"bridge     {paid['address']} (pool enterprise,pro)" in log
    assert f"bridge-2   {free['address']} (pool free)" in log
    assert os.getpriority(os.PRIO_PROCESS, int(paid["pid"])) == 0  # type: ignore[call-overload]
    assert os.getpriority(os.PRIO_PROCESS, int(free["pid"])) == 10  # type: ignore[call-overload]
    status = pooled_mesh.tickmesh("status")
    line = next(x for x in status.stdout.splitlines() if x.startswith("bridge-2"))
    assert str(free["address"]) in line and "SERVING" in line, status.stdout


async def test_the_hub_routes_each_tier_to_its_pool(pooled_mesh: RunningMesh) -> None:
    keys = demo_keys(pooled_mesh)
    paid, free = bridges(pooled_mesh)
    assert await resolve(pooled_mesh, keys["enterprise"]) == paid["address"]
    assert await resolve(pooled_mesh, keys["pro"]) == paid["address"]
    assert await resolve(pooled_mesh, keys["free"]) == free["address"]


async def test_a_pool_refuses_another_tier_naming_where_it_is_served(
    pooled_mesh: RunningMesh,
) -> None:
    keys = demo_keys(pooled_mesh)
    paid, _free = bridges(pooled_mesh)
    err = await refusal(str(paid["address"]), keys["free"], list(FREE_SYMBOLS))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "serves the enterprise+pro pool, not free tenants" in (err.details() or "")
    # The free Bridge serves free only: pro is turned away too, pointed at the paid pool.
    err = await pro_refused_by_the_free_pool(pooled_mesh)
    assert f"the enterprise+pro pool serves it at {paid['address']}" in (err.details() or "")


async def pro_refused_by_the_free_pool(mesh: RunningMesh) -> grpc.aio.AioRpcError:
    """The free Bridge's refusal of a pro key, once it names the paid pool's address: that
    comes from the Hub's registry, which sees both Bridges once health-checked."""
    keys = demo_keys(mesh)
    paid, free = bridges(mesh)
    deadline = time.monotonic() + 30
    while True:
        err = await refusal(str(free["address"]), keys["pro"], ["EURUSD"])
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        if str(paid["address"]) in (err.details() or "") or time.monotonic() > deadline:
            return err
        await asyncio.sleep(0.5)  # poll: the Hub's registry fills as health checks pass


async def test_the_sdk_follows_a_refusal_to_its_pool(pooled_mesh: RunningMesh) -> None:
    keys = demo_keys(pooled_mesh)
    paid, _free = bridges(pooled_mesh)
    events: list[object] = []
    stream = subscribe(str(paid["address"]), keys["free"], list(FREE_SYMBOLS), max_attempts=5)
    async with asyncio.timeout(60):
        async for event in stream:
            events.append(event)
            if isinstance(event, Ticks) and event.batch.ticks:
                break
    await stream.aclose()
    acks = [e for e in events if isinstance(e, Ack)]
    assert acks and list(acks[0].ack.symbols) == list(FREE_SYMBOLS)
    moved = [e for e in events if isinstance(e, Reconnecting)]
    assert moved and moved[0].error.reason == "WRONG_POOL"


@pytest.mark.parametrize("client", CLIENTS)
async def test_the_other_clients_follow_a_refusal_to_its_pool(
    pooled_mesh: RunningMesh, client: str
) -> None:
    keys = demo_keys(pooled_mesh)
    paid, free = bridges(pooled_mesh)
    await pro_refused_by_the_free_pool(pooled_mesh)
    command = [
        *client_command(client), "--target", pooled_mesh.address("storage"),
        "--key", keys["pro"], "--bridge", str(free["address"]), "--symbols", "EURUSD",
        "--messages", "1", "--timeout", "60",
    ]  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=90
    )
    summary = summary_of(result)
    assert summary["tier"] == "TIER_PRO"
    assert summary["moved_to"] == [paid["address"]]
    assert summary["batches"] >= 1 and summary["symbols"] == ["EURUSD"]
    assert "WRONG_POOL" not in result.stdout  # the move is on stderr, the summary clean
    assert f"moving to {paid['address']}" in result.stderr


def test_a_bridges_spec_that_leaves_a_tier_out_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "TICKMESH_DATA_DIR": str(tmp_path), "TICKMESH_TLS_INSECURE": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "up", "--bridges", "enterprise+pro"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no pool serves free" in result.stderr
    assert not (tmp_path / "mesh.json").exists()
