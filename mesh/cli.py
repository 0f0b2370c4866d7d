"""The mesh's commands: `tickmesh up` (with its demo) and `tickmesh status`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import grpc

from mesh.config import SERVICES, ConfigError, MeshConfig, load_config
from mesh.demo import create_demo_tenants, demo_instructions
from mesh.launcher import Mesh, health_of, operator_key_file, run_up

READY_LINE = "Press Ctrl-C to stop."


async def _on_ready(mesh: Mesh) -> None:
    _print_endpoints(mesh)
    key = operator_key_file(mesh.config).read_text().strip()
    try:
        tenants = await create_demo_tenants(mesh.config, key)
    except grpc.aio.AioRpcError as err:
        print(f"(demo tenants not created: {err.code().name}: {err.details()})")
    else:
        print("\n".join(demo_instructions(tenants, mesh.config.address_of("bridge"))))
    print(READY_LINE, flush=True)


def _print_endpoints(mesh: Mesh) -> None:
    print("tickmesh is up; every service reports SERVING:")
    for child in mesh.children:
        print(f"  {child.service:<10} {child.address}")
    hub = mesh.config.address_of("hub")
    print(
        f"Inspect any service: npx buf curl --protocol grpc --http2-prior-knowledge "
        f"--list-methods http://{hub}"
    )


def _cmd_up(config: MeshConfig, args: argparse.Namespace) -> int:
    services = args.services or list(SERVICES)
    demo = args.demo and set(services) == set(SERVICES)
    return asyncio.run(run_up(config, services, on_ready=_on_ready if demo else _print_ready))


def _print_ready(mesh: Mesh) -> None:
    _print_endpoints(mesh)
    print(READY_LINE, flush=True)


def _cmd_status(config: MeshConfig, args: argparse.Namespace) -> int:
    async def collect() -> list[tuple[str, str, str]]:
        addresses = [config.address_of(s) for s in SERVICES]
        states = await asyncio.gather(*(health_of(a) for a in addresses))
        return list(zip(SERVICES, addresses, states, strict=True))

    rows = asyncio.run(collect())
    for service, address, state in rows:
        print(f"{service:<10} {address:<22} {state}")
    return 0 if all(state == "SERVING" for _, _, state in rows) else 1


def register_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the mesh's commands (up, status) to a `tickmesh` argument parser."""
    up = sub.add_parser("up", help="start every service and run until Ctrl-C")
    up.add_argument("--services", nargs="+", choices=SERVICES, help="only these services")
    up.add_argument(
        "--no-demo", dest="demo", action="store_false", help="skip creating demo tenants"
    )
    up.set_defaults(func=_cmd_up)
    status = sub.add_parser("status", help="print each service's health")
    status.set_defaults(func=_cmd_status)


def build_parser() -> argparse.ArgumentParser:
    """An argument parser with the mesh's commands (the full CLI is tickmesh_cli)."""
    parser = argparse.ArgumentParser(prog="tickmesh", description=__doc__)
    parser.add_argument("--config", help="TOML config file (default: $TICKMESH_CONFIG)")
    register_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Parse, load the config once, run the chosen command; 2 on a configuration error."""
    args = (parser or build_parser()).parse_args(argv)
    try:
        config = load_config(file=args.config)
    except ConfigError as exc:
        print(f"tickmesh: configuration error: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(config, args)
    return result


if __name__ == "__main__":
    sys.exit(main())
