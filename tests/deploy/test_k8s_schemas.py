"""Every object an overlay renders is valid: built-in kinds against Kubernetes' own schemas,
Strimzi's against the required fields of its kafka.strimzi.io/v1 API; nothing else may appear."""
from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from k8s_render import KUBERNETES_VERSION

STRIMZI = "kafka.strimzi.io/v1"
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}


def builtin(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def where(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def test_every_object_is_of_a_known_api(objects: list[dict[str, Any]]) -> None:
    unknown = [f"{where(o)} ({o['apiVersion']})" for o in objects
               if not builtin(o) and not (o["apiVersion"] == STRIMZI and o["kind"] in STRIMZI_KINDS)]
    assert not unknown, f"objects neither built in nor Strimzi {STRIMZI}: {unknown}"


def test_builtin_objects_validate_strictly(objects: list[dict[str, Any]]) -> None:
    problems = []
    for obj in filter(builtin, objects):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where(obj)}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where(obj)}: {obj['apiVersion']} {obj['kind']} is not in Kubernetes {KUBERNETES_VERSION}")
    assert not problems, "\n".join(problems)


def test_every_object_has_a_namespace_but_the_namespace(objects: list[dict[str, Any]]) -> None:
    namespaces = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    assert len(namespaces) == 1, f"one namespace expected, got {namespaces}"
    stray = [where(o) for o in objects if o["kind"] != "Namespace" and o["metadata"].get("namespace") not in namespaces]
    assert not stray, f"objects outside {namespaces}: {stray}"


# --- Strimzi, from its v1 API reference: required fields and the values feather relies on -----

def _missing(obj: dict[str, Any], *paths: str) -> list[str]:
    out = []
    for path in paths:
        node: Any = obj
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                out.append(f"{where(obj)}: {path} is required")
                break
            node = node[key]
    return out


