"""Benchmark: what the console costs the mesh. CPU of every process `tickmesh up` runs
(services, shared store, Temporal, the console) while three demo subscribers stream
(one per tier), with no console page open against the operator page's live chart open
in Chromium (it samples the mesh every second over server-sent events).

Usage: .venv/bin/python bench/bench_console.py [--seconds 20] [--rounds 2]

One mesh on embedded defaults and free loopback ports, started as the e2e tests start
it (tests/e2e/conftest.py). The browser's own CPU is not counted: it is the viewer's.
Rounds alternate closed / open so that drift of a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.demo import DEMO_SYMBOLS
from tests.e2e.conftest import mesh_up
from tests.e2e.console_browser import VIEWPORT, launch_chromium

DEMO_LINE = re.compile(r"^\s+(free|pro|enterprise)\s+company\s+\S+\s+key\s+(tm_\S+)\s*$", re.M)
CONSOLE_LINE = re.compile(r"^\s+console\s+(http://127\.0\.0\.1:\d+/)", re.M)


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU (user + system) so far of the launcher's process tree, by process name."""
    out: dict[str, float] = {}
    launcher = psutil.Process(root)
    for proc in [launcher, *launcher.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            cmd = proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        name = "console" if cmd[-1:] == ["console"] else "mesh"
        out[name] = out.get(name, 0.0) + times.user + times.system
    return out


def measure(root: int, seconds: float) -> dict[str, float]:
    """Cores used per process group over `seconds` of wall time."""
    before, start = cpu_seconds(root), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    after, elapsed = cpu_seconds(root), time.monotonic() - start
    return {k: (after.get(k, 0.0) - before.get(k, 0.0)) / elapsed for k in after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, mesh_up(Path(tmp) / "data") as mesh:
        log = mesh.log()
        keys = DEMO_LINE.findall(log)
        match = CONSOLE_LINE.search(log)
        assert keys and match, log
        url = match.group(1)
        tickmesh = str(Path(sys.executable).parent / "tickmesh")
        subscribers = [
            subprocess.Popen(
                [
                    tickmesh,
                    "subscribe",
                    "--target",
                    mesh.address("bridge"),
                    "--best-effort",
                    "--key",
                    key,
                    "--symbols",
                    *DEMO_SYMBOLS.split(),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=mesh.env,
            )
            for _, key in keys
        ]
        operator_key = (mesh.data_dir / "operator.key").read_text().strip()
        results: dict[str, list[dict[str, float]]] = {"closed": [], "open": []}
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                measure(mesh.process.pid, 5.0)  # warm-up: subscribers connect
                for _ in range(args.rounds):
                    results["closed"].append(measure(mesh.process.pid, args.seconds))
                    page = browser.new_context(viewport=VIEWPORT, base_url=url).new_page()
                    page.goto("/login")
                    page.fill("input[name=key]", operator_key)
                    page.click("button[type=submit]")
                    page.wait_for_selector("#rates tr")
                    results["open"].append(measure(mesh.process.pid, args.seconds))
                    page.context.close()
                browser.close()
        finally:
            for sub in subscribers:
                sub.kill()
                sub.wait()
    print(f"{args.rounds} rounds of {args.seconds:.0f} s each; cores used (1.00 = one core)")
    print("| console | mesh (services, store, Temporal) | console process | total |")
    print("|---|---|---|---|")
    for state, rows in results.items():
        mesh_cpu = sum(r.get("mesh", 0.0) for r in rows) / len(rows)
        console_cpu = sum(r.get("console", 0.0) for r in rows) / len(rows)
        print(f"| {state} | {mesh_cpu:.3f} | {console_cpu:.3f} | {mesh_cpu + console_cpu:.3f} |")


if __name__ == "__main__":
    main()
