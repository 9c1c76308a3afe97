"""The NetworkPolicies, evaluated: who may reach whom in each overlay.

A small model of the NetworkPolicy semantics (additive allow rules over a default deny; pod,
namespace and ipBlock peers; numbered and named ports) is asked the questions the design answers:
only the gateway is reachable from outside; the gateway alone calls other services; every service
reaches DNS, the broker, the store and the blob store; the builder reaches the package index;
Prometheus reaches /metrics; nothing reaches the cloud's metadata address.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

import k8s_facts

NAMESPACE = "feather"


@dataclass(frozen=True)
class Pod:
    name: str
    labels: dict[str, str]
    namespace: str = NAMESPACE
    ports: dict[str, int] = field(default_factory=dict)  # named ports


@dataclass(frozen=True)
class Address:
    ip: str


Target = Pod | Address


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        has, value = expr["key"] in labels, labels.get(expr["key"])
        op = expr["operator"]
        if (op == "In" and value not in expr["values"]) or (op == "NotIn" and value in expr["values"]) \
                or (op == "Exists" and not has) or (op == "DoesNotExist" and has):
            return False
    return True


def _peer_matches(peer: dict[str, Any], other: Target) -> bool:
    if "ipBlock" in peer:
        if not isinstance(other, Address):
            return False  # pod traffic inside the cluster is matched by selectors (pod IPs aside)
        ip = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        net = ipaddress.ip_network(block["cidr"])
        return ip.version == net.version and ip in net and not any(
            ip.version == ipaddress.ip_network(e).version and ip in ipaddress.ip_network(e) for e in block.get("except", []))
    if not isinstance(other, Pod):
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other.namespace}):
            return False
    elif other.namespace != NAMESPACE:
        return False
    return "podSelector" not in peer or _selects(peer["podSelector"], other.labels)


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str, owner: Target) -> bool:
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        wanted = p.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            wanted = owner.ports.get(wanted) if isinstance(owner, Pod) else None
        if wanted is not None and (wanted == port or wanted <= port <= p.get("endPort", wanted)):
            return True
    return False


class Network:
    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
        # Strimzi makes the ingress policy of its brokers itself: each listener's port, open to
        # its networkPolicyPeers (to everyone without them)
        for kafka in (o for o in objects if o["kind"] == "Kafka"):
            self.policies.append({"kind": "NetworkPolicy", "spec": {
                "podSelector": {"matchLabels": {"strimzi.io/cluster": kafka["metadata"]["name"], "strimzi.io/kind": "Kafka"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": listener.get("networkPolicyPeers") or [], "ports": [{"port": listener["port"]}]}
                            for listener in kafka["spec"]["kafka"]["listeners"]]}})

    def _applies(self, pod: Pod, direction: str) -> list[dict[str, Any]]:
        return [p for p in self.policies if pod.namespace == NAMESPACE and _selects(p["spec"]["podSelector"], pod.labels)
                and direction in p["spec"].get("policyTypes", ["Ingress"])]

    def ingress(self, source: Target, dest: Pod, port: int, protocol: str = "TCP") -> bool:
        if dest.namespace != NAMESPACE:
            return True  # not ours to police
        policies = self._applies(dest, "Ingress")
        if not policies:
            return True  # a pod no policy selects is not isolated
        rules = [r for p in policies for r in p["spec"].get("ingress") or []]
        return any((not r.get("from") or any(_peer_matches(peer, source) for peer in r["from"]))
                   and _port_matches(r.get("ports"), port, protocol, dest) for r in rules)

    def egress(self, source: Pod, dest: Target, port: int, protocol: str = "TCP") -> bool:
        policies = self._applies(source, "Egress")
        if not policies:
            return True
        rules = [r for p in policies for r in p["spec"].get("egress") or []]
        return any((not r.get("to") or any(_peer_matches(peer, dest) for peer in r["to"]))
                   and _port_matches(r.get("ports"), port, protocol, dest) for r in rules)

    def reaches(self, source: Target, dest: Target, port: int, protocol: str = "TCP") -> bool:
        out = self.egress(source, dest, port, protocol) if isinstance(source, Pod) and source.namespace == NAMESPACE else True
        into = self.ingress(source, dest, port, protocol) if isinstance(dest, Pod) else True
        return out and into


def pods(objects: list[dict[str, Any]]) -> dict[str, Pod]:
    found = {}
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            template = o["spec"]["template"]
            ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
            found[o["metadata"]["name"]] = Pod(o["metadata"]["name"], template["metadata"].get("labels") or {}, ports=ports)
    for kafka in (o for o in objects if o["kind"] == "Kafka"):  # the pods Strimzi makes for it
        found["kafka-broker"] = Pod("kafka-broker", {"strimzi.io/cluster": kafka["metadata"]["name"], "strimzi.io/kind": "Kafka",
                                                     "strimzi.io/broker-role": "true"}, ports={})
    return found


DNS = Pod("coredns", {"k8s-app": "kube-dns"}, namespace="kube-system", ports={"dns": 53})
INGRESS_CONTROLLER = Pod("ingress-nginx-controller", {"app.kubernetes.io/name": "ingress-nginx"}, namespace="ingress-nginx")
PROMETHEUS = Pod("prometheus", {"app.kubernetes.io/name": "prometheus"}, namespace="monitoring")
STRANGER = Pod("elsewhere", {"app": "x"}, namespace="default")
PUBLIC = Address("151.101.0.223")  # a public address (the package index, a webhook receiver, AWS)
VPC = Address("10.0.12.34")  # inside the aws overlay's VPC (MSK, the store, the ALB's subnets)
METADATA = Address("169.254.169.254")


@pytest.fixture
def net(objects: list[dict[str, Any]]) -> Network:
    return Network(objects)


@pytest.fixture
def cluster(objects: list[dict[str, Any]]) -> dict[str, Pod]:
    return pods(objects)


def test_default_deny(objects: list[dict[str, Any]]) -> None:
    deny = [p for p in objects if p["kind"] == "NetworkPolicy" and p["spec"]["podSelector"] == {}
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert deny, "a policy that denies every pod all traffic, which the others open up"


def test_only_the_gateway_is_reachable_from_outside(net: Network, cluster: dict[str, Pod], overlay: str) -> None:
    outside = [INGRESS_CONTROLLER, STRANGER, PUBLIC, VPC]
    for name, pod in cluster.items():
        for port in {*pod.ports.values(), 8080, 8081, 8082, 8083, 8084, 9090, 27017, 9000}:
            for source in outside:
                allowed = net.ingress(source, pod, port)
                public_port = name == "gateway" and port == pod.ports["http"]
                if allowed and not public_port:
                    pytest.fail(f"{overlay}: {source} reaches {name}:{port}")
    gateway = cluster["gateway"]
    assert any(net.ingress(s, gateway, gateway.ports["http"]) for s in (INGRESS_CONTROLLER, VPC)), \
        f"{overlay}: the ingress (controller or load balancer) cannot reach the gateway"


def test_the_gateway_alone_calls_other_services(net: Network, cluster: dict[str, Pod], overlay: str) -> None:
    services = k8s_facts.services()
    for a in services:
        for b in services:
            if a == b:
                continue
            port = k8s_facts.default_port(b)
            expected = a == "gateway"
            assert net.reaches(cluster[a], cluster[b], port) == expected, \
                f"{overlay}: {a} -> {b}:{port} should be {'allowed' if expected else 'denied'}"


@pytest.mark.parametrize("service", k8s_facts.services())
def test_each_service_reaches_dns_broker_store_and_blobs(net: Network, cluster: dict[str, Pod], overlay: str,
                                                          service: str) -> None:
    pod = cluster[service]
    assert net.egress(pod, DNS, 53, "UDP") and net.egress(pod, DNS, 53, "TCP"), f"{overlay}/{service}: DNS"
    if "mongo" in cluster:  # dev: the broker, the store and MinIO run in the namespace
        targets = [(cluster["kafka-broker"], 9093), (cluster["mongo"], 27017), (cluster["minio"], 9000)]
    else:  # aws: MSK and the store in the VPC, S3 on its public endpoint
        targets = [(VPC, 9096), (VPC, 27017), (PUBLIC, 443)]
    for target, port in targets:
        assert net.reaches(pod, target, port), f"{overlay}/{service} cannot reach {target}:{port}"
    assert not net.egress(pod, METADATA, 80), f"{overlay}/{service} reaches the cloud's metadata address"


def test_what_reaches_the_internet(net: Network, cluster: dict[str, Pod], overlay: str) -> None:
    # links and webhooks (gateway), alert webhooks (telemetry), the package index (builder)
    for service in ("gateway", "telemetry", "builder"):
        assert net.egress(cluster[service], PUBLIC, 443), f"{overlay}/{service} cannot reach public addresses"
    if "mongo" in cluster:
        # the local runtime backend: the executor runs models with no network at all
        for service in ("executor", "registry"):
            assert not net.egress(cluster[service], PUBLIC, 443), f"{overlay}/{service} reaches the internet for nothing"


def test_backing_services_take_only_the_services(net: Network, cluster: dict[str, Pod], overlay: str) -> None:
    for name, port in (("mongo", 27017), ("minio", 9000)):
        if name not in cluster:
            continue
        allowed = {p for p, pod in cluster.items() if net.reaches(pod, cluster[name], port)}
        assert set(k8s_facts.services()) <= allowed, f"{overlay}: not every service reaches {name}"
        assert allowed <= {*k8s_facts.services(), name, "mongo-init-replica-set"}, f"{overlay}: {name} takes {allowed}"
        assert not net.ingress(STRANGER, cluster[name], port)


@pytest.mark.parametrize("service", k8s_facts.services())
def test_prometheus_scrapes_metrics(net: Network, cluster: dict[str, Pod], overlay: str, service: str) -> None:
    pod = cluster[service]
    port = pod.ports.get("metrics", pod.ports["http"])  # the gateway's on its admin port
    assert net.ingress(PROMETHEUS, pod, port), f"{overlay}: Prometheus cannot scrape {service}:{port}"


def test_the_model_knows_a_deny_when_it_sees_one() -> None:
    """The evaluator must not allow by accident: an empty namespace of policies allows all, and
    a lone default deny allows nothing."""
    a, b = Pod("a", {"x": "1"}, ports={"http": 80}), Pod("b", {"x": "2"}, ports={"http": 80})
    assert Network([]).reaches(a, b, 80)
    deny = {"kind": "NetworkPolicy", "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert not Network([deny]).reaches(a, b, 80)
    allow = {"kind": "NetworkPolicy", "spec": {"podSelector": {"matchLabels": {"x": "2"}}, "policyTypes": ["Ingress"],
                                               "ingress": [{"from": [{"podSelector": {"matchLabels": {"x": "1"}}}],
                                                            "ports": [{"port": "http"}]}]}}
    out = {"kind": "NetworkPolicy", "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                                             "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}]}}
    net = Network([deny, allow, out])
    assert not net.reaches(a, b, 80)  # ingress allowed, egress of a still denied to pods
    assert Network([deny, allow, {"kind": "NetworkPolicy", "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                                                                      "egress": [{}]}}]).reaches(a, b, 80)
    assert net.egress(a, Address("8.8.8.8"), 53) and not net.egress(a, Address("10.1.2.3"), 53)
