"""Container health check: `python -m mesh.healthcheck <port|service>` exits 0 only when SERVING."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mesh.config import SERVICES, ConfigError, MeshConfig, join_host_port, load_config
from mesh.transport import blocking_channel

USAGE = f"usage: python -m mesh.healthcheck <port | {' | '.join(SERVICES)}> [host]"
TIMEOUT_S = 3.0


def check(address: str, timeout_s: float = TIMEOUT_S, config: MeshConfig | None = None) -> str:
    """The overall grpc.health.v1 status at `address`, or the gRPC code that prevented it;
    over the mesh's transport when `config` is given, else plaintext."""
    # Synchronous on purpose: a probe runs once and exits, so no event loop is worth starting.
    config = config if config is not None else MeshConfig(tls_insecure=True)
    with blocking_channel(address, config) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.RpcError as err:
            code = err.code() if isinstance(err, grpc.Call) else None
            return code.name if code is not None else "UNKNOWN"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _port(target: str) -> int:
    # A service name reads its port from the same TICKMESH_* settings the server started with,
    # so a health check never drifts from a port changed in the environment.
    if target.isdigit():
        return int(target)
    if target not in SERVICES:
        raise ValueError(USAGE)
    return load_config().port_of(target)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the status and return 0 when SERVING, 1 otherwise, 2 on bad usage or config."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        port = _port(args[0])
    except (ValueError, ConfigError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 2
    # The server binds TICKMESH_HOST (0.0.0.0 in a container); loopback reaches it from inside.
    address = join_host_port(args[1] if len(args) == 2 else "127.0.0.1", port)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 2
    status = check(address, config=config)
    print(f"{address} {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
