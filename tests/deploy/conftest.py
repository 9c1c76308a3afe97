"""The Kubernetes deployment (deploy/k8s), checked without a cluster.

Every overlay is rendered once per session with `kubectl kustomize`; the tests read the objects
it prints. Nothing here talks to a cluster or the network: the built-in objects are checked
against Kubernetes' published schemas (kubernetes-validate, bundled offline), the Strimzi ones
against the required fields of Strimzi's documented kafka.strimzi.io/v1 API.
"""
from __future__ import annotations

from typing import Any

import pytest

from k8s_render import OVERLAYS, STAND_IN, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay's objects, by overlay name."""
    assert OVERLAYS, "no overlay under deploy/k8s/overlays"
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def objects(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> list[dict[str, Any]]:
    return rendered[overlay]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reports = [r for key in ("passed", "failed", "error") for r in terminalreporter.stats.get(key, [])
               if "tests/deploy/" in getattr(r, "nodeid", "")]
    if reports:
        terminalreporter.write_line(f"tests/deploy: {STAND_IN} (overlays: {', '.join(OVERLAYS)})")
