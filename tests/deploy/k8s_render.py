"""Rendering the overlays of deploy/k8s with `kubectl kustomize`, and the constants the checks share."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
KUBERNETES_VERSION = "1.34"
STAND_IN = (f"offline schema validation with kubernetes-validate for Kubernetes {KUBERNETES_VERSION}; "
            "Strimzi objects checked against the v1 required fields")


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (v1.32 or newer, with kustomize built in) is not on PATH: tests/deploy renders "
                    "deploy/k8s/overlays/* with `kubectl kustomize`; install it (CI must too)", pytrace=False)
    done = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"kubectl kustomize deploy/k8s/overlays/{overlay} failed:\n{done.stderr}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]

