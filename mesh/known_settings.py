"""Every setting of the mesh, so a misspelt TICKMESH_* variable or config table is an error.

An unknown key in the config file was always refused; an unknown TICKMESH_* variable was
ignored, so `TICKMESH_BRIDGE_PRT=1` ran the Bridge on its default port without a word.
`check_known` refuses both, with the closest known name. It needs every section's settings
class, listed here as import paths: mesh/ never imports servers/ (ARCHITECTURE.md), and
they are imported only when a command checks its configuration.

A new settings section (a `load_settings(cls, config, section)` somewhere) gets a line in
SECTIONS; a TICKMESH_* variable read outside the settings gets one in OTHER_VARIABLES.
tests/unit/mesh/test_known_settings.py fails for any TICKMESH_* name in the repository
that is in neither, and for any setting without a row in the README.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from functools import cache

from mesh.config import ENV_PREFIX, ConfigError, MeshConfig, did_you_mean, env_keys

SECTIONS: Mapping[str, str] = {
    "hub": "servers.hub.settings:HubSettings",
    "ingestion": "servers.ingestion.settings:IngestionSettings",
    "bridge": "servers.bridge.settings:BridgeSettings",
    "storage": "servers.storage.settings:StorageSettings",
    "billing": "servers.billing.settings:BillingSettings",
    "workflow": "servers.workflow.settings:WorkflowSettings",
    "temporal": "mesh.temporal_server:TemporalSettings",
    "launcher": "mesh.supervisor:RestartPolicy",
    "shared_store": "mesh.shared_store:StoreSettings",
    "console": "console.settings:ConsoleSettings",
}
"""Config-file table (and TICKMESH_<SECTION>_ prefix) -> `module:SettingsClass`."""

OTHER_VARIABLES: Mapping[str, str] = {
    "TICKMESH_CONFIG": "the TOML config file (mesh.config)",
    "TICKMESH_CA": "the mesh CA clients trust (mesh.transport, clients/tls.py)",
    "TICKMESH_TEST_POSTGRES_URL": "the PostgreSQL the tests use (tests/support/backing.py, doctor)",
    "TICKMESH_TEST_REDIS_URL": "the Redis the tests use (tests/support/backing.py, doctor)",
    "TICKMESH_COMPONENT": "set by `up` in each child: the service it runs",
    "TICKMESH_CONSOLE_NODE_MODULES": "where the console finds its npm packages (the image)",
    "TICKMESH_BENCH_OPERATOR": "the operator key a benchmark's mesh is started with (bench/)",
}
"""Variables read outside the settings classes, and who reads them."""


def section_settings(section: str) -> type | None:
    """The settings class of `section`, one of SECTIONS; None for a section with none."""
    path = SECTIONS[section]
    if not path:
        return None
    module, _, name = path.partition(":")
    cls: type = getattr(importlib.import_module(module), name)
    return cls


@cache
def known_variables() -> dict[str, str]:
    """Every TICKMESH_* variable the mesh reads -> where it belongs (`mesh` for the shared
    configuration, a section's name, or what reads it)."""
    known = {key: "mesh" for key in env_keys(MeshConfig).values()}
    for section in SECTIONS:
        cls = section_settings(section)
        if cls is not None:
            known.update({key: section for key in env_keys(cls, section).values()})
    known.update(OTHER_VARIABLES)
    return known


def section_fields(section: str) -> list[str]:
    """The config-file keys of `section`'s table."""
    cls = section_settings(section)
    if cls is None:
        return []
    return [f.name for f in dataclasses.fields(cls) if "cast" in f.metadata]


def check_known(config: MeshConfig) -> None:
    """Raise ConfigError for the first TICKMESH_* variable or config-file table that no
    setting reads, naming the closest known one."""
    known = known_variables()
    for name in sorted(config.sources.env):
        if name.startswith(ENV_PREFIX) and name not in known:
            hint = did_you_mean(name, known)
            raise ConfigError(
                f"{name}: unknown setting"
                + (f"; did you mean {hint}?" if hint else "")
                + " (every TICKMESH_* variable must be one: README, Configuration)"
            )
    for table, value in config.sources.file.items():
        if isinstance(value, dict) and table not in SECTIONS:
            hint = did_you_mean(table, SECTIONS)
            raise ConfigError(
                f"{config.sources.path}: unknown table [{table}]"
                + (f"; did you mean [{hint}]?" if hint else f"; tables: {', '.join(SECTIONS)}")
            )
