"""deploy/k8s: what the Kubernetes schemas cannot see."""

from __future__ import annotations

import pytest

from mesh.config import SERVICES, env_key
from tests.deploy.manifests import (
    DOCKERFILE,
    PORT_SETTINGS,
    Doc,
    container,
    find,
    of_kind,
    pod_env,
)

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def configured_port(service: str) -> int:
    """The port the ConfigMap gives `service` (what the server binds)."""
    return int(find("ConfigMap", "tickmesh-config")["data"][PORT_SETTINGS[service]])


def selects(service: Doc, deployment: Doc) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_the_service_on_its_port(service: str) -> None:
    deployment = find("Deployment", service)
    spec = container(deployment)
    assert spec["command"] == ["python", "-m", f"servers.{service}"]
    (port,) = spec["ports"]
    assert (port["name"], port["containerPort"]) == ("grpc", configured_port(service))
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


@pytest.mark.parametrize("service", SERVICES)
def test_tls_health_probes_and_certificates_from_the_services_secret(service: str) -> None:
    deployment = find("Deployment", service)
    spec = container(deployment)
    for probe in PROBES:
        # grpc.health.v1 over TLS (the kubelet's native gRPC probe is plaintext only).
        command = ["python", "-m", "mesh.healthcheck", service]
        assert spec[probe]["exec"] == {"command": command}, f"{service} {probe}"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["certs"]["secret"]["secretName"] == f"tickmesh-tls-{service}"
    mounts = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}
    assert mounts["certs"] == "/etc/tickmesh/certs"


@pytest.mark.parametrize("service", SERVICES)
def test_service_routes_to_the_deployment(service: str) -> None:
    svc = find("Service", service)
    assert svc["spec"]["type"] == "ClusterIP"
    assert selects(svc, find("Deployment", service))
    (port,) = svc["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (configured_port(service), "grpc")


@pytest.mark.parametrize("service", SERVICES)
def test_resources_and_hardening(service: str) -> None:
    deployment = find("Deployment", service)
    spec = container(deployment)
    for bound in ("requests", "limits"):
        assert set(spec["resources"][bound]) == {"cpu", "memory"}, f"{service} {bound}"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The uid the Dockerfile creates and runs as.
    assert f"USER {pod['securityContext']['runAsUser']}:" in DOCKERFILE.read_text()
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False


def test_peers_are_reached_through_their_services() -> None:
    data = find("ConfigMap", "tickmesh-config")["data"]
    assert data["TICKMESH_HOST"] == "0.0.0.0"
    for service in SERVICES:
        port = find("Service", service)["spec"]["ports"][0]["port"]
        assert data[env_key(f"{service}_address")] == f"{service}:{port}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_replica_registers_its_own_address(service: str) -> None:
    env = pod_env(find("Deployment", service))
    # The pod's IP (the Downward API sample) and the server's port: one replica, not all.
    assert env["TICKMESH_INSTANCE_ADDRESS"] == f"10.1.2.3:{configured_port(service)}"


def test_env_comes_from_the_configmap_and_secrets() -> None:
    names = {d["metadata"]["name"] for d in of_kind("ConfigMap") + of_kind("Secret")}
    for deployment in of_kind("Deployment"):
        service = deployment["metadata"]["name"]
        refs = [next(iter(r.values()))["name"] for r in container(deployment)["envFrom"]]
        assert set(refs) <= names, f"{service} refers to a missing ConfigMap or Secret"
        assert refs[:2] == ["tickmesh-config", "tickmesh-secrets"], service
        # Database credentials reach Storage alone.
        assert ("tickmesh-storage-secrets" in refs) == (service == "storage"), service


def test_bridge_autoscales_on_cpu() -> None:
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bridge"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # The HPA owns the replica count; a fixed one would reset it on every apply.
    assert "replicas" not in find("Deployment", "bridge")["spec"]
    assert container(find("Deployment", "bridge"))["resources"]["requests"]["cpu"]


def test_bridge_is_exposed_outside_the_cluster() -> None:
    bridge = find("Deployment", "bridge")
    exposed = [
        s
        for s in of_kind("Service")
        if s["spec"].get("type") in ("LoadBalancer", "NodePort") and selects(s, bridge)
    ]
    assert len(exposed) == 1
    (port,) = exposed[0]["spec"]["ports"]
    assert port["targetPort"] == "grpc"
    # Nothing else is exposed: every other service is reached only inside the cluster.
    others = [s for s in of_kind("Service") if s["spec"].get("type", "ClusterIP") != "ClusterIP"]
    assert others == exposed


def test_secret_placeholders_are_obvious() -> None:
    for secret in of_kind("Secret"):
        for key, value in secret["stringData"].items():
            assert "CHANGE_ME" in value, f"{secret['metadata']['name']} {key}"
