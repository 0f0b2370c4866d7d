"""Loaders and shared facts for the static checks of deploy/ (no container engine needed)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mesh.config import SERVICES, MeshConfig, env_key, env_keys, tier_names
from mesh.temporal_server import SECTION as TEMPORAL
from mesh.temporal_server import TemporalSettings
from mesh.tier_pools import parse_pools, pool_name
from mesh.tiers import Tier
from servers.billing.app import SPEC as BILLING
from servers.bridge.app import SPEC as BRIDGE
from servers.hub.app import SPEC as HUB
from servers.ingestion.app import SPEC as INGESTION
from servers.storage.app import SPEC as STORAGE
from servers.workflow.app import SPEC as WORKFLOW

SPECS = (HUB, INGESTION, BRIDGE, STORAGE, BILLING, WORKFLOW)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
K8S_DIR = DEPLOY / "k8s"
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

KUBERNETES_VERSION = "1.30"
"""The Kubernetes release the manifests are validated against (kubernetes-validate schemas)."""

PLACEHOLDER = "CHANGE_ME"
"""The one value a secret may have in a committed file."""

SETTINGS = frozenset(
    key
    for cls, section in [
        (MeshConfig, None),
        (TemporalSettings, TEMPORAL),
        *((s.settings, s.name) for s in SPECS),
    ]
    for key in env_keys(cls, section).values()
)
"""Every TICKMESH_* variable MeshConfig and the services' own settings read."""

SECRET_SETTINGS = frozenset(
    env_key(f.name) for f in dataclasses.fields(MeshConfig) if f.metadata.get("secret")
)
PORT_SETTINGS = {service: env_key(f"{service}_port") for service in SERVICES}

Doc = dict[str, Any]

# Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, ...
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")


def load_yaml(path: Path) -> Doc:
    """The one YAML document in `path`."""
    with path.open() as fh:
        doc: Doc = yaml.safe_load(fh)
    return doc


def load_compose() -> Doc:
    """deploy/compose.yaml, merge keys resolved, interpolations left as written."""
    return load_yaml(COMPOSE_FILE)


def interpolated_names(text: str) -> set[str]:
    """The variables `text` interpolates (`${NAME...}`)."""
    return set(INTERPOLATION.findall(text))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file; comments and blank lines skipped."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def kustomization_resources() -> list[Path]:
    """The files kustomization.yaml lists, in order."""
    return [K8S_DIR / name for name in load_yaml(KUSTOMIZATION)["resources"]]


def k8s_objects() -> Iterator[tuple[Path, Doc]]:
    """Every Kubernetes object kustomization.yaml pulls in, with the file it is in."""
    for path in kustomization_resources():
        with path.open() as fh:
            for doc in yaml.safe_load_all(fh):
                if doc is not None:
                    yield path, doc


def find(kind: str, name: str) -> Doc:
    """The one object of `kind` named `name` among the Kubernetes manifests."""
    found = [
        doc for _, doc in k8s_objects() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def of_kind(kind: str) -> list[Doc]:
    """Every Kubernetes object of `kind`."""
    return [doc for _, doc in k8s_objects() if doc["kind"] == kind]


def secret_leaks(values: Mapping[str, object]) -> list[str]:
    """The keys of `values` that carry a literal secret rather than a placeholder.

    A secret is a secret setting (MeshConfig marks them), a *PASSWORD/SECRET/TOKEN variable,
    or the password part of a URL. Placeholders are CHANGE_ME and compose interpolations.
    """
    return [key for key, raw in values.items() if _is_literal_secret(key, str(raw))]


def _is_literal_secret(key: str, value: str) -> bool:
    # An interpolation can contain '/' and '@' in its message, which would confuse URL
    # parsing; stand it in with the placeholder first.
    value = INTERPOLATION.sub(PLACEHOLDER, value)
    if key in SECRET_SETTINGS or _SECRET_NAME.search(key):
        return value != PLACEHOLDER
    return "://" in value and urlsplit(value).password not in (None, PLACEHOLDER)


# Stand-ins for what the Downward API fills in at run time.
_FIELD_SAMPLES = {"status.podIP": "10.1.2.3", "spec.nodeName": "node-a"}
_DEPENDENT = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def pod_env(deployment: Doc) -> dict[str, str]:
    """The environment a Deployment's container starts with, as the kubelet builds it:
    envFrom sources first, then `env` in order with $(VAR) references expanded."""
    spec = container(deployment)
    sources = {doc["metadata"]["name"]: doc for doc in of_kind("ConfigMap") + of_kind("Secret")}
    env: dict[str, str] = {}
    for ref in spec.get("envFrom", []):
        source = sources[next(iter(ref.values()))["name"]]
        env.update(source.get("data", {}))
        env.update(source.get("stringData", {}))
    for var in spec.get("env", []):
        if "value" in var:
            env[var["name"]] = _DEPENDENT.sub(lambda m: env[m.group(1)], var["value"])
        else:
            env[var["name"]] = _FIELD_SAMPLES[var["valueFrom"]["fieldRef"]["fieldPath"]]
    return env


def dependent_names(value: str) -> set[str]:
    """The variables a Kubernetes env value refers to as $(NAME)."""
    return set(_DEPENDENT.findall(value))


def container(deployment: Doc) -> Doc:
    """The one container of a Deployment."""
    containers: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def pool_tiers(env: Mapping[str, str]) -> frozenset[Tier]:
    """The tiers a server's TICKMESH_INSTANCE_POOL gives it (empty: no pool)."""
    return frozenset(Tier(t) for t in tier_names(env.get("TICKMESH_INSTANCE_POOL", "")))


def check_bridge_pools(pools: Mapping[str, frozenset[Tier]]) -> None:
    """The deployed Bridges as `up --bridges` would start them, under the same rule (every
    tier in exactly one pool; mesh.tier_pools raises naming the tier otherwise)."""
    assert len(pools) > 1 and all(pools.values()), f"not tier pools: {pools}"
    parse_pools(",".join(pool_name(tiers) for tiers in pools.values()))
