"""`tickmesh sidecar`: run the sidecar (mesh/sidecar) in the foreground until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from mesh.config import MeshConfig
from mesh.logging import configure_logging
from mesh.sidecar.credentials import KeyFileError, read_key_file
from mesh.sidecar.server import ListenError, SidecarSettings, run_sidecar

SUMMARY = "forward a local app's plain gRPC calls into the mesh with a key"
ABOUT = (
    "Listens on --listen (loopback) for plain gRPC without credentials and forwards every\n"
    "mesh method byte for byte to the instance the Hub resolves for the key's tier,\n"
    "attaching the key read from --key-file. Serves grpc.health.v1 and its own metrics\n"
    "(BusinessMetricsService), and relays server reflection to the mesh."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sidecar's options."""
    parser.add_argument("--listen", required=True, help="host:port to serve the app on")
    parser.add_argument(
        "--key-file", required=True, type=Path, help="file holding the API key (one line)"
    )
    parser.add_argument("--hub", help="the Hub's host:port (default: from the config)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --listen address (whoever connects uses the key)",
    )


def cmd_sidecar(config: MeshConfig, args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT: 0 after a clean stop, 2 on bad usage."""
    try:
        key = read_key_file(args.key_file)
        settings = SidecarSettings(
            listen=args.listen,
            hub_address=args.hub or config.hub_address or config.address_of("hub"),
            key=key,
            allow_remote=args.allow_remote,
            grace_s=config.grace_seconds,
            mesh=config,
        )
        configure_logging(config.log_level, config.log_format, service="sidecar")
        asyncio.run(run_sidecar(settings))
    except (KeyFileError, ListenError) as exc:
        print(f"tickmesh sidecar: {exc}", file=sys.stderr)
        return 2
    return 0
