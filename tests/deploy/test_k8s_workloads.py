"""The workloads: each service's Deployment, Service, PodDisruptionBudget (and HPA for the gateway
and the executor), hardened pods, and the executor's sandbox given exactly what it needs."""
from __future__ import annotations

from typing import Any

import pytest

from k8s_render import ROOT
import k8s_facts

SCALED = ("gateway", "executor")  # stateless enough to scale on load (docs/deploy.md, "Scaling")


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def deployment(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def setting(objects: list[dict[str, Any]], service: str, name: str) -> str | None:
    """A setting's value for a service, from the ConfigMaps its container reads."""
    config = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    value = None
    for c in pod_spec(deployment(objects, service))["containers"]:
        if c["name"] == "service":
            for source in c.get("envFrom", []):
                value = config.get(source.get("configMapRef", {}).get("name"), {}).get(name, value)
            for var in c.get("env", []):
                value = var.get("value", value) if var["name"] == name else value
    return value


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def is_sandbox_host(obj: dict[str, Any], container: dict[str, Any], objects: list[dict[str, Any]]) -> bool:
    """The executor's service container, running local runtimes: the one allowed its exceptions."""
    return (obj["metadata"]["name"] == "executor" and container["name"] == "service"
            and setting(objects, "executor", "FEATHER_RUNTIME_BACKEND") == "local")


def is_docker_daemon(obj: dict[str, Any], container: dict[str, Any], objects: list[dict[str, Any]]) -> bool:
    """The builder's Docker daemon sidecar, which building Lambda images needs."""
    return (obj["metadata"]["name"] == "builder" and container["name"] == "docker"
            and setting(objects, "builder", "FEATHER_RUNTIME_BACKEND") == "lambda")


@pytest.mark.parametrize("service", k8s_facts.services())
def test_a_deployment_per_service_runs_its_module(objects: list[dict[str, Any]], service: str) -> None:
    spec = pod_spec(deployment(objects, service))
    main = next(c for c in spec["containers"] if c["name"] == "service")
    assert main.get("args") == [f"services.{service}"] and "command" not in main, \
        f"{service}: the image's entry point runs `python -m <args>`"
    assert (ROOT / "services" / service / "__main__.py").is_file()


def test_one_image_for_all_services(objects: list[dict[str, Any]]) -> None:
    images = {c["image"] for s in k8s_facts.services() for c in containers(pod_spec(deployment(objects, s)))
              if c["name"] != "docker"}
    assert len(images) == 1, f"deploy/docker/services.Dockerfile makes one image for all services, not {images}"
    assert ":" in next(iter(images)).rpartition("/")[2] and not next(iter(images)).endswith(":latest"), "a pinned tag"


def test_every_container_has_requests_and_limits(objects: list[dict[str, Any]]) -> None:
    for obj in workloads(objects):
        for c in containers(pod_spec(obj)):
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(kind) or {}), f"{obj['metadata']['name']}/{c['name']}: {kind}"


@pytest.mark.parametrize("service", k8s_facts.services())
def test_probes_on_healthz(objects: list[dict[str, Any]], service: str) -> None:
    main = next(c for c in pod_spec(deployment(objects, service))["containers"] if c["name"] == "service")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = (main.get(probe) or {}).get("httpGet") or {}
        assert get.get("path") == "/healthz" and get.get("port") == "http", f"{service}: {probe} on /healthz"
    # /healthz also reads the store: liveness must outlast a failover (~30 s) before restarting
    live = main["livenessProbe"]
    assert live.get("periodSeconds", 10) * live.get("failureThreshold", 3) >= 60, f"{service}: liveness too eager"


