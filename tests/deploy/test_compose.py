"""deploy/compose.yaml: what the compose-spec schema cannot see."""

from __future__ import annotations

import graphlib
from urllib.parse import urlsplit

from mesh.config import SERVICES, env_key
from mesh.tiers import Tier
from tests.deploy.manifests import (
    ENV_EXAMPLE,
    PORT_SETTINGS,
    Doc,
    check_bridge_pools,
    interpolated_names,
    load_compose,
    pool_tiers,
    read_env_file,
)

BACKING_IMAGES = {
    "postgres": "postgres:15",
    "redis": "redis:7",
    "clickhouse": "clickhouse/clickhouse-server:",
    "temporal": "temporalio/auto-setup:",
}


def services() -> dict[str, Doc]:
    services: dict[str, Doc] = load_compose()["services"]
    return services


def mesh_containers() -> dict[str, str]:
    """Each compose service that runs a tickmesh server, and which server it runs."""
    return {
        name: spec["command"][-1].removeprefix("servers.")
        for name, spec in services().items()
        if spec.get("command", [None])[0] == "python"
    }


def strings(node: object) -> list[str]:
    """Every string value in a loaded YAML tree (comments are gone by then)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def test_the_six_services_and_their_backing_stores() -> None:
    containers = mesh_containers()
    assert set(services()) == set(containers) | set(BACKING_IMAGES)
    for name, prefix in BACKING_IMAGES.items():
        assert services()[name]["image"].startswith(prefix), name
    for service in SERVICES:
        assert services()[service]["command"] == ["python", "-m", f"servers.{service}"]
    # Besides one container per service, only Bridges of another tier pool.
    assert {s for n, s in containers.items() if n not in SERVICES} == {"bridge"}


def test_every_service_has_a_grpc_health_check() -> None:
    for name, service in mesh_containers().items():
        check = services()[name]["healthcheck"]
        # mesh.healthcheck reads the service's port from its own TICKMESH_*_PORT.
        assert check["test"] == ["CMD", "python", "-m", "mesh.healthcheck", service]
    # The backing stores too: depends_on waits for their health.
    for name, spec in services().items():
        assert spec.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_each_service_publishes_the_port_it_binds() -> None:
    for service in SERVICES:
        spec = services()[service]
        port = spec["environment"][PORT_SETTINGS[service]]
        # Published on loopback only: `tickmesh status` works from the host, nothing more.
        assert spec["ports"] == [f"127.0.0.1:{port}:{port}"], service
    published = []
    for name, service in mesh_containers().items():
        spec = services()[name]
        port = spec["environment"][PORT_SETTINGS[service]]
        (mapping,) = spec["ports"]
        loopback, host_port, bound = mapping.split(":")
        assert (loopback, bound) == ("127.0.0.1", str(port)), name
        assert spec["environment"]["TICKMESH_HOST"] == "0.0.0.0", name
        published.append(host_port)
    assert len(set(published)) == len(published), "two containers on one host port"


def bridge_pools() -> dict[str, frozenset[Tier]]:
    """Each Bridge container and the tiers its pool serves."""
    return {
        name: pool_tiers(services()[name]["environment"])
        for name, service in mesh_containers().items()
        if service == "bridge"
    }


def test_the_bridges_are_tier_pools_the_paid_one_first_for_cpu() -> None:
    pools = bridge_pools()
    check_bridge_pools(pools)
    for name in pools:
        spec = services()[name]
        # A refusal names the pool by what a client on the host can dial: its published port.
        public = spec["environment"]["TICKMESH_INSTANCE_PUBLIC_ADDRESS"]
        assert public == ":".join(spec["ports"][0].split(":")[:2]), name
    shares = {name: services()[name].get("cpu_shares", 1024) for name in pools}
    paid = next(n for n, tiers in pools.items() if Tier.ENTERPRISE in tiers)
    free = next(n for n, tiers in pools.items() if tiers == {Tier.FREE})
    assert shares[paid] > 1024 > shares[free]
    assert services()["ingestion"]["cpu_shares"] == shares[paid]


def test_every_service_reaches_its_peers_by_compose_name() -> None:
    ports = {s: services()[s]["environment"][PORT_SETTINGS[s]] for s in SERVICES}
    for service in SERVICES:
        env = services()[service]["environment"]
        assert {s: env[PORT_SETTINGS[s]] for s in SERVICES} == ports, service
        for peer in SERVICES:
            assert env[env_key(f"{peer}_address")] == f"{peer}:{ports[peer]}", service
    for name, service in mesh_containers().items():
        env = services()[name]["environment"]
        # What the Hub hands out for this instance must be reachable from the others.
        assert env["TICKMESH_INSTANCE_ADDRESS"] == f"{name}:{ports[service]}", name


def test_store_urls_point_at_the_compose_stores() -> None:
    expected = {
        "TICKMESH_REDIS_URL": ("redis", 6379),
        "TICKMESH_POSTGRES_URL": ("postgres", 5432),
        "TICKMESH_CLICKHOUSE_URL": ("clickhouse", 8123),
    }
    for service in SERVICES:
        for key, value in services()[service]["environment"].items():
            if key in expected:
                # After the credentials: an interpolation's message may hold '/' or '@'.
                url = urlsplit("x://" + value.rsplit("@", 1)[-1])
                assert (url.hostname, url.port) == expected[key], f"{service} {key}"
    # Only Storage owns the databases.
    for service in set(SERVICES) - {"storage"}:
        env = services()[service]["environment"]
        assert "TICKMESH_POSTGRES_URL" not in env and "TICKMESH_CLICKHOUSE_URL" not in env


def test_dependencies_wait_for_health_and_have_no_cycle() -> None:
    graph = {}
    for name, spec in services().items():
        depends = spec.get("depends_on", {})
        for dependency, how in depends.items():
            assert how == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert "healthcheck" in services()[dependency], dependency
        graph[name] = set(depends)
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises on a cycle
    assert order.index("storage") < min(order.index(s) for s in set(SERVICES) - {"storage"})


def test_env_example_names_exactly_the_interpolated_variables() -> None:
    used = set().union(*(interpolated_names(text) for text in strings(load_compose())))
    assert used == set(read_env_file(ENV_EXAMPLE)), "deploy/env.example is out of date"
