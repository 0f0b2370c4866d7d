"""Entry point of the `tickmesh` console script.

It lives outside mesh/ and clients/ because it is the one place that uses both:
the mesh's commands (up, status) and the client SDK's (subscribe).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from clients import cli as client_cli
from mesh import cli as mesh_cli


def build_parser() -> argparse.ArgumentParser:
    """Every `tickmesh` subcommand."""
    parser = argparse.ArgumentParser(prog="tickmesh", description="tickmesh: the market-data mesh")
    parser.add_argument("--config", help="TOML config file (default: $TICKMESH_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    mesh_cli.register_commands(sub)
    client_cli.register_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `tickmesh` command line."""
    return mesh_cli.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
