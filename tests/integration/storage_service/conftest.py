"""A real Storage server, plus a Billing server that authenticates through it over gRPC,
on the real backends (PostgreSQL + Redis) and on the embedded defaults (SQLite, in-process)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from tickmesh.billing.v1 import billing_pb2_grpc
from tickmesh.common.v1 import tenancy_pb2
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from mesh.client_interceptors import api_key_interceptors, metadata_interceptors
from mesh.config import MeshConfig, load_config, load_settings
from mesh.server import MeshServer
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from servers.billing.app import SPEC as BILLING
from servers.storage.app import SPEC as STORAGE
from servers.storage.relational.engine import open_store
from servers.storage.relational.provision import destroy_store
from servers.storage.settings import StorageSettings
from tests.support.backing import (
    REDIS_URL,
    delete_redis_prefix,
    require_postgres,
    require_redis,
    sqlalchemy_postgres_url,
)

FREE, PRO, ENTERPRISE = tenancy_pb2.TIER_FREE, tenancy_pb2.TIER_PRO, tenancy_pb2.TIER_ENTERPRISE


@dataclass
class Tenant:
    """A company with one user and that user's API key."""

    company_id: str
    user_id: str
    key_id: str
    api_key: str


@dataclass
class StorageMesh:
    """Storage and Billing servers sharing one backend, and clients to them."""

    backend: str
    config: MeshConfig
    storage: MeshServer
    billing: MeshServer
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    def _channel(self, server: MeshServer, key: str | None) -> grpc.aio.Channel:
        interceptors = api_key_interceptors(key) if key else []
        channel = grpc.aio.insecure_channel(server.address, interceptors=interceptors)
        self._channels.append(channel)
        return channel

    def storage_stub(self, key: str | None = None) -> storage_pb2_grpc.StorageServiceStub:
        """A Storage client presenting `key` (an API key or the operator key)."""
        return storage_pb2_grpc.StorageServiceStub(self._channel(self.storage, key))

    def billing_stub(self, key: str | None = None) -> billing_pb2_grpc.BillingServiceStub:
        return billing_pb2_grpc.BillingServiceStub(self._channel(self.billing, key))

    def service_stub(self, service: str = "billing") -> storage_pb2_grpc.StorageServiceStub:
        """A Storage client signed as another tickmesh service (a RelayedCaller)."""
        assert self.config.mesh_secret
        signer = ContextSigner(self.config.mesh_secret.encode())
        pairs = ((METADATA_KEY, signer.sign(relayed_caller(service, None))),)
        channel = grpc.aio.insecure_channel(
            self.storage.address, interceptors=metadata_interceptors(lambda: pairs)
        )
        self._channels.append(channel)
        return storage_pb2_grpc.StorageServiceStub(channel)

    @property
    def operator(self) -> storage_pb2_grpc.StorageServiceStub:
        assert self.config.admin_key
        return self.storage_stub(self.config.admin_key)

    async def tenant(self, tier: int = FREE, name: str = "Acme FX") -> Tenant:
        """Create a company as the operator; returns its owner and the owner's API key."""
        created = await self.operator.CreateCompany(
            storage_pb2.CreateCompanyRequest(
                name=name,
                tier=tier,
                owner_email=f"owner-{secrets.token_hex(4)}@example.com",
                owner_name="Owner",
            )
        )
        return Tenant(
            created.company.company_id,
            created.owner.user_id,
            created.owner_key.key_id,
            created.owner_key.api_key,
        )

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


def _config(backend: str, tmp: Path, tag: str) -> MeshConfig:
    env = {
        "TICKMESH_DATA_DIR": str(tmp),
        "TICKMESH_TLS_INSECURE": "true",
        "TICKMESH_MESH_SECRET": secrets.token_urlsafe(32),
        "TICKMESH_ADMIN_KEY": "op_" + secrets.token_urlsafe(24),
        "TICKMESH_LOG_FORMAT": "text",
    }
    if backend == "real":
        env |= {
            "TICKMESH_POSTGRES_URL": sqlalchemy_postgres_url(),
            "TICKMESH_POSTGRES_SCHEMA": f"tmsvc_{tag}",
            "TICKMESH_REDIS_URL": REDIS_URL,
            "TICKMESH_REDIS_PREFIX": f"tmtest:{tag}:",
        }
    return load_config(env=env)


@pytest_asyncio.fixture(params=["real", "embedded"])
async def storage_mesh(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StorageMesh]:
    """Storage on port 0, then Billing pointed at it; both stopped and cleaned up after."""
    backend = request.param
    if backend == "real":
        await require_postgres()
        await require_redis()
    tag = secrets.token_hex(4)
    config = _config(backend, tmp_path, tag)
    storage = await STORAGE.create(config, port=0)
    await storage.start()
    config = dataclasses.replace(config, storage_port=storage.port)
    billing = await BILLING.create(config, port=0)
    await billing.start()
    mesh = StorageMesh(backend, config, storage, billing)
    try:
        yield mesh
    finally:
        await mesh.close()
        await billing.stop()
        await mesh.storage.stop()  # the one running, should a test have restarted it
        await storage.stop()  # a no-op unless a test replaced it
        if backend == "real":
            stores = load_settings(StorageSettings, config, "storage")
            leftover = await open_store(
                stores.postgres_url, tmp_path, shared_schema=stores.postgres_schema,
                run_migrations=False,
            )  # fmt: skip
            await destroy_store(leftover)
            await delete_redis_prefix(config.redis_prefix)
