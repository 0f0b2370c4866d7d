"""`tickmesh status` lines: health, and restarts from the launcher's state file."""

from __future__ import annotations

from mesh.cli import format_status

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
