"""Imports go one way: each service uses only its own package, the shared contracts and kit, and
the SDK; the shared parts use no service. (That the SDK uses none of the platform is checked with
the SDK's public surface, tests/unit/sdk/test_sdk_public.py.)"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = {"contracts", "kit"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def crossings(services: Path = ROOT / "services") -> list[str]:
    wrong = []
    for path in sorted(services.rglob("*.py")):
        parts = path.relative_to(services).parts
        if len(parts) == 1:
            continue
        own = parts[0]
        allowed = SHARED | ({own} if own not in SHARED else set())
        if own == "contracts":
            allowed = {"contracts"}  # the wire format stands on nothing of the platform's
        for name in imports_of(path):
            if name.startswith("services.") and name.split(".")[1] not in allowed:
                wrong.append(f"{path.relative_to(services.parent)} imports {name}")
    return wrong


def test_no_service_imports_another():
    assert crossings() == []


def test_the_check_sees_a_crossing(tmp_path):
    (tmp_path / "services" / "telemetry").mkdir(parents=True)
    (tmp_path / "services" / "contracts").mkdir()
    (tmp_path / "services" / "telemetry" / "api.py").write_text(
        "from services.kit.store import Query\nfrom services.telemetry import domain\n"
        "def f():\n    from services.gateway.domain import pick_step\n")
    (tmp_path / "services" / "contracts" / "events.py").write_text("import services.kit.settings\n")
    assert crossings(tmp_path / "services") == ["services/contracts/events.py imports services.kit.settings",
                                                 "services/telemetry/api.py imports services.gateway.domain"]
