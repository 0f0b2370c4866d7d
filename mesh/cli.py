"""The `tickmesh` command: up, status (and more as the mesh grows)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from mesh.config import SERVICES, ConfigError, MeshConfig, load_config
from mesh.launcher import Mesh, health_of, run_up


def _print_endpoints(mesh: Mesh) -> None:
    print("tickmesh is up; every service reports SERVING:")
    for child in mesh.children:
        print(f"  {child.service:<10} {child.address}")
    hub = mesh.config.address_of("hub")
    print(
        f"Inspect any service: npx buf curl --protocol grpc --http2-prior-knowledge "
        f"--list-methods http://{hub}"
    )
    print("Press Ctrl-C to stop.", flush=True)


def _cmd_up(config: MeshConfig, args: argparse.Namespace) -> int:
    services = args.services or list(SERVICES)
    return asyncio.run(run_up(config, services, on_ready=_print_endpoints))


def _cmd_status(config: MeshConfig, args: argparse.Namespace) -> int:
    async def collect() -> list[tuple[str, str, str]]:
        addresses = [config.address_of(s) for s in SERVICES]
        states = await asyncio.gather(*(health_of(a) for a in addresses))
        return list(zip(SERVICES, addresses, states, strict=True))

    rows = asyncio.run(collect())
    for service, address, state in rows:
        print(f"{service:<10} {address:<22} {state}")
    return 0 if all(state == "SERVING" for _, _, state in rows) else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `tickmesh` command."""
    parser = argparse.ArgumentParser(prog="tickmesh", description=__doc__)
    parser.add_argument("--config", help="TOML config file (default: $TICKMESH_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every service and run until Ctrl-C")
    up.add_argument("--services", nargs="+", choices=SERVICES, help="only these services")
    up.set_defaults(func=_cmd_up)
    status = sub.add_parser("status", help="print each service's health")
    status.set_defaults(func=_cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tickmesh` console script."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(file=args.config)
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(config, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
