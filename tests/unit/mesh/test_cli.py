"""`tickmesh status` lines (health, restarts from the launcher's state file, the shared Redis)
and the `tickmesh brokers` table."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tickmesh.billing.v1 import billing_pb2
from tickmesh.common.v1 import money_pb2, tenancy_pb2

from mesh.cli import (
    StoreStatus,
    format_broker_report,
    format_status,
    store_status,
    tickmesh_command,
)
from mesh.config import load_config

ROWS = [("hub", "127.0.0.1:50051", "SERVING"), ("storage", "127.0.0.1:50054", "UNREACHABLE")]


def test_status_shows_restarts_and_the_last_exit() -> None:
    state = {
        "services": {
            "hub": {"restarts": 0, "last_exit": None},
            "storage": {"restarts": 1, "last_exit": "killed by SIGKILL"},
        }
    }
    assert format_status(ROWS, state) == [
        "service    address                health       restarts",
        "hub        127.0.0.1:50051        SERVING      0",
        "storage    127.0.0.1:50054        UNREACHABLE  1  (last: killed by SIGKILL)",
    ]


def test_without_a_launcher_restarts_are_unknown() -> None:
    assert [line.split()[-1] for line in format_status(ROWS, None)[1:]] == ["-", "-"]


def test_the_shared_store_row() -> None:
    store = StoreStatus(
        "127.0.0.1:40161",
        True,
        "shared store: redis-server, files in .tickmesh/redis",
        "1",
        "killed by SIGKILL",
    )
    assert store.line() == (
        "redis      127.0.0.1:40161        REACHABLE    1  (shared store: redis-server, "
        "files in .tickmesh/redis, last: killed by SIGKILL)"
    )


async def test_a_configured_redis_is_shown_without_its_password() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = load_config(env={"TICKMESH_REDIS_URL": f"redis://:s3cret@127.0.0.1:{port}/0"})
    store = await store_status(config, {"store": {"address": "ignored"}})
    assert store is not None
    assert (store.address, store.reachable, store.origin) == (
        f"127.0.0.1:{port}",
        False,
        "TICKMESH_REDIS_URL",
    )
    assert "s3cret" not in store.line()


async def test_no_store_row_without_a_launcher_or_a_url() -> None:
    assert await store_status(load_config(env={}), None) is None


def test_banner_commands_use_a_path_that_works_in_a_fresh_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / ".venv" / "bin" / "tickmesh"
    script.parent.mkdir(parents=True)
    script.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # a fresh shell: .venv/bin not on it
    assert tickmesh_command(str(script)) == ".venv/bin/tickmesh"
    monkeypatch.setenv("PATH", str(script.parent))  # an activated venv
    script.chmod(0o755)
    assert tickmesh_command(str(script)) == "tickmesh"
    assert tickmesh_command("/usr/lib/python3/mesh/cli.py") == ".venv/bin/tickmesh"


def test_the_broker_report_is_a_table_then_the_reasons() -> None:
    def usd(cents: int) -> money_pb2.Money:
        return money_pb2.Money(currency="USD", minor_units=cents)

    reply = billing_pb2.BrokerReportResponse(
        billing_period="2026-12",
        total_cost=usd(140_000),
        brokers=[
            billing_pb2.BrokerAnalysis(
                broker="fxcm", monthly_cost=usd(70_000), uptime_percent="70.0000",
                completeness_percent="69.5000", latency_mean_us=12_300, latency_p99_us=30_000,
                outliers_rejected=4,
                best_prices=[
                    billing_pb2.BestPriceShare(
                        tier=tenancy_pb2.TIER_FREE, won=7, total=10, share_percent="70.0000"
                    )
                ],
                cost_per_tenant=[
                    billing_pb2.TenantCost(company_id=c, cost=usd(cents))
                    for c, cents in (("a", 23_334), ("b", 23_333), ("c", 23_333))
                ],
                unallocated=usd(0), recommendation="drop",
                reasons=["uptime 70.0000 % is below even the free tier's 99 %"],
            ),
            billing_pb2.BrokerAnalysis(
                broker="pepperstone", monthly_cost=usd(70_000), unallocated=usd(70_000),
                recommendation="review", reasons=["not sampled in the period"],
            ),
        ],
    )  # fmt: skip
    lines = format_broker_report(reply)
    assert lines[0] == "broker report 2026-12 (best prices: F free, P pro, E enterprise)"
    assert lines[1].split()[:3] == ["broker", "cost/month", "uptime"]
    assert lines[2].split() == [
        "fxcm", "$700.00", "70.0000", "69.5000", "12.3", "30.0", "4", "F:70.0000%",
        "3", "x", "$233.33-233.34", "DROP",
    ]  # fmt: skip
    assert "- (unallocated $700.00)" in lines[3] and lines[3].endswith("REVIEW")
    assert lines[4:] == [
        "total configured cost: $1,400.00 a month",
        "fxcm: drop: uptime 70.0000 % is below even the free tier's 99 %",
        "pepperstone: review: not sampled in the period",
    ]
