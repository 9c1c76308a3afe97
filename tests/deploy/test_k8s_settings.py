"""Every FEATHER_ setting the services read is set by the manifests or listed, with a reason, in
deploy/k8s/defaulted-settings.yaml; no manifest sets one they do not read; secrets come from
Secrets; and what each service is given parses as its Settings."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from k8s_render import K8S, OVERLAYS, ROOT
import k8s_facts
from services.kit.settings import Settings

SECRET_NAME = re.compile(r"_(KEY|KEYS|PASSWORD|TOKEN|SECRET)$")
FROM_SECRETS = {"FEATHER_KAFKA_BOOTSTRAP", "FEATHER_MONGO_URL"}  # carry credentials or private addresses
EVERY_SERVICE_NEEDS = ("FEATHER_HOST", "FEATHER_PORT", "FEATHER_DATA_DIR", "FEATHER_KAFKA_BOOTSTRAP",
                       "FEATHER_KAFKA_SECURITY_PROTOCOL", "FEATHER_KAFKA_SASL_MECHANISM", "FEATHER_KAFKA_SASL_USERNAME",
                       "FEATHER_KAFKA_SASL_PASSWORD", "FEATHER_MONGO_URL", "FEATHER_S3_BUCKET", "FEATHER_SERVICE_KEY",
                       "FEATHER_SERVICE_KEYS", "FEATHER_ADMIN_TOKEN", "FEATHER_RUNTIME_BACKEND")


@dataclass
class Source:
    """Where a container's variable comes from: a literal, a ConfigMap key, or a Secret key."""
    kind: str  # "value", "configmap", "secret"
    value: str | None = None
    secret: tuple[str, str] | None = None


@dataclass
class Container:
    service: str
    name: str
    env: dict[str, Source] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)


def defaulted() -> dict[str, str]:
    data = yaml.safe_load((K8S / "defaulted-settings.yaml").read_text())
    assert isinstance(data, dict), "defaulted-settings.yaml is a mapping: setting -> why its default holds"
    for name, why in data.items():
        assert isinstance(why, str) and why.strip() and "\n" not in why, f"{name}: one line of reason"
    return data


def service_containers(objects: list[dict[str, Any]]) -> list[Container]:
    config = {o["metadata"]["name"]: o.get("data") or {} for o in objects if o["kind"] == "ConfigMap"}
    secrets = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    found = []
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/component") != "service":
            continue
        for spec in deployment["spec"]["template"]["spec"]["containers"]:
            if spec["name"] != "service":
                continue
            c = Container(labels["app.kubernetes.io/name"], spec["name"],
                          ports={p["name"]: p["containerPort"] for p in spec.get("ports", [])})
            for source in spec.get("envFrom", []):
                assert "prefix" not in source, f"{c.service}: envFrom with a prefix hides the names"
                if "configMapRef" in source:
                    name = source["configMapRef"]["name"]
                    assert name in config, f"{c.service}: envFrom ConfigMap {name} is not in the overlay"
                    c.env.update({k: Source("configmap", v) for k, v in config[name].items()})
                else:
                    name = source["secretRef"]["name"]
                    assert name in secrets, (f"{c.service}: envFrom Secret {name} is made outside the manifests, so "
                                             "the names it sets cannot be checked: use env with secretKeyRef")
                    c.env.update({k: Source("secret", secret=(name, k)) for k in secrets[name].get("data", {})})
            for var in spec.get("env", []):
                ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    c.env[var["name"]] = Source("secret", secret=(ref["name"], ref["key"]))
                elif "valueFrom" in var:
                    c.env[var["name"]] = Source("other")
                else:
                    c.env[var["name"]] = Source("value", var.get("value", ""))
            found.append(c)
    return found


def test_defaulted_list_names_only_settings_the_code_reads() -> None:
    stale = sorted(set(defaulted()) - k8s_facts.settings_read())
    assert not stale, f"defaulted-settings.yaml lists settings the code does not read: {stale}"


def test_a_defaulted_setting_is_left_to_its_default_somewhere(rendered: dict[str, list[dict[str, Any]]]) -> None:
    everywhere = set(defaulted())
    for overlay in OVERLAYS:
        everywhere &= {n for c in service_containers(rendered[overlay]) for n in c.env}
    assert not everywhere, f"set by every overlay, so not defaulted: remove from defaulted-settings.yaml: {sorted(everywhere)}"


def test_every_setting_is_set_or_defaulted(objects: list[dict[str, Any]], overlay: str) -> None:
    containers = service_containers(objects)
    assert {c.service for c in containers} == set(k8s_facts.services()), "a Deployment per service"
    given = {name for c in containers for name in c.env}
    missing = sorted(k8s_facts.settings_read() - set(defaulted()) - given)
    assert not missing, (f"{overlay}: settings the code reads that no manifest sets and defaulted-settings.yaml "
                         f"does not list: {missing}")


