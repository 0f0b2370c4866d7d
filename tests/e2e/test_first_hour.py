"""Issue 15, the first hour: what a new user pastes from `tickmesh up` works, and every
error names its fix. Each command runs as a user runs it: a subprocess in a shell whose
PATH does not hold .venv/bin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningMesh, free_ports, start_mesh
from tests.e2e.test_clients import demo_keys

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)
WATCH_S = 10  # the rate is judged over 10 s, as the issue asks
PROMISED_RATE = {"free": 1.0, "pro": 10.0}  # 1000 / update_interval_ms


def fresh_shell_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with .venv/bin taken off PATH, as in a new terminal."""
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != VENV_BIN]
    return {**env, "PATH": os.pathsep.join(path)}


def sh(
    command: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """`command` in bash from the checkout's root, as pasted."""
    return subprocess.run(
        ["bash", "-c", command], cwd=REPO, env=fresh_shell_env(env), capture_output=True,
        text=True, timeout=timeout_s,
    )  # fmt: skip


def last_table(output: str) -> list[str]:
    """The last table a non-interactive subscribe drew (it draws one after another)."""
    lines = output.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("symbol "))
    return lines[start:]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    running = start_mesh(tmp_path_factory.mktemp("first-hour") / "data")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


def banner_commands(mesh: RunningMesh) -> dict[str, str]:
    """Tier -> the `subscribe` command the banner printed for it."""
    keys = demo_keys(mesh.log())
    commands = [line.strip() for line in mesh.log().splitlines() if " subscribe " in line]
    return {tier: next(c for c in commands if key in c) for tier, key in keys.items()}


def test_the_banner_commands_run_in_a_fresh_shell_and_rates_match_the_tiers(
    mesh: RunningMesh,
) -> None:
    commands = banner_commands(mesh)
    assert all(c.startswith(".venv/bin/tickmesh subscribe ") for c in commands.values())
    for tier, command in commands.items():
        done = sh(f"{command} --duration {WATCH_S}", mesh.env, timeout_s=WATCH_S + 60)
        assert done.returncode == 0, done.stderr
        table = last_table(done.stdout)
        assert all(len(line) <= 80 for line in table), table
        rows = {line.split()[0]: line.split() for line in table[1:] if line[:1].isupper()}
        rates = {s: float(row[5]) for s, row in rows.items()}
        if tier in PROMISED_RATE:
            promised = PROMISED_RATE[tier]
            assert rates, table
            # Never faster than promised (the old N/(N-1) overstated it), and the busiest
            # symbol within 10 % of it: a quieter one updates only when its price moves.
            assert all(rate <= promised * 1.1 for rate in rates.values()), (tier, rates)
            assert abs(max(rates.values()) - promised) <= promised * 0.1, (tier, rates)
            assert "liq" not in table[0]
        else:  # enterprise: its own columns
            assert "liq" in table[0] and "quotes" in table[0], table
        if tier == "free":  # best effort: what was left out stays under the table
            assert any(line.startswith("left out XAUUSD") for line in table), table


def test_an_unknown_symbol_gets_did_you_mean_and_one_reason(mesh: RunningMesh) -> None:
    key = demo_keys(mesh.log())["pro"]
    target = mesh.address("bridge")
    cli = ".venv/bin/tickmesh subscribe --target " + target + " --key " + key
    refused = sh(f"{cli} --symbols EURUDS GBPUSD --duration 20", mesh.env)
    assert refused.returncode == 1
    assert "did you mean EURUSD?" in refused.stderr
    assert "[INVALID_ARGUMENT]" not in refused.stderr
    assert refused.stderr.count("INVALID_ARGUMENT") == 1, refused.stderr

    best_effort = sh(f"{cli} --symbols EURUDS GBPUSD --best-effort --duration 3", mesh.env)
    assert best_effort.returncode == 0, best_effort.stderr
    table = last_table(best_effort.stdout)
    assert "left out EURUDS: unknown symbol; did you mean EURUSD?" in table, table
    assert any(line.startswith("GBPUSD ") for line in table), table


