"""deploy/examples/sidecar: an app pod with `tickmesh sidecar` as a native sidecar container."""

from __future__ import annotations

import kubernetes_validate
import yaml

from tests.deploy.manifests import DEPLOY, KUBERNETES_VERSION, PLACEHOLDER, Doc, find, load_yaml
from tickmesh_cli.main import build_parser

EXAMPLE = DEPLOY / "examples" / "sidecar" / "app-with-sidecar.yaml"


def objects() -> dict[str, Doc]:
    with EXAMPLE.open() as fh:
        return {doc["kind"]: doc for doc in yaml.safe_load_all(fh) if doc}


def sidecar_container() -> Doc:
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    (sidecar,) = pod["initContainers"]
    return sidecar


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_object_matches_its_schema() -> None:
    for doc in objects().values():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_sidecar_starts_before_the_app_and_keeps_running() -> None:
    sidecar = sidecar_container()
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar, not a one-shot init
    assert (
        sidecar["image"]
        == find("Deployment", "hub")["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    # The command parses as the CLI's own sidecar command.
    command = sidecar["command"]
    assert command[:2] == ["tickmesh", "sidecar"]
    args = build_parser().parse_args(command[1:])
    assert args.command == "sidecar" and not args.allow_remote
    for probe in ("startupProbe", "readinessProbe"):
        assert sidecar[probe]["exec"]["command"][-2:] == ["15001", "127.0.0.1"]


def test_the_app_talks_to_the_sidecar_on_loopback() -> None:
    listen = option(sidecar_container()["command"], "--listen")
    assert listen.startswith("127.0.0.1:")
    (app,) = objects()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "MARKET_DATA_TARGET", "value": listen} in app["env"]


def test_the_key_comes_from_a_secret_file_with_a_placeholder() -> None:
    sidecar = sidecar_container()
    key_file = option(sidecar["command"], "--key-file")
    (mount,) = [m for m in sidecar["volumeMounts"] if key_file.startswith(m["mountPath"])]
    assert mount["readOnly"] is True
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret = objects()["Secret"]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert secret["stringData"] == {key_file.rsplit("/", 1)[1]: PLACEHOLDER}
    # Never in the environment, where `kubectl describe` and crash dumps would show it.
    assert all("secretKeyRef" not in str(e) for e in sidecar.get("env", []))


def test_the_hub_address_names_the_mesh_service() -> None:
    hub = option(sidecar_container()["command"], "--hub")
    port = load_yaml(DEPLOY / "k8s" / "config.yaml")["data"]["TICKMESH_HUB_PORT"]
    assert hub == f"hub.tickmesh.svc.cluster.local:{port}"