def strimzi_problems(objects: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    of = lambda kind: [o for o in objects if o["apiVersion"] == STRIMZI and o["kind"] == kind]  # noqa: E731
    clusters = {o["metadata"]["name"] for o in of("Kafka")}
    for kafka in of("Kafka"):
        problems += _missing(kafka, "spec.kafka.listeners")
        annotations = kafka["metadata"].get("annotations") or {}
        for key in ("strimzi.io/kraft", "strimzi.io/node-pools"):
            # ignored since Strimzi 0.48 (KRaft and node pools are always on); if set, not "disabled"
            if key in annotations and annotations[key] != "enabled":
                problems.append(f"{where(kafka)}: {key} must be enabled (Strimzi v1 runs KRaft with node pools only)")
        listeners = kafka["spec"]["kafka"].get("listeners") or []
        if not listeners:
            problems.append(f"{where(kafka)}: spec.kafka.listeners is empty")
        for listener in listeners:
            problems += [f"{where(kafka)}: listener {listener.get('name')}: {key} is required"
                         for key in ("name", "port", "type", "tls") if key not in listener]
            if listener.get("type") not in ("internal", "route", "tlsroute", "loadbalancer", "nodeport", "ingress", "cluster-ip"):
                problems.append(f"{where(kafka)}: listener {listener.get('name')}: unknown type {listener.get('type')}")
            auth = listener.get("authentication")
            if auth is not None and auth.get("type") not in ("tls", "scram-sha-512", "custom"):
                problems.append(f"{where(kafka)}: listener {listener.get('name')}: unknown authentication {auth}")
        if "authorization" in kafka["spec"]["kafka"] and kafka["spec"]["kafka"]["authorization"].get("type") not in ("simple", "custom"):
            problems.append(f"{where(kafka)}: unknown authorization type")
        if "zookeeper" in kafka["spec"]:
            problems.append(f"{where(kafka)}: spec.zookeeper is gone from the v1 API")
    pools = of("KafkaNodePool")
    for pool in pools:
        problems += _missing(pool, "spec.replicas", "spec.roles", "spec.storage.type")
        if (pool["metadata"].get("labels") or {}).get("strimzi.io/cluster") not in clusters:
            problems.append(f"{where(pool)}: strimzi.io/cluster must name a Kafka of this overlay")
        roles = pool.get("spec", {}).get("roles") or []
        if not roles or not set(roles) <= {"controller", "broker"}:
            problems.append(f"{where(pool)}: roles must be controller and/or broker, not {roles}")
    for cluster in clusters:
        mine = [p for p in pools if (p["metadata"].get("labels") or {}).get("strimzi.io/cluster") == cluster]
        roles = {r for p in mine for r in p["spec"].get("roles", [])}
        if not {"controller", "broker"} <= roles:
            problems.append(f"Kafka/{cluster}: its node pools must hold both controller and broker roles (KRaft)")
    for topic in of("KafkaTopic"):
        problems += _missing(topic, "spec.partitions", "spec.replicas")
        if (topic["metadata"].get("labels") or {}).get("strimzi.io/cluster") not in clusters:
            problems.append(f"{where(topic)}: strimzi.io/cluster must name a Kafka of this overlay")
        spec = topic.get("spec", {})
        if not (isinstance(spec.get("partitions"), int) and spec["partitions"] >= 1):
            problems.append(f"{where(topic)}: partitions must be an integer of at least 1")
        if not (isinstance(spec.get("replicas"), int) and 1 <= spec["replicas"] <= 32767):
            problems.append(f"{where(topic)}: replicas must be an integer from 1 to 32767")
    operations = {"Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs",
                  "DescribeConfigs", "IdempotentWrite", "All"}
    for user in of("KafkaUser"):
        problems += _missing(user, "spec.authentication.type", "spec.authorization.type",
                             "spec.authorization.acls")
        if (user["metadata"].get("labels") or {}).get("strimzi.io/cluster") not in clusters:
            problems.append(f"{where(user)}: strimzi.io/cluster must name a Kafka of this overlay")
        spec = user.get("spec", {})
        if spec.get("authentication", {}).get("type") != "scram-sha-512":
            problems.append(f"{where(user)}: authentication must be scram-sha-512 (the services speak SCRAM-SHA-512)")
        if spec.get("authorization", {}).get("type") != "simple":
            problems.append(f"{where(user)}: authorization must be simple (ACLs)")
        for acl in spec.get("authorization", {}).get("acls") or []:
            resource = acl.get("resource") or {}
            if "operation" in acl:
                problems.append(f"{where(user)}: acls[].operation is gone from v1: use operations")
            if resource.get("type") not in ("topic", "group", "cluster", "transactionalId"):
                problems.append(f"{where(user)}: ACL resource type {resource.get('type')!r}")
            if resource.get("type") != "cluster" and not resource.get("name"):
                problems.append(f"{where(user)}: ACL on a {resource.get('type')} needs a name")
            if resource.get("patternType", "literal") not in ("literal", "prefix"):
                problems.append(f"{where(user)}: patternType {resource.get('patternType')!r}")
            ops = acl.get("operations")
            if not ops or not set(ops) <= operations:
                problems.append(f"{where(user)}: operations {ops!r}")
            if acl.get("type", "allow") not in ("allow", "deny"):
                problems.append(f"{where(user)}: ACL type {acl.get('type')!r}")
    return problems


def test_strimzi_objects_have_the_v1_required_fields(objects: list[dict[str, Any]]) -> None:
    problems = strimzi_problems(objects)
    assert not problems, "\n".join(problems)


def test_strimzi_checks_catch_what_they_promise() -> None:
    """The stand-in for Strimzi's schema must itself refuse broken objects."""
    meta = lambda name: {"name": name, "labels": {"strimzi.io/cluster": "c"}}  # noqa: E731
    broken = [
        {"apiVersion": STRIMZI, "kind": "Kafka", "metadata": {"name": "c"}, "spec": {"kafka": {}}},
        {"apiVersion": STRIMZI, "kind": "KafkaNodePool", "metadata": meta("p"), "spec": {"roles": ["broker"]}},
        {"apiVersion": STRIMZI, "kind": "KafkaTopic", "metadata": meta("t"), "spec": {"partitions": 0}},
        {"apiVersion": STRIMZI, "kind": "KafkaUser", "metadata": meta("u"),
         "spec": {"authentication": {"type": "tls"},
                  "authorization": {"type": "simple", "acls": [{"resource": {"type": "topic", "name": "x"},
                                                                 "operation": "Read"}]}}},
    ]
    found = "\n".join(strimzi_problems(broken))
    for expected in ("spec.kafka.listeners is required", "spec.replicas is required", "spec.storage.type is required",
                     "controller and broker roles", "partitions must be",
                     "scram-sha-512", "use operations"):
        assert expected in found, f"{expected!r} not reported:\n{found}"


@pytest.mark.parametrize("kind", sorted(STRIMZI_KINDS))
def test_dev_overlay_runs_kafka_on_strimzi(rendered: dict[str, list[dict[str, Any]]], kind: str) -> None:
    assert any(o["kind"] == kind and o["apiVersion"] == STRIMZI for o in rendered["dev"]), f"dev has no {kind}"
