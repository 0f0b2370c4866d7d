"""The README is tested: every block marked runnable runs as pasted against a real mesh.

A block is runnable when the line before its opening fence is `<!-- runnable ... -->`.
Shell blocks run in bash (errexit, pipefail) from the checkout's root in a fresh shell
(.venv/bin not on PATH); Python blocks are saved to a file and run with the venv's
Python. The mesh's ports reach them only through the variables the README itself uses
(TICKMESH_*_PORT, KEY), so the text runs as a user would see it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningMesh, start_mesh
from tests.e2e.test_clients import demo_keys
from tests.e2e.test_first_hour import fresh_shell_env

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUNNABLE = re.compile(r"^<!-- runnable\b[^\n]*-->\n```(sh|bash|python)\n(.*?)^```$", re.M | re.S)


def runnable_blocks() -> list[tuple[str, str]]:
    """(language, code) of each runnable block, in README order."""
    return RUNNABLE.findall((REPO / "README.md").read_text())


def test_the_readme_marks_the_first_hour_blocks_runnable() -> None:
    code = "\n".join(block for _, block in runnable_blocks())
    for needed in ("tickmesh status", "tickmesh subscribe", "--duration", "tickmesh reconcile",
                   "grpcurl", "buf curl", "asyncio.run(main())"):  # fmt: skip
        assert needed in code, f"no runnable README block has {needed!r}"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMesh]:
    # TLS, as `make up` runs it: the blocks use the CA it printed.
    running = start_mesh(
        tmp_path_factory.mktemp("readme") / "data", {"TICKMESH_TLS_INSECURE": "false"}
    )
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
        running.close()


@pytest.mark.parametrize(
    ("language", "code"),
    runnable_blocks(),
    ids=[f"{i}-{lang}" for i, (lang, _) in enumerate(runnable_blocks())],
)
def test_a_runnable_readme_block_runs_as_pasted(
    mesh: RunningMesh, tmp_path: Path, language: str, code: str
) -> None:
    env = fresh_shell_env({**mesh.env, "KEY": demo_keys(mesh.log())["pro"]})
    if language == "python":
        script = tmp_path / "snippet.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
