"""`tickmesh sidecar` as a real process in front of a whole mesh: apps with no credentials.

An unmodified grpcurl and the Node example talk plain gRPC to the sidecar without a
key and get exactly the tier of the sidecar's key (symbols, update interval, features
and the fields of every tick), as a direct subscription with that key gets it. Killing
the sidecar with SIGKILL mid-stream and starting it again on the same port, the Node
example's bounded retry resumes the stream.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from tickmesh.common.v1 import metrics_pb2, metrics_pb2_grpc

from mesh.tiers import Tier, limits
from mesh.wire import TICK_DELIVERY_FIELDS
from servers.bridge.projection import tier_fields
from tests.e2e.conftest import RunningMesh, free_ports, start_mesh
from tests.e2e.test_clients import client_command, demo_keys, summary_of
from tests.e2e.test_reflection_tools import GRPCURL, read_messages

pytestmark = pytest.mark.e2e

READY = "sidecar ready"
BRIDGE_SUBSCRIBE = "tickmesh.bridge.v1.BridgeService/Subscribe"
# EURJPY is a pro symbol: a free key's best-effort subscription leaves it out.
SYMBOLS = ["EURUSD", "GBPUSD", "EURJPY"]
WAIT_S = 60.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh(tmp_path_factory.mktemp("sidecar") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


@dataclass
class SidecarProcess:
    """A `tickmesh sidecar` process and what it printed."""

    process: subprocess.Popen[str]
    address: str
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    drainer: threading.Thread | None = None

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if READY in line:
                self.ready.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.drainer is not None:
            self.drainer.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def sidecars(mesh: RunningMesh, key_file: Path) -> Iterator[Any]:
    """A starter of sidecar processes (presenting the key in `key_file`); stops them all."""
    started: list[SidecarProcess] = []

    def start(port: int) -> SidecarProcess:
        address = f"127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "tickmesh"), "sidecar",
                "--listen", address, "--key-file", str(key_file), "--hub", mesh.address("hub"),
            ],
            env=mesh.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        sidecar = SidecarProcess(process, address)
        sidecar.drainer = threading.Thread(target=sidecar._drain, daemon=True)
        sidecar.drainer.start()
        started.append(sidecar)
        if not sidecar.ready.wait(WAIT_S):
            raise AssertionError("the sidecar never became ready:\n" + "".join(sidecar.output))
        return sidecar

    try:
        yield start
    finally:
        for sidecar in started:
            sidecar.stop()


def key_file_for(tmp_path: Path, key: str) -> Path:
    path = tmp_path / "api.key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    return path


def grpcurl_subscribe(address: str, key: str | None, batches: int) -> list[dict[str, Any]]:
    """Subscribe with grpcurl (plaintext; a key header only when given) until `batches`
    tick batches arrived; every message, as grpcurl printed it."""
    header = ["-H", f"authorization: Bearer {key}"] if key else []
    request = json.dumps({"symbols": SYMBOLS, "options": {"best_effort": True}})
    command = [str(GRPCURL), "-plaintext", "-max-time", "60", *header, "-d", request, address,
               BRIDGE_SUBSCRIBE]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    messages: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        for message in read_messages(process.stdout):
            messages.append(message)
            if sum("batch" in m for m in messages) >= batches:
                break
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert sum("batch" in m for m in messages) >= batches, f"{messages}\n{stderr}"
    return messages


def tier_view(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What a subscription shows of its tier: the ack's terms, the symbols and the fields
    of the ticks received."""
    ack = messages[0]["ack"]
    ticks = [t for m in messages if "batch" in m for t in m["batch"]["ticks"]]
    return {
        "tier": ack["tier"],
        "symbols": sorted(ack["symbols"]),
        "refused": sorted(r["symbol"] for r in ack.get("refused", [])),
        "update_interval_ms": ack["update_interval_ms"],
        "features": sorted(ack.get("features", [])),
        "tick_symbols": {t["symbol"] for t in ticks},
        "tick_fields": set().union(*(t.keys() for t in ticks)),
    }


@pytest.mark.parametrize("tier", [Tier.FREE, Tier.ENTERPRISE])
def test_grpcurl_without_a_key_gets_the_keys_tier(
    mesh: RunningMesh, tmp_path: Path, tier: Tier
) -> None:
    key = demo_keys(mesh.log())[tier.value]
    direct = tier_view(grpcurl_subscribe(mesh.address("bridge"), key, batches=2))
    with sidecars(mesh, key_file_for(tmp_path, key)) as start:
        sidecar = start(free_ports(1)[0])
        via = tier_view(grpcurl_subscribe(sidecar.address, None, batches=2))
        # The key never shows in what the sidecar prints.
        assert key not in "".join(sidecar.output)

    terms = limits(tier)
    granted = sorted(s for s in SYMBOLS if terms.allows_symbol(s))
    assert via["tier"] == direct["tier"] == f"TIER_{tier.value.upper()}"
    assert via["symbols"] == direct["symbols"] == granted
    assert via["refused"] == direct["refused"] == sorted(set(SYMBOLS) - set(granted))
    assert via["update_interval_ms"] == direct["update_interval_ms"] == terms.update_interval_ms
    assert via["features"] == direct["features"]
    assert via["tick_symbols"] <= set(granted)
    # Only the tier's fields, and (ticks permitting) the same ones as the direct stream.
    # Beside the tier's fields, a held update says when it was released (a delivery field).
    assert via["tick_fields"] - TICK_DELIVERY_FIELDS <= tier_fields(tier)
    assert {"symbol", "bid", "ask"} <= via["tick_fields"]