def test_pods_are_hardened(objects: list[dict[str, Any]]) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, every capability dropped,
    RuntimeDefault seccomp: everywhere but the two spelled-out exceptions."""
    problems = []
    for obj in workloads(objects):
        spec, name = pod_spec(obj), obj["metadata"]["name"]
        pod = spec.get("securityContext") or {}
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token it does not use")
        for c in containers(spec):
            sc = c.get("securityContext") or {}
            where = f"{name}/{c['name']}"
            if is_docker_daemon(obj, c, objects):
                if not sc.get("privileged"):
                    problems.append(f"{where}: a Docker daemon needs privileged: true")
                continue
            if not sc.get("runAsNonRoot", pod.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot")
            if sc.get("runAsUser", pod.get("runAsUser")) in (None, 0):
                problems.append(f"{where}: a non-root runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation: false")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = sc.get("capabilities") or {}
            if caps.get("drop") != ["ALL"] or caps.get("add"):
                problems.append(f"{where}: capabilities drop ALL, add none (got {caps})")
            seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
            apparmor = (sc.get("appArmorProfile") or pod.get("appArmorProfile") or {}).get("type")
            if is_sandbox_host(obj, c, objects):
                continue  # test_executor_sandbox_gets_exactly_what_it_needs
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{where}: seccomp {seccomp}, not RuntimeDefault")
            if apparmor == "Unconfined" or sc.get("procMount", "Default") != "Default":
                problems.append(f"{where}: AppArmor unconfined or /proc unmasked")
        if spec.get("hostUsers") is False and name != "executor":
            problems.append(f"{name}: hostUsers false is for the executor's sandbox")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                problems.append(f"{name}: {key}")
        if any("hostPath" in v for v in spec.get("volumes", [])):
            problems.append(f"{name}: a hostPath volume")
    assert not problems, "\n".join(problems)


def test_executor_sandbox_gets_exactly_what_it_needs(objects: list[dict[str, Any]], overlay: str) -> None:
    executor = deployment(objects, "executor")
    spec = pod_spec(executor)
    main = next(c for c in spec["containers"] if c["name"] == "service")
    sc = main.get("securityContext") or {}
    seccomp = (sc.get("seccompProfile") or spec["securityContext"].get("seccompProfile") or {}).get("type")
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if setting(objects, "executor", "FEATHER_RUNTIME_BACKEND") != "local":
        # no model code runs here: none of the exceptions
        assert spec.get("hostUsers") is not False and sc.get("procMount", "Default") == "Default"
        assert seccomp == "RuntimeDefault" and apparmor in (None, "RuntimeDefault"), f"{overlay}: executor unconfined for nothing"
        return
    assert setting(objects, "executor", "FEATHER_SANDBOX") == "required"
    # bubblewrap's unprivileged user namespace, as a non-root user (services/executor/sandbox.py)
    assert spec.get("hostUsers") is False, "a user namespace for the pod: Kubernetes allows procMount Unmasked only then"
    assert sc.get("procMount") == "Unmasked", "bubblewrap mounts a fresh /proc: the runtime's masks forbid it"
    assert seccomp in ("Unconfined", "Localhost"), "RuntimeDefault refuses unshare, mount and pivot_root without CAP_SYS_ADMIN"
    assert apparmor in ("Unconfined", "Localhost"), "the runtime's AppArmor profile denies mount"
    assert not (sc.get("capabilities") or {}).get("add"), "the unprivileged way needs no capability"
    assert spec["securityContext"].get("runAsUser") not in (None, 0), "non-root: the user-namespace way"
    # the runtimes the builder wrote, read-only, at the paths it recorded
    builder = pod_spec(deployment(objects, "builder"))
    builder_mount = next(m for m in builder["containers"][0]["volumeMounts"] if m["name"] == "runtimes")
    runtime_mounts = [m for m in main["volumeMounts"] if m["name"] == "runtimes"]
    assert runtime_mounts and all(m.get("readOnly") for m in runtime_mounts), "runtimes mounted read-only"
    for m in runtime_mounts:
        assert m["mountPath"] == f"{builder_mount['mountPath']}/{m['subPath']}", f"{m} is not where the builder wrote it"
    data_dir = setting(objects, "executor", "FEATHER_DATA_DIR")
    assert setting(objects, "builder", "FEATHER_DATA_DIR") == data_dir
    own = next(m for m in main["volumeMounts"] if m["mountPath"] == data_dir)
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == own["name"]), \
        "the sandbox's scratch folders are named by pid: one data folder per pod"
    claims = [(next(v for v in pod["volumes"] if v["name"] == "runtimes").get("persistentVolumeClaim") or {}).get("claimName")
              for pod in (spec, builder)]
    claim = claims[0]
    assert claim and claims[0] == claims[1], f"{overlay}: builder and executor share a claim for local runtimes"
    pvc = next(o for o in objects if o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == claim)
    assert "ReadWriteMany" in pvc["spec"]["accessModes"], "builders and executors on any node share it"


@pytest.mark.parametrize("service", k8s_facts.services())
def test_service_and_disruption_budget(objects: list[dict[str, Any]], service: str) -> None:
    labels = deployment(objects, service)["spec"]["template"]["metadata"]["labels"]
    svc = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == service)
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP" and matches(svc["spec"]["selector"], labels)
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]}["http"] == k8s_facts.default_port(service)
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget" and matches(o["spec"]["selector"]["matchLabels"], labels)]
    assert len(pdbs) == 1, f"{service}: one PodDisruptionBudget"
    # a budget that allows no eviction blocks every node drain of a one-replica service
    assert pdbs[0]["spec"].get("maxUnavailable", 0) >= 1 or "minAvailable" in pdbs[0]["spec"]


@pytest.mark.parametrize("service", SCALED)
def test_hpa_for_the_stateless_services(objects: list[dict[str, Any]], service: str) -> None:
    hpa = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"]["name"] == service]
    assert len(hpa) == 1 and hpa[0]["apiVersion"] == "autoscaling/v2", f"{service}: an autoscaling/v2 HPA"
    assert hpa[0]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa[0]["spec"]["minReplicas"] <= hpa[0]["spec"]["maxReplicas"]
    assert "replicas" not in deployment(objects, service)["spec"], f"{service}: the HPA owns the replica count"


def test_only_the_gateway_is_exposed(objects: list[dict[str, Any]]) -> None:
    ingresses = [o for o in objects if o["kind"] == "Ingress"]
    assert len(ingresses) == 1
    backends = {p["backend"]["service"]["name"] for r in ingresses[0]["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"gateway"}
    for path in (p for r in ingresses[0]["spec"]["rules"] for p in r["http"]["paths"]):
        assert path["backend"]["service"]["port"] == {"name": "http"}, "the public port, never the admin one"
    exposed = [o["metadata"]["name"] for o in objects if o["kind"] == "Service" and o["spec"].get("type") in ("NodePort", "LoadBalancer")]
    assert not exposed, f"Services reachable from outside the cluster: {exposed}"


def test_namespace_pod_security_labels(objects: list[dict[str, Any]]) -> None:
    labels = next(o for o in objects if o["kind"] == "Namespace")["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/warn") == "restricted"
    assert labels.get("pod-security.kubernetes.io/audit") == "restricted"
    assert labels.get("pod-security.kubernetes.io/enforce") in ("privileged", "baseline", "restricted")
