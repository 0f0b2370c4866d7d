"""Issue 15, items 7 and 9: `tickmesh up` refuses what it cannot run with one line naming
the fix, before it starts anything: a port another program holds (each service's, the
console's, Temporal's), an unknown TICKMESH_* variable, a mesh secret that is too short."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh.config import SERVICES
from tests.e2e.conftest import free_ports

pytestmark = pytest.mark.e2e

TICKMESH = str(Path(sys.executable).parent / "tickmesh")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A configuration whose every port is free (until a test takes one)."""
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TICKMESH_")},
        "TICKMESH_DATA_DIR": str(tmp_path / "data"),
        **{f"TICKMESH_{s.upper()}_PORT": str(p) for s, p in ports.items()},
        "TICKMESH_CONSOLE_PORT": "0",
        "TICKMESH_TEMPORAL_PORT": "0",
        "TICKMESH_TEMPORAL_UI_PORT": "0",
    }


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TICKMESH, "up"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("what", "setting"),
    [
        ("bridge", "TICKMESH_BRIDGE_PORT"),
        ("storage", "TICKMESH_STORAGE_PORT"),
        ("console", "TICKMESH_CONSOLE_PORT"),
        ("temporal", "TICKMESH_TEMPORAL_PORT"),
        ("temporal UI", "TICKMESH_TEMPORAL_UI_PORT"),
    ],
)
def test_a_port_held_by_another_program_is_one_line_naming_its_setting(
    env: dict[str, str], taken_port: int, what: str, setting: str
) -> None:
    env[setting] = str(taken_port)
    done = up(env)
    assert done.returncode == 1, done
    assert done.stdout == ""
    assert done.stderr == (
        f"tickmesh up: {what}: cannot bind 127.0.0.1:{taken_port} (in use by another "
        f"program): set {setting} or stop it\n"
    )
    assert not (Path(env["TICKMESH_DATA_DIR"]) / "operator.key").exists()  # nothing started


def test_an_unknown_variable_stops_up_with_the_closest_name(env: dict[str, str]) -> None:
    done = up({**env, "TICKMESH_BRIDGE_PRT": "1"})
    assert done.returncode == 2, done
    assert done.stderr == (
        "tickmesh: configuration error: TICKMESH_BRIDGE_PRT: unknown setting; did you mean "
        "TICKMESH_BRIDGE_PORT? (every TICKMESH_* variable must be one: README, Configuration)\n"
    )


def test_a_short_mesh_secret_is_reported_once_before_any_service_starts(
    env: dict[str, str],
) -> None:
    done = up({**env, "TICKMESH_MESH_SECRET": "short"})
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr == (
        "tickmesh: configuration error: TICKMESH_MESH_SECRET: expected at least 16 bytes, got 5\n"
    )
    assert not (Path(env["TICKMESH_DATA_DIR"]) / "mesh.lock").exists()  # nothing started


def test_config_goes_before_or_after_the_command(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "tickmesh.toml"
    config.write_text("[brigde]\n")
    for args in (["--config", str(config), "up"], ["up", "--config", str(config)]):
        done = subprocess.run(
            [TICKMESH, *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, done
        assert "unknown table [brigde]; did you mean [bridge]?" in done.stderr
