"""The broker's side: a KafkaTopic for every topic and its dead-letter topic, and for each service
a KafkaUser whose ACLs allow exactly what the code does on the bus (k8s_facts.bus_use), the same
facts as the table in docs/deploy.md."""
from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from k8s_render import ROOT
import k8s_facts
from k8s_facts import Group
from services.contracts import topics

GRANTED = {"Read", "Write", "Describe"}  # no Create, Delete, Alter, All: topics are the operator's


def strimzi(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"] == "kafka.strimzi.io/v1" and o["kind"] == kind]


@pytest.fixture(params=["dev"])
def strimzi_objects(rendered: dict[str, list[dict[str, Any]]], request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The overlays that run Kafka on Strimzi (the aws overlay uses Amazon MSK instead)."""
    objects = rendered[request.param]
    assert strimzi(objects, "Kafka"), f"{request.param} runs no Strimzi Kafka"
    return objects


def test_overlays_without_strimzi_leave_topics_and_acls_to_the_guide(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Amazon MSK has no KafkaTopic or KafkaUser: docs/deploy.md makes every topic and names
    every service's Kafka user."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for overlay, objects in rendered.items():
        if strimzi(objects, "Kafka"):
            continue
        assert not strimzi(objects, "KafkaTopic") and not strimzi(objects, "KafkaUser"), f"{overlay}: no Kafka for them"
        assert "topics.ALL" in guide and "dead_letter" in guide, "docs/deploy.md: how to make the topics on MSK"
        for service in k8s_facts.services():
            assert f"feather-{service}" in guide, f"docs/deploy.md: the Kafka user feather-{service}"


def test_every_topic_and_its_dead_letter_topic_has_a_kafkatopic(strimzi_objects: list[dict[str, Any]]) -> None:
    declared = {}
    for t in strimzi(strimzi_objects, "KafkaTopic"):
        name = t["spec"].get("topicName", t["metadata"]["name"])
        assert name not in declared, f"{name} is declared twice"
        declared[name] = t
    wanted = {*topics.ALL, *(topics.dead_letter(t) for t in topics.ALL)}
    assert wanted - set(declared) == set(), f"topics without a KafkaTopic: {sorted(wanted - set(declared))}"
    assert set(declared) - wanted == set(), f"KafkaTopics for topics the code does not know: {sorted(set(declared) - wanted)}"
    for topic in topics.ALL:
        main, dlq = declared[topic]["spec"], declared[topics.dead_letter(topic)]["spec"]
        for spec, name in ((main, topic), (dlq, topics.dead_letter(topic))):
            assert int((spec.get("config") or {}).get("retention.ms", 0)) > 0, f"{name}: say how long it is kept"
        assert int(dlq["config"]["retention.ms"]) >= int(main["config"]["retention.ms"]), \
            f"{topic}: dead letters are kept at least as long as the records they came from"


def acl_use(user: dict[str, Any]) -> tuple[k8s_facts.BusUse, set[str], list[str]]:
    use, describe, wrong = k8s_facts.BusUse(), set(), []
    for acl in user["spec"]["authorization"]["acls"]:
        resource, ops = acl["resource"], set(acl["operations"])
        pattern = resource.get("patternType", "literal")
        if acl.get("type", "allow") != "allow" or not ops <= GRANTED or resource["type"] not in ("topic", "group"):
            wrong.append(f"{resource} {sorted(ops)}")
            continue
        if resource["type"] == "group":
            if ops != {"Read"}:
                wrong.append(f"group {resource['name']}: {sorted(ops)} (consumers need Read only)")
            use.groups.add(Group(resource["name"], pattern))
        elif pattern == "prefix":
            if ops != {"Describe"}:
                wrong.append(f"topic prefix {resource['name']}: {sorted(ops)} (only Describe is granted by prefix)")
            describe.add(resource["name"])
        else:
            if "Read" in ops:
                use.reads.add(resource["name"])
            if "Write" in ops:
                use.writes.add(resource["name"])
    return use, describe, wrong


def test_a_kafka_user_per_service(strimzi_objects: list[dict[str, Any]]) -> None:
    users = {u["metadata"]["name"] for u in strimzi(strimzi_objects, "KafkaUser")}
    assert users == {f"feather-{s}" for s in k8s_facts.services()}


@pytest.mark.parametrize("service", k8s_facts.services())
def test_kafka_user_acls_match_the_code(strimzi_objects: list[dict[str, Any]], service: str) -> None:
    user = next(u for u in strimzi(strimzi_objects, "KafkaUser") if u["metadata"]["name"] == f"feather-{service}")
    granted, describe, wrong = acl_use(user)
    assert not wrong, f"feather-{service}: ACLs beyond what a service needs: {wrong}"
    # the bus lists the topics at start and while it runs, and would create any it cannot see
    assert "feather." in describe and all(t.startswith("feather.") for t in topics.ALL), \
        f"feather-{service}: Describe on the topic prefix feather."
    needed = k8s_facts.bus_use()[service]
    assert granted.writes == needed.writes, (f"feather-{service} Write: granted {sorted(granted.writes)}, "
                                             f"the code writes {sorted(needed.writes)}")
    assert granted.reads == needed.reads, (f"feather-{service} Read: granted {sorted(granted.reads)}, "
                                           f"the code reads {sorted(needed.reads)}")
    assert granted.groups == needed.groups, (f"feather-{service} groups: granted {sorted(granted.groups)}, "
                                             f"the code joins {sorted(needed.groups)}")


def test_the_services_reach_the_scram_tls_listener(strimzi_objects: list[dict[str, Any]]) -> None:
    kafka = strimzi(strimzi_objects, "Kafka")[0]
    secret = next(o for o in strimzi_objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("feather-kafka"))
    host, _, port = base64.b64decode(secret["data"]["bootstrap"]).decode().rpartition(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap", f"bootstrap {host}: not the cluster's bootstrap service"
    listener = next((l for l in kafka["spec"]["kafka"]["listeners"] if str(l["port"]) == port), None)
    assert listener is not None, f"no listener on port {port}"
    assert listener["tls"] and listener.get("authentication", {}).get("type") == "scram-sha-512", \
        "the services speak SASL_SSL with SCRAM-SHA-512 (FEATHER_KAFKA_SECURITY_PROTOCOL)"
    assert kafka["spec"]["kafka"].get("authorization", {}).get("type") == "simple", "ACLs need simple authorization"
    assert str(kafka["spec"]["kafka"].get("config", {}).get("auto.create.topics.enable")).lower() == "false"


# --- docs/deploy.md's table ------------------------------------------------------------------

def documented_table() -> dict[str, k8s_facts.BusUse]:
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = re.search(r"^## \d+\. Who writes and reads which topic$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, "docs/deploy.md: the section 'Who writes and reads which topic'"
    text = section.group(1)
    rows = re.findall(r"^\| *`?(\w+)`? *\|(.*)\|(.*)\|(.*)\| *$", text, re.M)
    table = {}
    for service, writes, reads, groups in rows:
        if service not in k8s_facts.services():
            continue
        names = lambda cell: set(re.findall(r"`([^`]+)`", cell))  # noqa: E731
        use = k8s_facts.BusUse(names(writes), names(reads))
        use.groups = {Group(g.removesuffix("*"), "prefix" if g.endswith("*") else "literal") for g in names(groups)}
        table[service] = use
    return table


def test_docs_acl_table_says_what_the_code_does() -> None:
    table = documented_table()
    assert set(table) == set(k8s_facts.services()), "docs/deploy.md: a row per service in the ACL table"
    for service, use in k8s_facts.bus_use().items():
        row = table[service]
        assert (row.writes, row.reads, row.groups) == (use.writes, use.reads, use.groups), (
            f"docs/deploy.md, {service}: writes {sorted(row.writes)} reads {sorted(row.reads)} groups {sorted(row.groups)}; "
            f"the code: writes {sorted(use.writes)} reads {sorted(use.reads)} groups {sorted(use.groups)}")
