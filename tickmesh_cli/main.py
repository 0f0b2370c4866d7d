"""Entry point of the `tickmesh` console script.

It lives outside mesh/ and clients/ because it is the one place that uses both:
the mesh's commands (up, status, reconcile), the client SDK's (subscribe), the
sidecar and the doctor, which checks what both need.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from clients import cli as client_cli
from mesh import cli as mesh_cli
from tickmesh_cli import sidecar
from tickmesh_cli.doctor import cmd_doctor


def _version() -> str:
    try:
        return version("tickmesh")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Every `tickmesh` subcommand."""
    parser = argparse.ArgumentParser(prog="tickmesh", description="tickmesh: the market-data mesh")
    parser.add_argument("--version", action="version", version=f"tickmesh {_version()}")
    mesh_cli.add_config_option(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    mesh_cli.register_commands(sub)
    client_cli.register_commands(sub)
    doctor = mesh_cli.add_command(
        sub, "doctor", "check what the mesh and its tests need",
        "Python, Node, free ports, PostgreSQL and Redis (with the URLs in use), the data\n"
        "dir and chDB: one line per check, with the fix for a failed one. Exits 1 if any fails.",
    )  # fmt: skip
    doctor.set_defaults(func=cmd_doctor)
    side = mesh_cli.add_command(sub, "sidecar", sidecar.SUMMARY, sidecar.ABOUT)
    sidecar.add_arguments(side)
    side.set_defaults(func=sidecar.cmd_sidecar)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tickmesh` command line."""
    return mesh_cli.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
