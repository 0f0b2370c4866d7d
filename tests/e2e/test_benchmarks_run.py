"""Every benchmark in bench/ still runs, at a tiny size, and prints its figures.

Benchmarks are run by hand, so nothing else notices when one stops working: when TLS
became the default, eight of them failed at start-up on a missing CA for sessions, and
Ingestion's StreamTicks-from-the-aggregator figure read 0 ticks/s. These runs assert no
figure's value (a test never asserts a wall-clock time), only that each benchmark ends
cleanly and measured something real.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RUNS = {
    "bench_billing_e2e": (["--batches", "2", "--batch", "500", "--companies", "10"],
                          r"RecordUsage over gRPC into chDB: [\d,]+ events"),
    "bench_chains": (["--runs", "3"], r"as a chain step: p50 +[\d.]+ ms"),
    "bench_ingestion": (["--seconds", "1"], r"aggregator at full speed: produced [\d,]+ ticks/s"),
    "bench_month_end": (["--companies", "5"], r"workflow / direct: +[\d.]+x"),
    "bench_telemetry": (["--seconds", "0.5", "--rounds", "1"], r"telemetry on, ratio"),
    "bench_tenancy": (["--calls", "50", "--tenants", "5"], r"warm key: auth \+ quota +p50"),
    "bench_router": (["--calls", "50", "--messages", "200"], r"router adds: p50"),
    "bench_sidecar": (["--calls", "50", "--messages", "200"], r"sidecar adds: p50"),
    "bench_fanout": (["--subscribers", "10", "--window", "1"],
                     r"Bridge / bare CPU per message: [\d.]+x"),
    "bench_history": (["--ticks", "20000"], r"GetBars over gRPC, one day of 1 m bars: \d+ bars"),
}  # fmt: skip


@pytest.mark.parametrize("bench", sorted(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(bench: str) -> None:
    args, figure = RUNS[bench]
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / f"{bench}.py"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{bench} exited {result.returncode}:\n{output[-3000:]}"
    assert re.search(figure, result.stdout), f"{bench} printed no {figure!r}:\n{output[-3000:]}"
    # A stream that delivered nothing is a broken benchmark, not a slow one.
    for delivered in re.findall(r"delivered ([\d,]+) ticks/s", result.stdout):
        assert int(delivered.replace(",", "")) > 0, result.stdout
