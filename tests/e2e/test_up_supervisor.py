"""`tickmesh up` as an operator leaves it running: one mesh per data dir, dead children
restarted, a crash-looping child stops the mesh with its error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesh.launcher import health_of
from mesh.mesh_state import state_file
from tests.e2e.conftest import RunningMesh, start_mesh
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


def up(env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """A second `tickmesh up` and how long it took to give up."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mesh.cli", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, time.monotonic() - started


def test_a_second_up_on_the_data_dir_exits_at_once_and_touches_nothing(
    running_mesh: RunningMesh,
) -> None:
    key = (running_mesh.data_dir / "operator.key").read_text()
    launcher = running_mesh.process.pid

    # "At once" is shown by what it did, not by a wall-clock bound (the interpreter's own
    # start-up alone passes 2 s on a loaded machine): one line, nothing started, nothing
    # printed to stdout. The time is reported (-rP), and up() bounds it at 30 s.
    second, took = up(running_mesh.env)
    print(f"the second up gave up in {took:.2f} s")  # shown with -rP
    assert second.returncode == 1, (took, second.stdout, second.stderr)
    assert second.stdout == ""
    assert second.stderr.count("\n") == 1, second.stderr
    assert f"a mesh already runs on data dir {running_mesh.data_dir} (pid {launcher}," in (
        second.stderr
    )

    # The same ports from another data dir: the first busy port and how to move it.
    elsewhere = {**running_mesh.env, "TICKMESH_DATA_DIR": str(running_mesh.data_dir / "other")}
    third, took = up(elsewhere)
    print(f"the third up gave up in {took:.2f} s")
    hub = running_mesh.ports["hub"]
    assert third.returncode == 1, (took, third.stderr)
    assert not state_file(running_mesh.data_dir / "other").exists()  # nothing started
    assert third.stderr.count("\n") == 1, third.stderr
    assert third.stderr == (
        f"tickmesh up: hub: cannot bind 127.0.0.1:{hub} (in use by another program): "
        "set TICKMESH_HUB_PORT or stop it\n"
    )

    # The running mesh kept its key, and its CLI still works with it.
    assert (running_mesh.data_dir / "operator.key").read_text() == key
    status = running_mesh.tickmesh("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "mesh (from the Hub):" in status.stdout
    assert running_mesh.state()["launcher_pid"] == launcher


@pytest.mark.parametrize("service", ["ingestion", "storage"])
async def test_a_killed_child_is_serving_again_within_5s_and_counted(
    service: str, running_mesh: RunningMesh
) -> None:
    killed = running_mesh.state()["services"][service]["pid"]
    os.kill(killed, signal.SIGKILL)
    started = time.monotonic()

    async def serving_again() -> bool:
        pid = running_mesh.state()["services"][service]["pid"]
        return pid != killed and await health_of(running_mesh.address(service), 0.5) == "SERVING"

    await eventually(serving_again, f"{service} SERVING again", within=5, every=0.05)
    print(f"{service} SERVING again {time.monotonic() - started:.2f} s after SIGKILL")

    status = running_mesh.tickmesh("status")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {line.split()[0]: line for line in status.stdout.splitlines()[1:6]}
    assert rows[service].split()[2:] == ["SERVING", "1", "(last:", "killed", "by", "SIGKILL)"]
    assert [rows[s].split()[3] for s in rows if s != service] == ["0"] * 4
    assert f"{service} (pid {killed}) killed by SIGKILL; restarting it" in running_mesh.log()
    assert running_mesh.stop() == 0, running_mesh.log()  # the new child stops cleanly
    assert not (running_mesh.data_dir / "mesh.json").exists()


@pytest.fixture
def held_port() -> Iterator[Callable[[int], socket.socket]]:
    """Takes a port as another program would (no SO_REUSEPORT, so gRPC cannot share it)."""
    held: list[socket.socket] = []

    def take(port: int) -> socket.socket:
        sock = socket.socket()
        held.append(sock)
        # SO_REUSEADDR: the killed server's connections may linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return sock

    yield take
    for sock in held:
        sock.close()


async def test_a_crash_looping_child_stops_the_mesh_with_its_error(
    tmp_path: Path, held_port: Callable[[int], socket.socket]
) -> None:
    # A quick policy, so the loop is seen in seconds: 2 restarts, 0.2 s apart.
    mesh = start_mesh(
        tmp_path / "data",
        {
            "TICKMESH_LAUNCHER_RESTART_BACKOFF_SECONDS": "0.2",
            "TICKMESH_LAUNCHER_RESTART_BACKOFF_MAX_SECONDS": "0.2",
            "TICKMESH_LAUNCHER_CRASH_LOOP_RESTARTS": "2",
        },
    )
    try:
        hub = mesh.state()["services"]["hub"]["pid"]
        os.kill(hub, signal.SIGKILL)
        # Another program takes the Hub's port as soon as it is free: every restart of
        # the Hub now fails to bind, as after a real port clash.
        await eventually(lambda: _try(held_port, mesh.ports["hub"]), "the Hub's port free")
        code = mesh.process.wait(timeout=60)
    finally:
        mesh.close()
    log = mesh.log()
    assert code == 1, log
    assert (
        f"tickmesh up: hub is crash-looping (exited with code 1 after 2 restarts in 60 s); "
        f"its last error: RuntimeError: hub: cannot bind 127.0.0.1:{mesh.ports['hub']}"
    ) in log
    assert "the mesh is stopped" in log
    assert not (mesh.data_dir / "mesh.json").exists()


def _try(take: Callable[[int], socket.socket], port: int) -> bool:
    try:
        take(port)
    except OSError:
        return False
    return True
