"""deploy/k8s: what the Kubernetes schemas cannot see."""

from __future__ import annotations

import pytest

from mesh.config import SERVICES, env_key
from mesh.tiers import Tier
from tests.deploy.manifests import (
    DOCKERFILE,
    PORT_SETTINGS,
    Doc,
    check_bridge_pools,
    container,
    find,
    of_kind,
    pod_env,
    pool_tiers,
)

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def configured_port(service: str) -> int:
    """The port the ConfigMap gives `service` (what the server binds)."""
    return int(find("ConfigMap", "tickmesh-config")["data"][PORT_SETTINGS[service]])


def selects(service: Doc, deployment: Doc) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


def deployments_of(service: str) -> list[Doc]:
    """The Deployments running `service`: one, or one per pool for the Bridge."""
    found = [
        d for d in of_kind("Deployment")
        if container(d)["command"] == ["python", "-m", f"servers.{service}"]
    ]  # fmt: skip
    assert found, f"no Deployment runs {service}"
    return found


def bridge_pools() -> dict[str, frozenset[Tier]]:
    """Each Bridge Deployment's name and the tiers its pool serves (empty: every tier)."""
    return {d["metadata"]["name"]: pool_tiers(pod_env(d)) for d in deployments_of("bridge")}


def pod_spec(deployment: Doc) -> Doc:
    spec: Doc = deployment["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_the_service_on_its_port(service: str) -> None:
    assert find("Deployment", service) in deployments_of(service)
    for deployment in deployments_of(service):
        (port,) = container(deployment)["ports"]
        assert (port["name"], port["containerPort"]) == ("grpc", configured_port(service))
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()


def test_no_deployment_selects_anothers_pods() -> None:
    # Two Deployments matching the same pods (the Bridge pools share labels but the pool's)
    # would fight over them.
    deployments = of_kind("Deployment")
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"].items()
        matched = [
            d["metadata"]["name"] for d in deployments
            if selector <= d["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip
        assert matched == [deployment["metadata"]["name"]]


@pytest.mark.parametrize("service", SERVICES)
def test_tls_health_probes_and_certificates_from_the_services_secret(service: str) -> None:
    for deployment in deployments_of(service):
        spec = container(deployment)
        for probe in PROBES:
            # grpc.health.v1 over TLS (the kubelet's native gRPC probe is plaintext only).
            command = ["python", "-m", "mesh.healthcheck", service]
            assert spec[probe]["exec"] == {"command": command}, f"{service} {probe}"
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        assert volumes["certs"]["secret"]["secretName"] == f"tickmesh-tls-{service}"
        mounts = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}
        assert mounts["certs"] == "/etc/tickmesh/certs"


@pytest.mark.parametrize("service", SERVICES)
def test_service_routes_to_the_deployment(service: str) -> None:
    svc = find("Service", service)
    assert svc["spec"]["type"] == "ClusterIP"
    # Every pool's Bridges: a peer reaches the service whichever pool answers.
    assert all(selects(svc, d) for d in deployments_of(service))
    (port,) = svc["spec"]["ports"]
    assert (port["port"], port["targetPort"]) == (configured_port(service), "grpc")


@pytest.mark.parametrize("service", SERVICES)
def test_resources_and_hardening(service: str) -> None:
    for deployment in deployments_of(service):
        spec = container(deployment)
        for bound in ("requests", "limits"):
            assert set(spec["resources"][bound]) == {"cpu", "memory"}, f"{service} {bound}"
        pod = pod_spec(deployment)
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
    for deployment in deployments_of(service):
        env = pod_env(deployment)
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


def test_each_bridge_pool_autoscales_on_its_own_cpu() -> None:
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == set(bridge_pools())
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        # The HPA owns the replica count; a fixed one would reset it on every apply.
        deployment = find("Deployment", name)
        assert "replicas" not in deployment["spec"]
        assert container(deployment)["resources"]["requests"]["cpu"]
    # A drain keeps one Bridge of each pool serving.
    budgets = of_kind("PodDisruptionBudget")
    for name in hpas:
        pods = find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= pods.items()]


def test_every_tier_is_served_by_exactly_one_bridge_pool() -> None:
    check_bridge_pools(bridge_pools())


def test_the_paid_pool_gets_the_cpu_first() -> None:
    classes = {c["metadata"]["name"]: c for c in of_kind("PriorityClass")}
    priority = {}
    for name, tiers in bridge_pools().items():
        deployment = find("Deployment", name)
        priority[name] = classes[pod_spec(deployment)["priorityClassName"]]
        resources = container(deployment)["resources"]
        if Tier.ENTERPRISE in tiers:
            # Guaranteed QoS in whole cores (the static CPU manager can pin them).
            assert resources["requests"] == resources["limits"], name
            assert float(resources["requests"]["cpu"]).is_integer(), name
            paid = name
        if tiers == {Tier.FREE}:
            free = name
    assert priority[paid]["value"] > priority[free]["value"]
    assert priority[free]["preemptionPolicy"] == "Never"
    # Ingestion is every tier's upstream: the paid pool's ticks wait for it too.
    ingestion = pod_spec(find("Deployment", "ingestion"))["priorityClassName"]
    assert ingestion == priority[paid]["metadata"]["name"]
    for deployment in of_kind("Deployment"):
        assert pod_spec(deployment).get("priorityClassName", "tickmesh-premium") in classes


def test_each_bridge_pool_is_exposed_outside_the_cluster_at_its_public_address() -> None:
    exposed = [s for s in of_kind("Service") if s["spec"].get("type", "ClusterIP") != "ClusterIP"]
    for name in bridge_pools():
        deployment = find("Deployment", name)
        (balancer,) = [s for s in exposed if selects(s, deployment)]
        assert balancer["spec"]["type"] == "LoadBalancer"
        (port,) = balancer["spec"]["ports"]
        assert port["targetPort"] == "grpc"
        # What another pool's refusal names: the balancer's port (the host is the operator's
        # DNS name for it), never the pod address outside clients cannot reach.
        public = pod_env(deployment)["TICKMESH_INSTANCE_PUBLIC_ADDRESS"]
        assert public.rsplit(":", 1)[1] == str(port["port"]), name
        assert not public.startswith("10.1.2.3:")
    # One balancer per pool, and nothing else exposed: the rest stays inside the cluster.
    assert len(exposed) == len(bridge_pools())


def test_secret_placeholders_are_obvious() -> None:
    for secret in of_kind("Secret"):
        for key, value in secret["stringData"].items():
            assert "CHANGE_ME" in value, f"{secret['metadata']['name']} {key}"