def test_no_manifest_sets_a_setting_the_code_does_not_read(objects: list[dict[str, Any]], overlay: str) -> None:
    read = k8s_facts.settings_read()
    names = {n for c in service_containers(objects) for n in c.env}
    names |= {k for o in objects if o["kind"] == "ConfigMap" for k in o.get("data") or {}}
    unknown = sorted(n for n in names if n.startswith("FEATHER_") and n not in read)
    assert not unknown, f"{overlay}: FEATHER_ settings the code never reads: {unknown}"


def test_each_service_gets_what_it_needs(objects: list[dict[str, Any]], overlay: str) -> None:
    for name in EVERY_SERVICE_NEEDS:
        assert name in k8s_facts.settings_read(), f"{name} is no setting any more"
    for c in service_containers(objects):
        missing = [n for n in EVERY_SERVICE_NEEDS if n not in c.env]
        assert not missing, f"{overlay}/{c.service}: {missing}"
        port = c.env["FEATHER_PORT"].value
        assert port == str(k8s_facts.default_port(c.service)) == str(c.ports.get("http")), \
            f"{overlay}/{c.service}: FEATHER_PORT {port}, its default {k8s_facts.default_port(c.service)}, port http {c.ports.get('http')}"
        assert c.env["FEATHER_HOST"].value == "0.0.0.0", f"{overlay}/{c.service} must listen on the pod's address"
        assert c.env["FEATHER_SERVICE_KEY"].secret == (f"feather-{c.service}-key", "private.pem"), \
            f"{overlay}/{c.service}: its own private key"
        assert c.env["FEATHER_KAFKA_SASL_USERNAME"].value == f"feather-{c.service}", f"{overlay}/{c.service}: its own Kafka user"
        assert c.env["FEATHER_KAFKA_SASL_PASSWORD"].secret == (f"feather-{c.service}", "password"), \
            f"{overlay}/{c.service}: its Kafka user's password"
        if c.service == "gateway":
            assert c.env["FEATHER_ADMIN_PORT"].value == str(c.ports.get("metrics")), "/metrics on the port named metrics"
            assert "FEATHER_GATEWAY_SECRET" in c.env, "every gateway replica signs run tokens with one secret"


def test_secrets_come_from_secrets(objects: list[dict[str, Any]], overlay: str) -> None:
    for c in service_containers(objects):
        for name, source in c.env.items():
            if name.startswith("FEATHER_") and (SECRET_NAME.search(name) or name in FROM_SECRETS):
                assert source.kind == "secret", f"{overlay}/{c.service}: {name} must come from a Secret, not a {source.kind}"


def test_secrets_made_elsewhere_are_documented(objects: list[dict[str, Any]], overlay: str) -> None:
    """A Secret the manifests use but do not make is made by Strimzi or by the operator, as the
    deployment guide says."""
    made = {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}
    strimzi = {o["metadata"]["name"] for o in objects if o["kind"] == "KafkaUser"}
    strimzi |= {f"{o['metadata']['name']}-cluster-ca-cert" for o in objects if o["kind"] == "Kafka"}
    guide = (ROOT / "docs" / "deploy.md").read_text()
    used: set[str] = set()
    for o in objects:
        if o["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = o["spec"]["template"]["spec"]
        for container in [*spec.get("containers", []), *spec.get("initContainers", [])]:
            used |= {v["valueFrom"]["secretKeyRef"]["name"] for v in container.get("env", [])
                     if "secretKeyRef" in (v.get("valueFrom") or {})}
        used |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    undocumented = sorted(s for s in used - made - strimzi if f"`{s}`" not in guide)
    assert not undocumented, f"{overlay}: Secrets nobody makes and docs/deploy.md does not name: {undocumented}"


def test_each_service_settings_parse(objects: list[dict[str, Any]], overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a service is given is what Settings accepts (types, choices, the cross-checks)."""
    for c in service_containers(objects):
        with monkeypatch.context() as env:
            for name in [n for n in os.environ if n.startswith("FEATHER_")]:
                env.delenv(name)
            for name, source in c.env.items():
                if name.startswith("FEATHER_"):
                    env.setenv(name, "{}" if name == "FEATHER_SERVICE_KEYS" and source.kind == "secret"
                               else source.value if source.value is not None else "from-a-secret")
            settings = Settings()
        assert settings.port == k8s_facts.default_port(c.service)
        if c.service == "executor" and settings.runtime_backend == "local":
            assert settings.sandbox == "required", f"{overlay}: the executor runs strangers' code sandboxed only"


def test_direct_environment_reads_are_found() -> None:
    """Settings read past pydantic count too; the scan must see the usual spellings."""
    sample = '''os.environ.get("FEATHER_A")\nos.environ["FEATHER_B"]\nos.getenv('FEATHER_C', "x")\nos.environ.get("HOME")'''
    assert k8s_facts.ENV_READ.findall(sample) == ["FEATHER_A", "FEATHER_B", "FEATHER_C"]
    # the SDK's client settings (FEATHER_URL, FEATHER_TOKEN) are read by the CLI, not by a service
    assert "FEATHER_URL" not in k8s_facts.settings_read()
