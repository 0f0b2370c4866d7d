"""The Bridge processes `up` starts for TICKMESH_BRIDGES: ports, pools and priority."""

from __future__ import annotations

import pytest

from mesh import launcher
from mesh.config import ConfigError, load_config
from mesh.launcher import bridge_children, service_children
from mesh.ports import service_ports


def test_one_bridge_by_default_on_its_port_with_no_pool() -> None:
    config = load_config({"TICKMESH_BRIDGE_PORT": "6000"})
    (only,) = bridge_children(config)
    assert (only.service, only.address, only.module, dict(only.env), only.nice) == (
        "bridge", "127.0.0.1:6000", "bridge", {}, 0,
    )  # fmt: skip


def test_pools_get_their_tiers_their_own_ports_and_free_a_lower_priority() -> None:
    config = load_config({"TICKMESH_BRIDGES": "enterprise+pro,free*2"})
    paid, free1, free2 = bridge_children(config)
    assert [c.service for c in (paid, free1, free2)] == ["bridge", "bridge-2", "bridge-3"]
    assert paid.address == config.address_of("bridge") and "TICKMESH_BRIDGE_PORT" not in paid.env
    assert paid.env["TICKMESH_INSTANCE_POOL"] == "enterprise,pro" and paid.nice == 0
    ports = {int(c.env["TICKMESH_BRIDGE_PORT"]) for c in (free1, free2)}
    assert len(ports) == 2 and not ports & service_ports(config)
    assert {c.address for c in (free1, free2)} == {f"127.0.0.1:{p}" for p in ports}
    assert all(c.env["TICKMESH_INSTANCE_POOL"] == "free" and c.nice == 10 for c in (free1, free2))


def test_unpooled_bridges_keep_the_normal_priority() -> None:
    config = load_config({"TICKMESH_BRIDGES": "2", "TICKMESH_BRIDGE_POOL_NICE": "5"})
    assert [(c.nice, "TICKMESH_INSTANCE_POOL" in c.env) for c in bridge_children(config)] == [
        (0, False), (0, False),
    ]  # fmt: skip


def test_a_bad_spec_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="TICKMESH_BRIDGES: no pool serves free"):
        load_config({"TICKMESH_BRIDGES": "enterprise+pro"})


def test_each_pool_runs_at_the_priority_of_its_richest_tier() -> None:
    config = load_config(
        {"TICKMESH_BRIDGES": "enterprise,pro,free", "TICKMESH_BRIDGE_ENTERPRISE_NICE": "-5"}
    )
    assert [c.nice for c in bridge_children(config)] == [-5, 0, 10]


def test_a_higher_priority_than_the_process_may_give_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_config({"TICKMESH_BRIDGE_ENTERPRISE_NICE": "-10"})
    monkeypatch.setattr(launcher.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(launcher.resource, "getrlimit", lambda _which: (0, 0))
    with pytest.raises(ConfigError, match="TICKMESH_BRIDGE_ENTERPRISE_NICE=-10: a negative"):
        launcher.check_niceness(config)
    monkeypatch.setattr(launcher.resource, "getrlimit", lambda _which: (30, 30))
    launcher.check_niceness(config)  # RLIMIT_NICE 30 allows down to -10
    with pytest.raises(ConfigError, match="from -20 to 19"):
        load_config({"TICKMESH_BRIDGE_ENTERPRISE_NICE": "20"})


def test_ingestion_is_on_the_enterprise_path_and_the_rest_keep_the_default() -> None:
    config = load_config({"TICKMESH_BRIDGE_ENTERPRISE_NICE": "-3"})
    assert [c.nice for c in service_children(config, "ingestion")] == [-3]
    assert [c.nice for c in service_children(config, "storage")] == [0]
    assert [c.service for c in service_children(config, "bridge")] == ["bridge"]
