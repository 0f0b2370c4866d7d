"""The copyable clients in other languages, run as a user would against a real mesh.

clients/node/example.js (@grpc/grpc-js) and clients/betterproto/example.py (betterproto2)
are started as subprocesses with a demo tenant's key from `tickmesh up`'s output; each
prints one JSON summary line, which is what these tests check.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningMesh, start_mesh

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "clients" / "node"
BETTERPROTO_DIR = REPO / "clients" / "betterproto"
# `tickmesh up` prints e.g. "  free       company 3f2a...  key tm_<id>_<secret>".
DEMO_KEY_LINE = re.compile(r"^\s+(free|pro|enterprise)\s+company\s+\S+\s+key\s+(tm_\S+)\s*$", re.M)
PRICES = {"TIER_FREE": "0", "TIER_PRO": "9900", "TIER_ENTERPRISE": "49900"}
CLIENTS = ("node", "betterproto")
BATCHES = 2  # enough to see the stream flow; free gets one EURUSD update a second
RESOURCE_EXHAUSTED = 8


def demo_keys(log: str) -> dict[str, str]:
    """Tier -> API key of the demo tenants `tickmesh up` printed."""
    keys = dict(DEMO_KEY_LINE.findall(log))
    assert set(keys) == {"free", "pro", "enterprise"}, f"no demo keys in the output:\n{log}"
    return keys


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    """One mesh for the module: the clients only read, so the tests can share it."""
    running = start_mesh(tmp_path_factory.mktemp("clients") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


def client_command(client: str) -> list[str]:
    """The command that runs one example, failing clearly when it is not installed."""
    if client == "node":
        node = shutil.which("node")
        assert node, "node is not installed (Node 20+ is needed for clients/node)"
        assert (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir(), (
            "clients/node/node_modules is missing: run `make install`"
        )
        return [node, str(NODE_DIR / "example.js")]
    try:
        import betterproto2  # noqa: F401  (only to check the extra is installed)
    except ImportError:
        pytest.fail("betterproto2 is missing: run `make install` (the dev extra includes it)")
    return [sys.executable, str(BETTERPROTO_DIR / "example.py")]


def run_client(client: str, *args: str, budget_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run an example to completion (bounded), retrying only a busy stream slot.

    A free tenant has one concurrent stream. The previous example's stream is
    released by the Bridge moments after that client cancels it, so a refusal
    for exactly that reason is retried until the budget runs out.
    """
    deadline = time.monotonic() + budget_s
    while True:
        result = subprocess.run(
            [*client_command(client), *args],
            capture_output=True,
            text=True,
            timeout=budget_s,
        )
        busy = result.returncode == RESOURCE_EXHAUSTED and "concurrent stream" in result.stderr
        if not busy or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary (the last stdout line) of a successful run."""
    assert result.returncode == 0, (
        f"{result.args} exited {result.returncode}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("tier", ["free", "enterprise"])
def test_unary_calls_report_the_tier_and_catalog(mesh: RunningMesh, client: str, tier: str) -> None:
    key = demo_keys(mesh.log())[tier]
    summary = summary_of(
        run_client(
            client,
            *("--target", mesh.address("storage"), "--key", key),
            *("--billing", mesh.address("billing")),
        )
    )
    assert summary == {"tier": f"TIER_{tier.upper()}", "catalog": PRICES}


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("tier", "granted", "refused"),
    [("free", ["EURUSD"], ["EURJPY"]), ("enterprise", ["EURUSD", "EURJPY"], [])],
)
def test_subscribe_streams_what_the_tier_allows(
    mesh: RunningMesh, client: str, tier: str, granted: list[str], refused: list[str]
) -> None:
    key = demo_keys(mesh.log())[tier]
    summary = summary_of(
        run_client(
            client,
            *("--target", mesh.address("storage"), "--key", key),
            *("--billing", mesh.address("billing"), "--bridge", mesh.address("bridge")),
            # EURJPY is not in the free tier: best effort leaves it out instead of refusing.
            *("--symbols", "EURUSD,EURJPY", "--best-effort"),
            *("--messages", str(BATCHES), "--timeout", "30"),
        )
    )
    assert summary["tier"] == summary["ack_tier"] == f"TIER_{tier.upper()}"
    assert summary["catalog"] == PRICES
    assert summary["ack"] is True
    assert sorted(summary["granted"]) == sorted(granted)
    assert summary["refused"] == refused
    assert summary["batches"] == BATCHES
    assert summary["ticks"] >= BATCHES, summary
    assert summary["symbols"], summary
    assert set(summary["symbols"]) <= set(granted), summary
    assert int(summary["last_seq"]) > 0


@pytest.mark.parametrize("client", CLIENTS)
def test_a_bad_key_exits_with_the_status_code(mesh: RunningMesh, client: str) -> None:
    result = run_client(client, "--target", mesh.address("storage"), "--key", "tm_nope_nope")
    assert result.returncode == 16, result.stdout + result.stderr  # UNAUTHENTICATED
    assert "UNAUTHENTICATED" in result.stderr
