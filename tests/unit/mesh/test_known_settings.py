"""Every TICKMESH_* variable is a known setting, documented in the README; typos are refused."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mesh.config import ConfigError, load_config
from mesh.known_settings import OTHER_VARIABLES, SECTIONS, check_known, known_variables

HERE = Path(__file__).resolve()
REPO = HERE.parents[3]
NAME = re.compile(r"TICKMESH_[A-Z0-9_]*[A-Z0-9]")
TEST_ONLY = re.compile(r"TICKMESH_ECHO_")
"""tests/unit/mesh/test_config.py's settings class, which exists only in that test."""
INTERNAL = {"TICKMESH_COMPONENT", "TICKMESH_CONSOLE_NODE_MODULES", "TICKMESH_BENCH_OPERATOR"}
"""Set by our own code for our own code: no README row."""


def repository_names() -> set[str]:
    """Every TICKMESH_* name in the repository's tracked text files."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    names: set[str] = set()
    for name in files:
        path = REPO / name
        if not name or name.startswith("generated/") or path == HERE or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        # TICKMESH_BRIDGE_* or TICKMESH_*_PORT mention a family, not a variable.
        names.update(m.group() for m in NAME.finditer(text) if text[m.end()] not in "_*")
    return names


def test_every_tickmesh_variable_in_the_repository_is_known() -> None:
    unknown = sorted(
        name for name in repository_names() - set(known_variables()) if not TEST_ONLY.match(name)
    )
    # The deliberate typo of tests/e2e/test_up_refusals.py and the README (this file's are
    # skipped).
    unknown = [name for name in unknown if not name.endswith("_PRT")]
    assert not unknown, (
        f"add them to mesh/known_settings.py (SECTIONS or OTHER_VARIABLES): {unknown}"
    )


def documented(readme: str) -> set[str]:
    """The variables the README's tables document; a row's `_MIN_SECONDS` abbreviates its
    first variable's name with that ending (TICKMESH_HUB_LEASE_DEFAULT_SECONDS, `_MIN_SECONDS`)."""
    names: set[str] = set()
    for row in (line for line in readme.splitlines() if line.startswith("| `TICKMESH_")):
        first = row.split("|")[1]
        full = re.findall(r"`(TICKMESH_[A-Z0-9_]+)`", first)
        names.update(full)
        for ending in re.findall(r"`(_[A-Z0-9_]+)`", first):
            for stem in (full[0][:i] for i in range(len(full[0])) if full[0][i] == "_"):
                names.add(stem + ending)
    return names


def test_every_setting_has_a_readme_row() -> None:
    readme = documented((REPO / "README.md").read_text())
    missing = sorted(set(known_variables()) - INTERNAL - readme)
    assert not missing, f"README, Configuration: add a row for {missing}"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"TICKMESH_BRIDGE_PRT": "1"},
            "TICKMESH_BRIDGE_PRT: unknown setting; did you mean TICKMESH_BRIDGE_PORT?",
        ),
        (
            {"TICKMESH_BRIDGE_HEARTBEAT_SECOND": "1"},
            "did you mean TICKMESH_BRIDGE_HEARTBEAT_SECONDS?",
        ),
        ({"TICKMESH_NOTHING_LIKE_IT": "1"}, "TICKMESH_NOTHING_LIKE_IT: unknown setting ("),
    ],
)
def test_an_unknown_variable_is_refused_with_the_closest_name(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        check_known(load_config(env))
    assert expected in str(refused.value)


def test_what_the_project_sets_itself_is_accepted() -> None:
    env = {name: "1" for name in OTHER_VARIABLES if name != "TICKMESH_CONFIG"}
    env |= {"TICKMESH_CONSOLE_PORT": "0", "TICKMESH_POSTGRES_URL": "", "OTHER_TOOL_X": "y"}
    check_known(load_config(env))


def test_an_unknown_table_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    path = tmp_path / "tickmesh.toml"
    path.write_text("[brigde]\nheartbeat_seconds = 1\n")
    with pytest.raises(ConfigError, match=r"unknown table \[brigde\]; did you mean \[bridge\]\?"):
        check_known(load_config({}, file=path))
    path.write_text("".join(f"[{section}]\n" for section in SECTIONS))
    check_known(load_config({}, file=path))


def test_an_unknown_key_in_the_file_gets_the_closest_one(tmp_path: Path) -> None:
    path = tmp_path / "tickmesh.toml"
    path.write_text("bridge_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown key 'bridge_prot'; did you mean 'bridge_port'"):
        load_config({}, file=path)


def test_a_short_mesh_secret_is_refused_when_the_config_is_parsed() -> None:
    with pytest.raises(ConfigError, match="TICKMESH_MESH_SECRET: expected at least 16 bytes"):
        load_config({"TICKMESH_MESH_SECRET": "short"})
    assert load_config({"TICKMESH_MESH_SECRET": "x" * 16}).mesh_secret == "x" * 16
