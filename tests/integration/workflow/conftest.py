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
from mesh.config import MeshConfig
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
    config: MeshConfig
    temporal: TemporalSettings

    async def restart(self) -> None:
        """Stop the Workflow service and start another on the same task queue."""
        await self.channel.close()
        await self.server.stop()
        self.server = await start_workflow_server(self.config, self.temporal)
        assert self.config.admin_key
        self.channel = grpc.aio.insecure_channel(
            self.server.address, interceptors=api_key_interceptors(self.config.admin_key)
        )

    @property
    def lifecycle(self) -> lifecycle_pb2_grpc.LifecycleServiceStub:
        """The LifecycleService as the operator."""
        return lifecycle_pb2_grpc.LifecycleServiceStub(self.channel)


FAST = WorkflowSettings(
    test_clock=True,
    webhook_poll_seconds=0.05,
    webhook_retry_seconds=0.2,
    webhook_retry_max_seconds=1.0,
    webhook_timeout_seconds=5.0,
)
"""The test clock on, and webhooks dispatched and retried in fractions of a second."""


async def start_workflow_server(config: MeshConfig, temporal: TemporalSettings) -> MeshServer:
    server = await workflow_spec(temporal).create(config, port=0, settings=FAST)
    await asyncio.wait_for(server.start(), WAIT_S)
    return server


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
    server = await start_workflow_server(config, temporal)
    assert config.admin_key
    channel = grpc.aio.insecure_channel(
        server.address, interceptors=api_key_interceptors(config.admin_key)
    )
    mesh = WorkflowMesh(storage_mesh, server, queue, channel, config, temporal)
    try:
        yield mesh
    finally:
        await mesh.channel.close()
        await mesh.server.stop()
