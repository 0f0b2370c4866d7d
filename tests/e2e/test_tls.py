"""The whole mesh on TLS, as users get it by default: `tickmesh up` with no --insecure.

Covers: services reach each other with their certificates (the demo tenants are created
and a subscription authenticates through Storage); a call claiming to be a service is
refused with none or with another service's certificate; a client trusting another CA
fails with a message naming the fix; grpcurl and `buf curl` work with the printed CA; a
certificate rotated on disk is served on new connections without a restart.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tickmesh.storage.v1 import storage_pb2, storage_pb2_grpc

from clients.subscriber import Ack, subscribe
from mesh.certs import CertsDir
from mesh.peer_identity import ServiceProver
from mesh.tenancy.authenticator import relayed_caller
from mesh.tenancy.signing import METADATA_KEY, ContextSigner
from tests.e2e.conftest import RunningMesh, start_mesh
from tests.e2e.test_clients import CLIENTS, demo_keys, run_client, summary_of
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GRPCURL = REPO / ".venv" / "bin" / "grpcurl"
BUF = REPO / "node_modules" / ".bin" / "buf"
SECRET = "tls-e2e-" + os.urandom(16).hex()
SERVICES = ("hub", "ingestion", "bridge", "storage", "billing", "workflow")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    env = {"TICKMESH_TLS_INSECURE": "false", "TICKMESH_MESH_SECRET": SECRET}
    running = start_mesh(tmp_path_factory.mktemp("tls") / "data", env)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


def certs(mesh: RunningMesh) -> CertsDir:
    return CertsDir(mesh.data_dir / "certs")


def tls_channel(mesh: RunningMesh, service: str) -> grpc.aio.Channel:
    ca = certs(mesh).ca.read_bytes()
    return grpc.aio.secure_channel(mesh.address(service), grpc.ssl_channel_credentials(ca))


def test_up_creates_the_certificates_and_prints_the_ca(mesh: RunningMesh) -> None:
    assert f"clients trust the CA {certs(mesh).ca}" in mesh.log()
    for name in (*SERVICES, "client"):
        assert (certs(mesh).leaf(name).key.stat().st_mode & 0o777) == 0o600


async def test_every_service_serves_tls_only(mesh: RunningMesh) -> None:
    for service in SERVICES:
        async with tls_channel(mesh, service) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    async with grpc.aio.insecure_channel(mesh.address("bridge")) as plain:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await health_pb2_grpc.HealthStub(plain).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_subscription_authenticates_across_the_mesh(mesh: RunningMesh) -> None:
    # The Bridge resolves the key through Storage: a service-to-service call over TLS,
    # accepted only with the Bridge's own certificate.
    key = demo_keys(mesh.log())["pro"]
    events = subscribe(mesh.address("bridge"), key, ["EURUSD"], ca=certs(mesh).ca)
    try:
        first = await asyncio.wait_for(anext(events), 30)
    finally:
        await events.aclose()
    assert isinstance(first, Ack)


def _service_claim(service: str) -> bytes:
    return ContextSigner(SECRET.encode(), ttl_s=30).sign(relayed_caller(service, None))


async def _authenticate_as(
    mesh: RunningMesh, claimed: str, cert_of: str | None
) -> grpc.aio.AioRpcError | None:
    envelope = _service_claim(claimed)
    metadata: list[tuple[str, str | bytes]] = [(METADATA_KEY, envelope)]
    if cert_of is not None:
        metadata += ServiceProver(certs(mesh).leaf(cert_of)).pairs(envelope)
    key = demo_keys(mesh.log())["free"]
    async with tls_channel(mesh, "storage") as channel:
        try:
            await storage_pb2_grpc.StorageServiceStub(channel).AuthenticateKey(
                storage_pb2.AuthenticateKeyRequest(api_key=key), metadata=metadata, timeout=10
            )
        except grpc.aio.AioRpcError as err:
            return err
    return None


async def test_a_service_claim_with_its_own_certificate_is_accepted(mesh: RunningMesh) -> None:
    assert await _authenticate_as(mesh, "bridge", "bridge") is None


async def test_a_service_claim_without_a_certificate_is_refused(mesh: RunningMesh) -> None:
    err = await _authenticate_as(mesh, "bridge", None)
    assert err is not None and err.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "presented no mesh certificate" in (err.details() or "")


async def test_a_service_claim_with_another_services_certificate_is_refused(
    mesh: RunningMesh,
) -> None:
    err = await _authenticate_as(mesh, "bridge", "hub")
    assert err is not None and err.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "presented the certificate of 'hub'" in (err.details() or "")


def test_a_client_without_the_ca_is_told_the_fix(mesh: RunningMesh, tmp_path: Path) -> None:
    foreign = CertsDir(tmp_path / "foreign")
    foreign.ensure()
    key = demo_keys(mesh.log())["free"]
    result = subprocess.run(
        [sys.executable, "-m", "tickmesh_cli.main", "subscribe", "--key", key,
         "--symbols", "EURUSD", "--duration", "4", "--ca", str(foreign.ca)],
        env=mesh.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "server certificate not trusted: pass --ca" in result.stderr, result.stderr


def test_grpcurl_and_buf_curl_work_with_the_printed_ca(mesh: RunningMesh) -> None:
    ca = str(certs(mesh).ca)
    listed = subprocess.run(
        [str(GRPCURL), "-cacert", ca, mesh.address("billing"), "list"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "tickmesh.billing.v1.BillingService" in listed.stdout, listed.stderr
    catalog = subprocess.run(
        [str(BUF), "curl", "--protocol", "grpc", "--cacert", ca,
         f"https://{mesh.address('billing')}/tickmesh.billing.v1.BillingService/GetTierCatalog"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "TIER_ENTERPRISE" in catalog.stdout, catalog.stderr


@pytest.mark.parametrize("client", CLIENTS)
def test_the_node_and_betterproto_examples_work_with_the_ca(mesh: RunningMesh, client: str) -> None:
    key = demo_keys(mesh.log())["enterprise"]
    summary = summary_of(
        run_client(
            client,
            *("--target", mesh.address("storage"), "--key", key, "--ca", str(certs(mesh).ca)),
            *("--bridge", mesh.address("bridge"), "--messages", "1"),
        )
    )
    assert summary["tier"] == "TIER_ENTERPRISE" and summary["ticks"] > 0


def _served_certificate(address: str, ca: Path) -> bytes:
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


async def test_a_rotated_certificate_is_served_without_a_restart(mesh: RunningMesh) -> None:
    ca = certs(mesh).ca
    pids = mesh.child_pids()
    before = _served_certificate(mesh.address("bridge"), ca)
    rotated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tickmesh_cli.main", "certs", "rotate"],
        env=mesh.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    on_disk = x509.load_pem_x509_certificate(certs(mesh).leaf("bridge").cert.read_bytes())
    new = on_disk.public_bytes(serialization.Encoding.DER)
    assert new != before
    await eventually(
        lambda: _served_certificate(mesh.address("bridge"), ca) == new,
        "the Bridge serves its rotated certificate",
    )
    assert mesh.child_pids() == pids  # no restart
    # Services now prove their identity with the new certificates, and are accepted.
    assert await _authenticate_as(mesh, "bridge", "bridge") is None
    await test_a_subscription_authenticates_across_the_mesh(mesh)


def test_tickmesh_bars_trusts_the_ca_it_is_given(mesh: RunningMesh, tmp_path: Path) -> None:
    key = demo_keys(mesh.log())["free"]
    foreign = CertsDir(tmp_path / "foreign")
    foreign.ensure()
    runs = {}
    for name, ca in (("mesh", certs(mesh).ca), ("foreign", foreign.ca)):
        runs[name] = subprocess.run(
            [sys.executable, "-m", "tickmesh_cli.main", "bars", "--key", key,
             "--symbol", "EURUSD", "--since", "5m", "--ca", str(ca)],
            env=mesh.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert runs["mesh"].returncode == 0, runs["mesh"].stdout + runs["mesh"].stderr
    assert runs["mesh"].stdout.startswith("EURUSD 1m: "), runs["mesh"].stdout
    assert runs["foreign"].returncode == 1
    assert "certificate" in runs["foreign"].stdout + runs["foreign"].stderr, runs["foreign"]
