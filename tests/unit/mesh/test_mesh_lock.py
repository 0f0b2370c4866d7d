"""One mesh per data dir: the lock names its holder; a taken port names its setting."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from pathlib import Path

import pytest

from mesh.config import MeshConfig
from mesh.mesh_lock import MeshLock, MeshLocked, PortBusy, PortClaim, check_ports, service_claims
from mesh.mesh_state import read_state, remove_state, state_file, write_state


def test_a_second_lock_on_the_data_dir_names_the_holder(tmp_path: Path) -> None:
    with MeshLock.acquire(tmp_path / "data"):
        # flock is per open file, so a second open in this process conflicts too.
        with pytest.raises(MeshLocked, match=rf"\(pid {os.getpid()}, started "):
            MeshLock.acquire(tmp_path / "data")
        # The failed attempt left the holder's record as it was.
        assert json.loads((tmp_path / "data" / "mesh.lock").read_text())["pid"] == os.getpid()
    with MeshLock.acquire(tmp_path / "data"):  # released: free again
        pass


def test_a_port_in_use_is_named_with_its_setting() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = dataclasses.replace(MeshConfig(tls_insecure=True), bridge_port=port, hub_port=0)
        with pytest.raises(PortBusy) as caught:
            check_ports(service_claims(config, ["hub", "bridge"]))
        assert str(caught.value) == (
            f"bridge: cannot bind 127.0.0.1:{port} (in use by another program): "
            "set TICKMESH_BRIDGE_PORT or stop it"
        )
        console = PortClaim("console", "127.0.0.1", port, "TICKMESH_CONSOLE_PORT")
        with pytest.raises(PortBusy, match=r"^console: .* set TICKMESH_CONSOLE_PORT or stop it$"):
            check_ports([console])
    # closed: free, and port 0 is never checked (nor claimed)
    check_ports(service_claims(config, ["hub", "bridge"]))
    assert [c.what for c in service_claims(config, ["hub", "bridge"])] == ["bridge"]


def test_the_state_file_is_read_only_while_its_launcher_lives(tmp_path: Path) -> None:
    state = {"launcher_pid": os.getpid(), "services": {"hub": {"pid": 1, "restarts": 2}}}
    write_state(state_file(tmp_path), state)
    assert read_state(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["mesh.json"]  # no temporary left
    write_state(state_file(tmp_path), {**state, "launcher_pid": 2**22 + 1})  # no such pid
    assert read_state(tmp_path) is None
    remove_state(state_file(tmp_path))
    assert read_state(tmp_path) is None
