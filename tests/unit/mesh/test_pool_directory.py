"""Where a tier's pool is: read from the Hub on demand, cached, never in a refusal's way."""

from __future__ import annotations

import asyncio

import grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2

from mesh.pool_directory import PoolDirectory
from mesh.tiers import Tier

SERVING = hub_pb2.INSTANCE_HEALTH_SERVING


def instance(
    address: str,
    *tiers: tenancy_pb2.Tier,
    pool: bool = True,
    sessions: int = 0,
    health: hub_pb2.InstanceHealth = SERVING,
) -> hub_pb2.Instance:
    spec = hub_pb2.InstanceSpec(
        instance_id=address, service="bridge", address=address, tiers=list(tiers),
        tier_pool=pool, free_tier_allowed=tenancy_pb2.TIER_FREE in tiers or not pool,
    )  # fmt: skip
    return hub_pb2.Instance(spec=spec, health=health, active_sessions=sessions)


class FakeHub:
    def __init__(self, *instances: hub_pb2.Instance) -> None:
        self.instances = list(instances)
        self.calls = 0
        self.failing = False

    async def __call__(self) -> hub_pb2.ListInstancesResponse:
        self.calls += 1
        if self.failing:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata()
            )
        return hub_pb2.ListInstancesResponse(instances=self.instances)


async def test_the_least_loaded_serving_member_of_the_tiers_pool() -> None:
    hub = FakeHub(
        instance("paid:1", tenancy_pb2.TIER_ENTERPRISE, tenancy_pb2.TIER_PRO),
        instance("free:1", tenancy_pb2.TIER_FREE, sessions=9),
        instance("free:2", tenancy_pb2.TIER_FREE, sessions=3),
        instance("free:3", tenancy_pb2.TIER_FREE, health=hub_pb2.INSTANCE_HEALTH_NOT_SERVING),
    )
    directory = PoolDirectory(hub)
    free = await directory.serving(Tier.FREE)
    assert free is not None and (free.address, free.pool) == ("free:2", "free")
    paid = await directory.serving(Tier.PRO)
    assert paid is not None and (paid.address, paid.pool) == ("paid:1", "enterprise+pro")
    assert hub.calls == 1  # cached for max_age_s


async def test_a_pool_behind_a_load_balancer_is_named_by_its_public_address() -> None:
    behind = instance("10.1.2.3:50053", tenancy_pb2.TIER_FREE)
    behind.spec.public_address = "free.tickmesh.example:443"
    member = await PoolDirectory(FakeHub(behind)).serving(Tier.FREE)
    # The pod's own address is no use to a client outside the cluster.
    assert member is not None and member.address == "free.tickmesh.example:443"


async def test_a_hub_that_fails_or_hangs_leaves_the_address_out() -> None:
    hub = FakeHub(instance("free:1", tenancy_pb2.TIER_FREE))
    hub.failing = True
    assert await PoolDirectory(hub).serving(Tier.FREE) is None

    async def hanging() -> hub_pb2.ListInstancesResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    slow = PoolDirectory(hanging, timeout_s=0.01)
    assert await slow.serving(Tier.FREE) is None