def test_grpcurl_lists_and_describes_the_mesh_through_the_sidecar(
    mesh: RunningMesh, tmp_path: Path
) -> None:
    key = demo_keys(mesh.log())["pro"]
    with sidecars(mesh, key_file_for(tmp_path, key)) as start:
        address = start(free_ports(1)[0]).address
        listed = _run([str(GRPCURL), "-plaintext", address, "list"]).split()
        assert {
            "tickmesh.bridge.v1.BridgeService",
            "tickmesh.billing.v1.BillingService",
            "tickmesh.storage.v1.StorageService",
            "tickmesh.hub.v1.HubService",
            "grpc.health.v1.Health",
        } <= set(listed)
        # The service, not the method: Python servers' reflection resolves no method symbols.
        described = _run(
            [str(GRPCURL), "-plaintext", address, "describe", "tickmesh.bridge.v1.BridgeService"]
        )
        assert "rpc Subscribe" in described
        # A unary call with no key, answered for the sidecar's key.
        out = _run([str(GRPCURL), "-plaintext", "-d", "{}", address,
                    "tickmesh.storage.v1.StorageService/GetSubscription"])  # fmt: skip
        assert json.loads(out)["subscription"]["tier"] == "TIER_PRO"
        health = _run([str(GRPCURL), "-plaintext", address, "grpc.health.v1.Health/Check"])
        assert json.loads(health)["status"] == "SERVING"


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def node_via(address: str, *args: str) -> list[str]:
    return [*client_command("node"), "--target", address, "--billing", address,
            "--bridge", address, *args]  # fmt: skip


@pytest.mark.parametrize("tier", [Tier.FREE, Tier.PRO])
def test_the_node_example_without_a_key_gets_the_keys_tier(
    mesh: RunningMesh, tmp_path: Path, tier: Tier
) -> None:
    key = demo_keys(mesh.log())[tier.value]
    with sidecars(mesh, key_file_for(tmp_path, key)) as start:
        sidecar = start(free_ports(1)[0])
        result = subprocess.run(
            node_via(sidecar.address, "--symbols", ",".join(SYMBOLS), "--best-effort",
                     "--messages", "2", "--timeout", "30"),
            capture_output=True, text=True, timeout=WAIT_S,
        )  # fmt: skip
    summary = summary_of(result)
    terms = limits(tier)
    granted = sorted(s for s in SYMBOLS if terms.allows_symbol(s))
    assert summary["tier"] == summary["ack_tier"] == f"TIER_{tier.value.upper()}"
    assert sorted(summary["granted"]) == granted
    assert sorted(summary["refused"]) == sorted(set(SYMBOLS) - set(granted))
    assert summary["batches"] == 2
    assert set(summary["symbols"]) <= set(granted)


def relayed_messages(address: str) -> float:
    """Response messages the sidecar at `address` has relayed (its own metrics)."""
    with grpc.insecure_channel(address) as channel:
        reply = metrics_pb2_grpc.BusinessMetricsServiceStub(channel).GetBusinessMetrics(
            metrics_pb2.GetBusinessMetricsRequest(), timeout=5
        )
    return reply.gauges["sidecar.messages_relayed"]


def wait_for(condition: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    """Poll `condition` until true; fail after `within_s`. (Not asyncio.run(eventually(...)):
    it would leave this thread without the event loop later sync fixtures get for grpc.aio.)"""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:g} s waiting for {what}")
        time.sleep(0.05)


def test_killing_the_sidecar_mid_stream_the_apps_retry_resumes(
    mesh: RunningMesh, tmp_path: Path
) -> None:
    key = demo_keys(mesh.log())["enterprise"]
    port = free_ports(1)[0]
    with sidecars(mesh, key_file_for(tmp_path, key)) as start:
        first = start(port)
        # Enough batches that the stream is still running when the sidecar dies.
        app = subprocess.Popen(
            node_via(first.address, "--symbols", "EURUSD", "--messages", "400",
                     "--retries", "10", "--timeout", "50"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # Mid-stream: the sidecar has relayed the ack and some batches.
            wait_for(lambda: relayed_messages(first.address) >= 5, "the stream to flow")
            assert app.poll() is None, "the app finished before the sidecar was killed"
            first.process.kill()
            first.process.wait()
            start(port)
            stdout, stderr = app.communicate(timeout=WAIT_S)
        finally:
            if app.poll() is None:
                app.kill()
                app.communicate()
    result = subprocess.CompletedProcess(app.args, app.returncode, stdout, stderr)
    summary = summary_of(result)
    assert summary["retries"] >= 1, stderr
    assert "UNAVAILABLE" in stderr
    assert summary["batches"] == 400
    assert summary["gaps"] == 0  # resumed after its last sequence, nothing lost
    assert summary["symbols"] == ["EURUSD"]
