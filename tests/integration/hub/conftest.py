"""A real Hub on port 0, a real Storage for tenants and keys (embedded backends), and real
instance servers that register themselves through mesh/registration.py."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest_asyncio
from tickmesh.billing.v1 import billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.hub.v1 import hub_pb2, hub_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors, metadata_interceptors
from mesh.config import MeshConfig, load_config
from mesh.server import MeshServer
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from servers.billing.app import SPEC as BILLING
from servers.hub.app import SPEC as HUB
from servers.hub.hub import Hub
from servers.storage.app import SPEC as STORAGE
from tests.support.backing import REDIS_URL, delete_redis_prefix, require_redis
from tests.waiting import eventually

FREE, PRO, ENTERPRISE = tenancy_pb2.TIER_FREE, tenancy_pb2.TIER_PRO, tenancy_pb2.TIER_ENTERPRISE
WAIT = 10.0
"""Upper bound of every wait on a condition (generous: the machine is shared)."""


@dataclass
class Tenant:
    company_id: str
    api_key: str


@dataclass
class HubMesh:
    """Storage and a Hub sharing one config, plus instances started by the test."""

    config: MeshConfig
    storage: MeshServer
    hub: MeshServer
    parts: Hub
    instances: list[MeshServer] = field(default_factory=list)
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    def channel(self, address: str, key: str | None = None) -> grpc.aio.Channel:
        """A channel to `address` presenting `key` (an API key or the operator key)."""
        interceptors = api_key_interceptors(key) if key else []
        channel = grpc.aio.insecure_channel(address, interceptors=interceptors)
        self._channels.append(channel)
        return channel

    def service_channel(self, address: str, service: str) -> grpc.aio.Channel:
        """A channel whose calls are signed as the tickmesh service `service`."""
        assert self.config.mesh_secret
        signer = ContextSigner(self.config.mesh_secret.encode())
        channel = grpc.aio.insecure_channel(
            address,
            interceptors=metadata_interceptors(
                lambda: ((METADATA_KEY, signer.sign(relayed_caller(service, None))),)
            ),
        )
        self._channels.append(channel)
        return channel

    @property
    def operator_key(self) -> str:
        assert self.config.admin_key
        return self.config.admin_key

    def hub_stub(self, key: str | None = None) -> hub_pb2_grpc.HubServiceStub:
        """A Hub client presenting `key` (default: the operator key)."""
        return hub_pb2_grpc.HubServiceStub(self.channel(self.hub.address, key or self.operator_key))

    def billing_via_hub(self, key: str | None = None) -> billing_pb2_grpc.BillingServiceStub:
        """A Billing client that knows only the Hub's address."""
        return billing_pb2_grpc.BillingServiceStub(self.channel(self.hub.address, key))

    async def tenant(self, tier: tenancy_pb2.Tier = FREE) -> Tenant:
        """A company of `tier` created through Storage, and its owner's API key."""
        operator = storage_pb2_grpc.StorageServiceStub(
            self.channel(self.storage.address, self.operator_key)
        )
        created = await operator.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=f"Co {secrets.token_hex(3)}",
                tier=tier,
                owner_email=f"owner-{secrets.token_hex(4)}@example.com",
                owner_name="Owner",
            ),
            timeout=WAIT,
        )
        return Tenant(created.company.company_id, created.owner_key.api_key)

    async def start_instance(
        self,
        create: Callable[..., Awaitable[MeshServer]] = BILLING.create,
        *,
        register: bool = True,
        **settings: Any,
    ) -> MeshServer:
        """Start an instance server on port 0 registering at the Hub (settings override
        config fields, e.g. instance_free_tier=False); wait until the Hub sees it SERVING."""
        # Each instance its own data directory, as separate processes would have.
        data_dir = self.config.data_dir / f"instance-{len(self.instances)}"
        config = dataclasses.replace(
            self.config,
            hub_address=self.hub.address if register else None,
            data_dir=data_dir,
            **settings,
        )
        server = await create(config, port=0)
        await server.start()
        self.instances.append(server)
        if register:
            await self.wait_health(server.instance_id, hub_pb2.INSTANCE_HEALTH_SERVING)
        return server

    async def instance(self, instance_id: str) -> hub_pb2.Instance | None:
        reply = await self.hub_stub().ListInstances(
            hub_pb2.ListInstancesRequest(), timeout=WAIT, wait_for_ready=True
        )
        return next((i for i in reply.instances if i.spec.instance_id == instance_id), None)

    async def wait_health(self, instance_id: str, health: int) -> None:
        async def reached() -> bool:
            found = await self.instance(instance_id)
            return found is not None and found.health == health

        name = hub_pb2.InstanceHealth.Name(health)
        await eventually(reached, f"{instance_id} to be {name} at the Hub")

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
        for server in self.instances:
            await server.stop()


def mesh_config(tmp: Path, **settings: str) -> MeshConfig:
    env = {
        "TICKMESH_DATA_DIR": str(tmp),
        "TICKMESH_TLS_INSECURE": "true",
        "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
        "TICKMESH_ADMIN_KEY": "op_" + secrets.token_urlsafe(24),
        "TICKMESH_LOG_FORMAT": "text",
        "TICKMESH_GRACE_SECONDS": "1",
        **settings,
    }
    return load_config(env=env)


@pytest_asyncio.fixture
async def hub_mesh(tmp_path: Path) -> AsyncIterator[HubMesh]:
    """Storage (embedded SQL) and a Hub on port 0, sharing quota counters in the real Redis
    (so a test sees who counted a call); instances the test starts stop first."""
    await require_redis()
    prefix = f"tmtest:hub:{secrets.token_hex(4)}:"
    config = mesh_config(
        tmp_path,
        TICKMESH_INSTANCE_TTL_SECONDS="2",
        TICKMESH_REDIS_URL=REDIS_URL,
        TICKMESH_REDIS_PREFIX=prefix,
    )
    storage = await STORAGE.create(config, port=0)
    await storage.start()
    config = dataclasses.replace(config, storage_port=storage.port)
    hub = await HUB.create(config, port=0)
    parts = hub.handle
    assert isinstance(parts, Hub)
    # Round trips on this shared machine are noise: routing choices must not depend on them
    # (latency scoring has its unit tests).
    parts.health.measure_latency = False
    await hub.start()
    mesh = HubMesh(config, storage, hub, parts)
    try:
        yield mesh
    finally:
        await mesh.close()
        await mesh.hub.stop()
        await hub.stop()  # a no-op unless a test replaced the Hub
        await storage.stop()
        await delete_redis_prefix(prefix)