def test_duration_is_a_deadline_while_waiting_for_a_stream_slot(mesh: RunningMesh) -> None:
    # The free tier has one stream; a second one waits for the slot, but not past --duration.
    key = demo_keys(mesh.log())["free"]
    cli = f".venv/bin/tickmesh subscribe --target {mesh.address('bridge')} --key {key}"
    first = subprocess.Popen(
        ["bash", "-c", f"exec {cli} --symbols EURUSD --duration 120"], cwd=REPO,
        env=fresh_shell_env(mesh.env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert first.stdout is not None
        for line in first.stdout:  # its first table: it holds the slot
            if line.startswith("EURUSD "):
                break
        second = sh(f"{cli} --symbols EURUSD --duration 3", mesh.env, timeout_s=30)
        assert second.returncode == 1
        assert "concurrent" in second.stderr or "RESOURCE_EXHAUSTED" in second.stderr, second
    finally:
        first.terminate()
        first.communicate(timeout=30)  # waits, and closes its pipe


def test_a_port_that_is_not_a_bridge_says_where_the_bridge_is(mesh: RunningMesh) -> None:
    key = demo_keys(mesh.log())["pro"]
    storage = mesh.address("storage")
    done = sh(
        f".venv/bin/tickmesh subscribe --target {storage} --key {key} --symbols EURUSD "
        "--duration 20",
        mesh.env,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"tickmesh subscribe: {storage} is not a Bridge (no Subscribe there); "
        f"the Bridge is at {mesh.address('bridge')}"
    )


def test_reconcile_prints_the_bridges_counted(mesh: RunningMesh) -> None:
    done = sh(".venv/bin/tickmesh reconcile --period 2025-11", mesh.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["bridges counted: 1", "balanced"]


def test_config_is_accepted_after_the_subcommand(mesh: RunningMesh, tmp_path: Path) -> None:
    config = tmp_path / "tickmesh.toml"
    config.write_text(f"billing_port = {mesh.ports['billing']}\n")
    env = {k: v for k, v in mesh.env.items() if k != "TICKMESH_BILLING_PORT"}
    done = sh(f".venv/bin/tickmesh reconcile --period 2025-11 --config {config}", env)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def mesh_down_env(tmp_path: Path) -> dict[str, str]:
    """A configuration whose services are on ports nothing listens on."""
    ports = free_ports(5)
    services = ("hub", "ingestion", "bridge", "storage", "billing")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TICKMESH_")},
        "TICKMESH_DATA_DIR": str(tmp_path / "data"),
        "TICKMESH_TLS_INSECURE": "true",
        "TICKMESH_ADMIN_KEY": "tm_operator_not_used",
        **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in zip(services, ports, strict=True)},
    }


def test_with_the_mesh_down_each_command_says_one_line_with_the_fix(
    mesh_down_env: dict[str, str],
) -> None:
    env = mesh_down_env
    bridge = f"127.0.0.1:{env['TICKMESH_BRIDGE_PORT']}"
    for command, address in (
        ("reconcile --period 2025-11", f"127.0.0.1:{env['TICKMESH_BILLING_PORT']}"),
        ("status", f"127.0.0.1:{env['TICKMESH_HUB_PORT']}"),
        ("subscribe --key tm_x_y --symbols EURUSD --duration 2", bridge),
    ):
        done = sh(f".venv/bin/tickmesh {command}", env)
        assert done.returncode != 0, command
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (command, done.stderr)
        assert address in lines[0] and "make up" in lines[0], (command, lines)


def test_every_subcommand_has_help_and_there_is_a_version() -> None:
    env = dict(os.environ)
    assert re.fullmatch(r"tickmesh \S+\n", sh(".venv/bin/tickmesh --version", env).stdout)
    for command in ("up", "status", "reconcile", "subscribe", "doctor"):
        done = sh(f".venv/bin/tickmesh {command} --help", env)
        assert done.returncode == 0
        description = done.stdout.split("\n\n")[1]
        assert len(description) > 20 and not description.startswith("options"), done.stdout


def test_doctor_names_each_check_and_fails_with_the_fix(mesh_down_env: dict[str, str]) -> None:
    env = dict(mesh_down_env)
    ok = sh(".venv/bin/tickmesh doctor", env)
    assert ok.returncode == 0, ok.stdout
    names = [line.split(":")[0] for line in ok.stdout.splitlines()[:-1]]
    assert names[:2] == ["ok   python", "ok   node"]
    assert {"ok   postgresql (tests)", "ok   redis", "ok   data dir", "ok   certs",
            "ok   chdb"} <= set(names)  # fmt: skip
    # Redis at a dead port, and a data dir that cannot be created: two FAIL lines with fixes.
    env["TICKMESH_REDIS_URL"] = f"redis://127.0.0.1:{free_ports(1)[0]}/0"
    env["TICKMESH_DATA_DIR"] = "/proc/tickmesh-data"
    failed = sh(".venv/bin/tickmesh doctor", env)
    assert failed.returncode == 1
    fails = [line for line in failed.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in fails] == ["FAIL redis", "FAIL data dir"], fails
    assert all(" -> " in line for line in fails)
