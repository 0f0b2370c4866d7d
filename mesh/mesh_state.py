"""`<data_dir>/mesh.json`: what the launcher runs (pids, restarts, last exits), for `status`.

Format (one JSON object):

    {"launcher_pid": 4242, "started": "2025-01-01T12:00:00+0000",
     "services": {"bridge": {"pid": 4250, "address": "127.0.0.1:50053",
                             "restarts": 1, "last_exit": "killed by SIGKILL"}, ...}}

Replaced atomically (temporary file, then rename) on every change, so a reader never
sees half a file; removed when the launcher stops its mesh.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

STATE_NAME = "mesh.json"


def state_file(data_dir: Path) -> Path:
    """Where the launcher of `data_dir` keeps its state."""
    return data_dir / STATE_NAME


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace `path` with `state` in one rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp, path)


def remove_state(path: Path) -> None:
    """Delete the state file, if any."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The running launcher's state, or None: no file, unreadable, or its launcher is gone
    (a SIGKILLed launcher leaves its file behind)."""
    try:
        state = json.loads(state_file(data_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _alive(state.get("launcher_pid")):
        return None
    return state


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
