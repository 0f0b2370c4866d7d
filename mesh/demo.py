"""The demo `tickmesh up` runs once the mesh is SERVING: one tenant per tier, keys printed.

These keys are demo credentials the user needs to try the mesh, so printing
them is the point; the operator key and the mesh secret are never printed.

Every `up` on the same data dir shows the same three companies and keys: the first
creates them and records them in `<data dir>/demo.json` (mode 0600, like operator.key);
the next ones find them there, check with Storage that they still exist, and issue a new
key only for one whose key stopped working (revoked). Without the file (a new data dir
against a PostgreSQL that outlived the old one) they are created anew.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
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
CALL_TIMEOUT_S = 30
KEY_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


@dataclass(frozen=True)
class DemoTenant:
    """One demo company and its owner's key."""

    tier: str
    company_id: str
    api_key: str
    user_id: str = ""
    """The owner, for whom a new key is issued if this one stops working."""


def demo_file(config: MeshConfig) -> Path:
    """Where `up` records the demo tenants of this data dir."""
    return config.data_dir / "demo.json"


async def create_demo_tenants(config: MeshConfig, operator_key: str) -> list[DemoTenant]:
    """The demo tenants, one per tier, as the operator: those recorded by an earlier `up`
    on this data dir when Storage still has them, else new ones; recorded for the next."""
    saved = _read(demo_file(config))
    interceptors = api_key_interceptors(operator_key)
    async with aio_channel(
        config.address_of("storage"), config, interceptors=interceptors
    ) as channel:
        stub = storage_pb2_grpc.StorageServiceStub(channel)
        existing = await _company_ids(stub) if saved else set()
        tenants = []
        for name, tier, label in DEMO_TENANTS:
            known = saved.get(label)
            if known is not None and known.company_id in existing:
                tenants.append(await _still_usable(config, stub, known))
            else:
                tenants.append(await _create(stub, name, tier, label))
    _write(demo_file(config), tenants)
    return tenants


async def _company_ids(stub: storage_pb2_grpc.StorageServiceStub) -> set[str]:
    ids: set[str] = set()
    token = ""
    while True:
        page = await stub.ListCompanies(
            storage_pb2.ListCompaniesRequest(page_size=1000, page_token=token),
            timeout=CALL_TIMEOUT_S,
        )
        ids.update(company.company_id for company in page.companies)
        token = page.next_page_token
        if not token:
            return ids


async def _create(
    stub: storage_pb2_grpc.StorageServiceStub,
    name: str,
    tier: tenancy_pb2.Tier,
    label: str,
) -> DemoTenant:
    created = await stub.CreateCompany(
        storage_pb2.CreateCompanyRequest(
            name=name,
            tier=tier,
            owner_email=f"owner@{label}.demo.tickmesh.dev",
            owner_name=f"{label.capitalize()} Owner",
        ),
        timeout=CALL_TIMEOUT_S,
    )
    return DemoTenant(
        label, created.company.company_id, created.owner_key.api_key, created.owner.user_id
    )


async def _still_usable(
    config: MeshConfig, operator: storage_pb2_grpc.StorageServiceStub, tenant: DemoTenant
) -> DemoTenant:
    """`tenant` if its key still works (the call a user of the key could make), else the
    same tenant with a new key for its owner."""
    async with aio_channel(
        config.address_of("storage"), config, interceptors=api_key_interceptors(tenant.api_key)
    ) as channel:
        try:
            await storage_pb2_grpc.StorageServiceStub(channel).GetCompany(
                storage_pb2.GetCompanyRequest(), timeout=CALL_TIMEOUT_S
            )
            return tenant
        except grpc.aio.AioRpcError as err:
            if err.code() not in KEY_REFUSED or not tenant.user_id:
                raise
    issued = await operator.IssueApiKey(
        storage_pb2.IssueApiKeyRequest(
            user_id=tenant.user_id, company_id=tenant.company_id, label="demo"
        ),
        timeout=CALL_TIMEOUT_S,
    )
    return DemoTenant(tenant.tier, tenant.company_id, issued.api_key, tenant.user_id)


def _read(path: Path) -> dict[str, DemoTenant]:
    try:
        records = json.loads(path.read_text())
        return {r["tier"]: DemoTenant(**r) for r in records}
    except (OSError, ValueError, TypeError, KeyError):  # none yet, or not ours: start afresh
        return {}


def _write(path: Path, tenants: list[DemoTenant]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump([asdict(t) for t in tenants], handle, indent=1)


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
