"""The demo `tickmesh up` runs once the mesh is SERVING: one tenant per tier, keys printed.

These keys are demo credentials the user needs to try the mesh, so printing
them is the point; the operator key and the mesh secret are never printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.config import MeshConfig
from mesh.transport import aio_channel

DEMO_TENANTS = (
    ("Demo Free Ltd", tenancy_pb2.TIER_FREE, "free"),
    ("Demo Pro Ltd", tenancy_pb2.TIER_PRO, "pro"),
    ("Demo Enterprise Ltd", tenancy_pb2.TIER_ENTERPRISE, "enterprise"),
)
DEMO_SYMBOLS = "EURUSD GBPUSD USDJPY EURJPY XAUUSD"


@dataclass(frozen=True)
class DemoTenant:
    """One demo company and its owner's key."""

    tier: str
    company_id: str
    api_key: str


async def create_demo_tenants(config: MeshConfig, operator_key: str) -> list[DemoTenant]:
    """Create one company per tier through Storage, as the operator."""
    interceptors = api_key_interceptors(operator_key)
    async with aio_channel(
        config.address_of("storage"), config, interceptors=interceptors
    ) as channel:
        stub = storage_pb2_grpc.StorageServiceStub(channel)
        tenants = []
        for name, tier, label in DEMO_TENANTS:
            created = await stub.CreateCompany(
                storage_pb2.CreateCompanyRequest(
                    name=name,
                    tier=tier,
                    owner_email=f"owner@{label}.demo.tickmesh.dev",
                    owner_name=f"{label.capitalize()} Owner",
                ),
                timeout=30,
            )
            tenants.append(DemoTenant(label, created.company.company_id, created.owner_key.api_key))
        return tenants


def demo_instructions(tenants: list[DemoTenant], bridge: str) -> list[str]:
    """What to print: each tier's key and the command that shows its stream."""
    lines = ["Demo tenants (one per tier):"]
    for tenant in tenants:
        lines.append(f"  {tenant.tier:<10} company {tenant.company_id}  key {tenant.api_key}")
    lines.append("Watch what each tier receives (in another terminal):")
    for tenant in tenants:
        lines.append(
            f"  tickmesh subscribe --target {bridge} --best-effort "
            f"--key {tenant.api_key} --symbols {DEMO_SYMBOLS}"
        )
    return lines
