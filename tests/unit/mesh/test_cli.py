"""`tickmesh status` lines: health, restarts from the launcher's state file, the shared Redis."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mesh.cli import StoreStatus, format_status, store_status, tickmesh_command
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
