"""deploy/ against its schemas, offline, and the rules that span compose and Kubernetes.

No container engine or cluster runs in CI, so these are the checks the manifests get:
compose.yaml against the compose-spec schema vendored by check-jsonschema, every Kubernetes
object against the Kubernetes 1.30 schemas bundled by kubernetes-validate (strict: unknown
fields are errors). Both packages carry their schemas; nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from mesh.config import SERVICES, load_config
from mesh.known_settings import check_known
from tests.deploy.manifests import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    INTERPOLATION,
    K8S_DIR,
    KUBERNETES_VERSION,
    KUSTOMIZATION,
    PLACEHOLDER,
    SECRET_SETTINGS,
    SETTINGS,
    container,
    dependent_names,
    find,
    k8s_objects,
    load_compose,
    load_yaml,
    of_kind,
    pod_env,
    read_env_file,
    secret_leaks,
)

COMPOSE_SCHEMA = "vendor.compose-spec"


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """Run check-jsonschema with its vendored compose-spec schema on `path`."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", COMPOSE_SCHEMA, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_matches_the_compose_spec() -> None:
    result = check_compose_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_catches_an_unknown_key(tmp_path: Path) -> None:
    # Proves the validator is live: a misspelt key must fail, not pass silently.
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("init: true", "initt: true"))
    result = check_compose_schema(broken)
    assert result.returncode != 0 and "initt" in result.stdout


def test_every_kubernetes_object_matches_its_schema() -> None:
    failures = []
    for path, doc in k8s_objects():
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as e:
            failures.append(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {e.message}")
    assert not failures, "\n".join(failures)


def test_kubernetes_schema_check_catches_a_wrong_type() -> None:
    deployment = find("Deployment", "bridge")
    container(deployment)["livenessProbe"]["periodSeconds"] = "often"  # must be an integer
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_once() -> None:
    kustomization = load_yaml(KUSTOMIZATION)
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {KUSTOMIZATION.name}
    assert set(listed) == on_disk
    # The namespace comes from the kustomization alone, so no object pins another one.
    assert all("namespace" not in doc["metadata"] for _, doc in k8s_objects())


# --- configuration: only real settings, never a literal secret ---------------------------


def compose_tickmesh_env() -> dict[str, dict[str, str]]:
    """The environment compose gives each of the five services."""
    services = load_compose()["services"]
    return {s: {k: str(v) for k, v in services[s]["environment"].items()} for s in SERVICES}


FILLED_IN = "s3cret-value-from-env"


def interpolated(value: str) -> str:
    """`value` as compose would pass it, each ${VAR...} standing in for a filled-in secret."""
    return INTERPOLATION.sub(FILLED_IN, value)


def k8s_env_sources() -> dict[str, dict[str, str]]:
    """Each ConfigMap's and Secret's keys (what envFrom turns into variables)."""
    sources = {}
    for doc in of_kind("ConfigMap") + of_kind("Secret"):
        sources[doc["metadata"]["name"]] = {**doc.get("data", {}), **doc.get("stringData", {})}
    return sources


def test_compose_sets_only_tickmesh_settings() -> None:
    for service, env in compose_tickmesh_env().items():
        assert set(env) <= SETTINGS, f"{service}: not settings: {sorted(set(env) - SETTINGS)}"


def test_kubernetes_sets_only_tickmesh_settings() -> None:
    for name, data in k8s_env_sources().items():
        assert set(data) <= SETTINGS, f"{name}: not settings: {sorted(set(data) - SETTINGS)}"
    for deployment in of_kind("Deployment"):
        env = container(deployment).get("env", [])
        # The one exception: a Downward API value a TICKMESH_* setting is built from, as in
        # TICKMESH_INSTANCE_ADDRESS="$(POD_IP):50053" (Kubernetes cannot splice it otherwise).
        referenced = set().union(*(dependent_names(e.get("value", "")) for e in env))
        helpers = {e["name"] for e in env if "fieldRef" in e.get("valueFrom", {})} & referenced
        names = {e["name"] for e in env} - helpers
        assert names <= SETTINGS, f"{deployment['metadata']['name']}: {sorted(names - SETTINGS)}"


def test_every_service_environment_parses_as_configuration() -> None:
    # The values, not only the names, must be what load_config accepts (ports, lists, ...).
    # and every name a setting (an unknown TICKMESH_* variable stops the service).
    for env in compose_tickmesh_env().values():
        check_known(load_config({k: interpolated(v) for k, v in env.items()}))
    for deployment in of_kind("Deployment"):
        # The committed Secret holds placeholders; the operator fills them in (a mesh
        # secret is refused below 16 bytes, as CHANGE_ME is).
        env = {k: FILLED_IN if v == PLACEHOLDER else v for k, v in pod_env(deployment).items()}
        check_known(load_config(env))


def test_no_literal_secret_in_compose() -> None:
    for name, service in load_compose()["services"].items():
        leaks = secret_leaks(service.get("environment", {}))
        assert not leaks, f"compose service {name}: literal secrets in {leaks}"


def test_env_example_holds_placeholders_only() -> None:
    example = read_env_file(ENV_EXAMPLE)
    assert example and all(value == PLACEHOLDER for value in example.values()), example


def test_no_literal_secret_in_kubernetes() -> None:
    secret_keys = {key for doc in of_kind("Secret") for key in doc["stringData"]}
    for config_map in of_kind("ConfigMap"):
        data = config_map.get("data", {})
        assert not secret_leaks(data), config_map["metadata"]["name"]
        # Secret settings and credential-bearing URLs never sit in a ConfigMap, not even
        # as placeholders.
        assert not set(data) & (SECRET_SETTINGS | secret_keys), config_map["metadata"]["name"]
    for secret in of_kind("Secret"):
        # stringData only: base64 `data` would hide a real value from review.
        assert "data" not in secret, secret["metadata"]["name"]
        assert not secret_leaks(secret["stringData"]), secret["metadata"]["name"]
    for deployment in of_kind("Deployment"):
        literal = {
            e["name"]: e["value"] for e in container(deployment).get("env", []) if "value" in e
        }
        assert not secret_leaks(literal), deployment["metadata"]["name"]


def test_one_image_everywhere() -> None:
    compose_images = {load_compose()["services"][s]["image"] for s in SERVICES}
    k8s_images = {container(d)["image"] for d in of_kind("Deployment")}
    assert len(compose_images) == 1 and compose_images == k8s_images
    (image,) = compose_images
    name, _, tag = image.partition(":")
    assert tag and tag != "latest", "pin the image tag"
    overrides = load_yaml(KUSTOMIZATION).get("images", [])
    assert all(o["name"] == name for o in overrides), "kustomization images must name the image"
