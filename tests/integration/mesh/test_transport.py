"""TLS between mesh processes: a registered instance is verified as its service, whatever
address it registered (a pod IP no certificate names)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mesh.certs import CertsDir
from mesh.channel_pool import ChannelFactory
from mesh.config import MeshConfig
from mesh.sidecar.upstream import open_upstream_channel
from mesh.transport import add_port, aio_channel
from servers.hub.channels import channel_factory

# Loopback, but not in any leaf (they name localhost and 127.0.0.1): the stand-in for
# the pod IP an instance registers in Kubernetes.
UNNAMED_HOST = "127.0.0.2"


@pytest.fixture
def config(tmp_path: Path) -> MeshConfig:
    CertsDir(tmp_path / "certs").ensure()
    return MeshConfig(data_dir=tmp_path, tls_insecure=False)


@pytest.fixture
async def bridge_address(config: MeshConfig) -> AsyncIterator[str]:
    """A server with the Bridge's certificate, listening on the unnamed host."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = add_port(server, f"{UNNAMED_HOST}:0", config, "bridge")
    await server.start()
    try:
        yield f"{UNNAMED_HOST}:{port}"
    finally:
        await server.stop(None)


async def check(channel: grpc.aio.Channel) -> grpc.StatusCode:
    async with channel:
        try:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        except grpc.aio.AioRpcError as err:
            return err.code()
        return grpc.StatusCode.OK


async def test_an_instance_is_verified_as_its_service_not_its_address(
    config: MeshConfig, bridge_address: str
) -> None:
    # By its address, the handshake fails: the certificate does not name 127.0.0.2.
    assert await check(aio_channel(bridge_address, config)) == grpc.StatusCode.UNAVAILABLE
    assert await check(aio_channel(bridge_address, config, service="bridge")) == grpc.StatusCode.OK
    # Still verified: another service's name is not the Bridge's certificate.
    wrong = aio_channel(bridge_address, config, service="storage")
    assert await check(wrong) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("proxy", ["hub", "sidecar"])
async def test_the_proxies_reach_an_instance_at_an_address_no_certificate_names(
    config: MeshConfig, bridge_address: str, proxy: str
) -> None:
    # What the Hub's health checks, metrics and proxy, and the sidecar, open to instances.
    factory: ChannelFactory = (
        channel_factory(config)
        if proxy == "hub"
        else lambda address, service: open_upstream_channel(address, service, config)
    )
    assert await check(factory(bridge_address, "bridge")) == grpc.StatusCode.OK
