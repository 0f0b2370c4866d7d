"""A Workflow service on the session's Temporal, over a real Storage + Billing pair."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest_asyncio
from tickmesh.workflow.v1 import lifecycle_pb2_grpc

from mesh.client_interceptors import api_key_interceptors
from mesh.server import MeshServer
from mesh.temporal_server import TemporalServer, TemporalSettings
from servers.workflow.app import workflow_spec
from servers.workflow.settings import WorkflowSettings
from tests.integration.storage_service.conftest import (  # noqa: F401 - the fixture, reused
    StorageMesh,
    storage_mesh,
)

WAIT_S = 60.0


@dataclass
class WorkflowMesh:
    """Storage, Billing and a Workflow service with the test clock on."""

    mesh: StorageMesh
    server: MeshServer
    task_queue: str
    channel: grpc.aio.Channel

    @property
    def lifecycle(self) -> lifecycle_pb2_grpc.LifecycleServiceStub:
        """The LifecycleService as the operator."""
        return lifecycle_pb2_grpc.LifecycleServiceStub(self.channel)


@pytest_asyncio.fixture
async def workflow_mesh(
    storage_mesh: StorageMesh,  # noqa: F811 - the fixture
    temporal_dev: TemporalServer,
) -> AsyncIterator[WorkflowMesh]:
    """The storage_mesh plus a Workflow service on its own task queue, test clock on."""
    config = dataclasses.replace(
        storage_mesh.config,
        storage_port=storage_mesh.storage.port,
        billing_port=storage_mesh.billing.port,
    )
    queue = f"test-{secrets.token_hex(4)}"
    temporal = TemporalSettings(address=temporal_dev.address, task_queue=queue)
    server = await workflow_spec(temporal).create(
        config, port=0, settings=WorkflowSettings(test_clock=True)
    )
    await asyncio.wait_for(server.start(), WAIT_S)
    assert config.admin_key
    channel = grpc.aio.insecure_channel(
        server.address, interceptors=api_key_interceptors(config.admin_key)
    )
    try:
        yield WorkflowMesh(storage_mesh, server, queue, channel)
    finally:
        await channel.close()
        await server.stop()
