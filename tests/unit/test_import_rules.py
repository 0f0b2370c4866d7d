"""Who may import whom (ARCHITECTURE.md), checked on every import in our code; and no cycles.

Every .py file under mesh/, servers/, clients/ and tickmesh_cli/ is parsed with `ast`,
and every import statement counts wherever it is: at module level, inside a function
(it runs when the function does), or under `if TYPE_CHECKING:`. The layering rules
hold for all of them; the cycle check leaves out the TYPE_CHECKING ones, which never
run. Importing `a.b.c` also runs the packages `a` and `a.b`, so the module graph has
those edges too.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mesh", "servers", "clients", "tickmesh_cli")
# Generated code, skipped as ruff and mypy skip it: it imports only itself and its runtime.
SKIPPED = (ROOT / "clients" / "betterproto" / "tickmesh_betterproto",)
GENERATED = ("tickmesh", "tickmesh_betterproto")
"""Top-level packages of generated code (generated/ and the betterproto client's)."""

CLIENT_SIDE_MESH = frozenset({
    "mesh.backoff",  # subscribe()'s reconnect delays
    "mesh.channel_options",  # the reconnect options of the SDK's own channels
    "mesh.client_interceptors",  # the API key (and metadata) on outgoing calls
    "mesh.config",  # where the mesh's services listen, for the SDK's command line
})  # fmt: skip
"""The part of mesh/ a client may import: what the SDK imports today, all leaf modules."""


@dataclass(frozen=True, slots=True)
class Import:
    """One imported name, as written at one place in one module."""

    module: str
    """The importing module."""
    path: Path
    line: int
    target: str
    """The module imported: for `from X import n`, X.n when that is a module of ours, else X."""
    statement: str
    type_only: bool
    """Under `if TYPE_CHECKING:`: never runs."""

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.statement}"


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path
    is_package: bool


@cache
def our_modules() -> dict[str, Module]:
    """Every module of ours by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if any(path.is_relative_to(skipped) for skipped in SKIPPED):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join(parts)
            modules[name] = Module(name, path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_in(source: str, module: Module, known: set[str]) -> list[Import]:
    """Every import in `source` (the text of `module`), wherever it stands."""
    found: list[Import] = []
    package = module.name if module.is_package else module.name.rpartition(".")[0]

    def record(node: ast.Import | ast.ImportFrom, target: str, type_only: bool) -> None:
        statement = ast.get_source_segment(source, node) or ast.unparse(node)
        found.append(
            Import(module.name, module.path, node.lineno, target, " ".join(statement.split()),
                   type_only)
        )  # fmt: skip

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                record(node, alias.name, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                name = f"{base}.{alias.name}"
                record(node, name if name in known else base, type_only)
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source, str(module.path)), False)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    modules = our_modules()
    known = set(modules)
    return tuple(
        found
        for module in modules.values()
        for found in imports_in(module.path.read_text(), module, known)
    )


def _top(name: str) -> str:
    return name.partition(".")[0]


def _report(title: str, bad: list[Import]) -> str:
    return f"{title}:\n" + "\n".join(f"  {found}" for found in bad)


# -- the layering rules -----------------------------------------------------------------


def test_the_walk_sees_every_kind_of_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import servers.hub.proxy\n"
        "from . import selection\n"
        "if TYPE_CHECKING:\n"
        "    from mesh.tiers import Tier\n"
        "def later():\n"
        "    from mesh import config\n"
    )
    module = Module("servers.hub.app", ROOT / "servers/hub/app.py", False)
    known = {"servers.hub.proxy", "servers.hub.selection", "mesh.tiers", "mesh.config"}
    found = [(i.target, i.type_only) for i in imports_in(source, module, known)]
    assert found == [
        ("typing", False),
        ("servers.hub.proxy", False),
        ("servers.hub.selection", False),
        ("mesh.tiers", True),
        ("mesh.config", False),
    ]
    assert len(our_modules()) > 100 and len(all_imports()) > 500  # the walk found our code


def test_no_service_imports_another() -> None:
    def service(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if parts[0] == "servers" and len(parts) > 1 else None

    bad = []
    for found in all_imports():
        mine, theirs = service(found.module), service(found.target)
        if mine is not None and theirs is not None and mine != theirs:
            bad.append(found)
    if bad:
        pytest.fail(
            _report("services meet only through their contracts, never by import", bad),
            pytrace=False,
        )


def test_mesh_imports_neither_servers_nor_clients() -> None:
    bad = [
        found
        for found in all_imports()
        if _top(found.module) == "mesh" and _top(found.target) in ("servers", "clients")
    ]
    if bad:
        pytest.fail(
            _report("mesh/ is the shared runtime: it imports no server or client", bad),
            pytrace=False,
        )


def test_clients_import_only_generated_code_and_client_side_mesh() -> None:
    ours = set(PACKAGES) - {"clients"}
    bad = []
    for found in all_imports():
        if _top(found.module) != "clients" or _top(found.target) not in ours:
            continue  # the SDK itself, generated code (GENERATED), or a library
        if not any(
            found.target == allowed or found.target.startswith(f"{allowed}.")
            for allowed in CLIENT_SIDE_MESH
        ):
            bad.append(found)
    if bad:
        pytest.fail(
            _report(
                f"clients/ may import generated code ({', '.join(GENERATED)}) and of ours only "
                f"{', '.join(sorted(CLIENT_SIDE_MESH))}",
                bad,
            ),
            pytrace=False,
        )


# -- cycles -----------------------------------------------------------------------------


def _resolve(target: str, modules: dict[str, Module]) -> str | None:
    """The module of ours `target` names (the longest known prefix), or None."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def module_graph() -> dict[str, dict[str, Import]]:
    """module -> {module it runs on import: the import that makes it run}."""
    modules = our_modules()
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for found in all_imports():
        if found.type_only:
            continue
        target = _resolve(found.target, modules)
        if target is None or target == found.module:
            continue
        edges = graph[found.module]
        edges.setdefault(target, found)
        # Importing a.b.c runs a and a.b first, unless the importer is inside them
        # (its own packages have started already).
        parts = target.split(".")
        for end in range(1, len(parts)):
            package = ".".join(parts[:end])
            inside = found.module == package or found.module.startswith(f"{package}.")
            if package in modules and not inside:
                edges.setdefault(package, found)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> Iterator[list[str]]:
    """Tarjan's components with more than one module, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def one_cycle(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """A shortest cycle through the component's first module, as the imports that close it."""
    members = set(component)
    start = component[0]
    came_from: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child, found in sorted(graph[node].items()):
            if child not in members or child in came_from:
                continue
            came_from[child] = found
            if child == start:
                path = [found]
                while path[-1].module != start:
                    path.append(came_from[path[-1].module])
                return path[::-1]
            queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def test_no_import_cycles() -> None:
    graph = module_graph()
    reports = []
    for component in strongly_connected(graph):
        steps = "\n".join(f"    {found}" for found in one_cycle(graph, component))
        reports.append(f"  {', '.join(component)}; for instance:\n{steps}")
    if reports:
        title = "import cycles (move the shared piece, do not hide the import)"
        pytest.fail("\n".join([f"{title}:", *reports]), pytrace=False)
