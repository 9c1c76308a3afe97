"""What the code says the deployment must provide, read from the code itself.

- the settings the services read: ``Settings.model_fields`` plus any FEATHER_ variable read from
  ``os.environ`` by a module the services run;
- who writes and reads which topic, with which consumer groups: each service's ``subscribe``
  calls, the events it constructs, the dead-letter topics of what it consumes, and the
  operators' dead-letter routes (reading every dead-letter topic, replaying to the origins).

The manifests (KafkaUsers, ConfigMaps, Secrets) and docs/deploy.md are compared with this.
"""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from services.contracts import events, topics
from services.kit.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"
SDK_DIR = ROOT / "sdk"
# never run by a deployed service: the one-machine launcher (`feather up`), and the handler
# that runs inside a model's Lambda image
NOT_IN_SERVICES = (SERVICES_DIR / "local", SERVICES_DIR / "builder" / "templates")
ENV_READ = re.compile(r"""(?:os\.environ(?:\.get)?\s*[\(\[]|os\.getenv\s*\()\s*["'](FEATHER_[A-Z0-9_]+)["']""")


@cache
def services() -> tuple[str, ...]:
    """The deployable services: packages run as `python -m services.<name>` with a bootstrap."""
    return tuple(sorted(p.name for p in SERVICES_DIR.iterdir()
                        if (p / "__main__.py").is_file() and (p / "app.py").is_file() and (p / "bootstrap.py").is_file()))


@cache
def default_port(service: str) -> int:
    tree = ast.parse((SERVICES_DIR / service / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEFAULT_PORT" for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise AssertionError(f"services/{service}/app.py has no DEFAULT_PORT")


def _service_files() -> list[Path]:
    return [p for p in SERVICES_DIR.rglob("*.py") if not any(p.is_relative_to(x) for x in NOT_IN_SERVICES)]


def _sdk_files_imported(files: list[Path]) -> set[Path]:
    """The SDK's modules the service code imports, and those they import in turn."""
    def module_file(name: str) -> Path | None:
        base = SDK_DIR.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def imports(path: Path) -> set[str]:
        found: set[str] = set()
        # the package a relative import starts from: the module's own, or the package itself
        package = ".".join(path.relative_to(SDK_DIR).parent.parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    parent = ".".join(parts[:len(parts) - node.level + 1])
                    mod = f"{parent}.{node.module}" if node.module else parent
                else:
                    mod = node.module or ""
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
        return {n for n in found if n == "feather" or n.startswith("feather.")}

    todo = set().union(*(imports_of_services(p) for p in files))
    seen: set[Path] = set()
    while todo:
        path = module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo |= imports(path)
        # a submodule's import runs its packages' __init__ too
        for parent in path.relative_to(SDK_DIR).parents:
            if parent.parts and (init := SDK_DIR / parent / "__init__.py").is_file() and init not in seen:
                todo.add(".".join(parent.parts))
    return seen


def imports_of_services(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "feather"}
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "feather":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


@cache
def settings_read() -> frozenset[str]:
    """Every FEATHER_ variable the services read."""
    names = {f"FEATHER_{name.upper()}" for name in Settings.model_fields}
    prefix = Settings.model_config.get("env_prefix")
    assert prefix == "FEATHER_", f"Settings reads {prefix}*, not FEATHER_*"
    files = _service_files()
    for path in [*files, *_sdk_files_imported(files)]:
        names |= set(ENV_READ.findall(path.read_text()))
    return frozenset(names)


# --- the bus ---------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Group:
    name: str
    pattern: str  # "literal" or "prefix"


@dataclass
class BusUse:
    writes: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    groups: set[Group] = field(default_factory=set)


def _event_classes() -> dict[str, type[events.Event]]:
    return {name: cls for name, cls in vars(events).items()
            if inspect.isclass(cls) and issubclass(cls, events.Event) and "name" in cls.__dict__}


def _package_trees(service: str) -> list[ast.AST]:
    return [ast.parse(p.read_text()) for p in (SERVICES_DIR / service).rglob("*.py")
            if not any(p.is_relative_to(x) for x in NOT_IN_SERVICES)]


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _topic_of(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "topics":
        return getattr(topics, node.attr)
    raise AssertionError(f"a subscription to {ast.unparse(node)}: name topics from services.contracts.topics")


def _group_of(node: ast.expr | None, service: str) -> Group:
    if node is None:
        return Group(f"feather-{service}", "literal")  # Bus.subscribe's default
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return Group(node.value, "literal")
    if isinstance(node, ast.JoinedStr):
        head = ""
        for part in node.values:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                break
            head += part.value
        assert head, f"a consumer group named only at run time: {ast.unparse(node)}"
        return Group(head, "prefix")
    raise AssertionError(f"a consumer group the check cannot read: {ast.unparse(node)}")


@cache
def subscriptions(service: str) -> tuple[tuple[str, Group], ...]:
    found = []
    for tree in _package_trees(service):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) == "subscribe" and node.args:
                group = next((k.value for k in node.keywords if k.arg == "group"), None)
                found.append((_topic_of(node.args[0]), _group_of(group, service)))
    return tuple(sorted(set(found)))


@cache
def produced(service: str) -> frozenset[str]:
    """Topics of the events the service constructs (and so sends: there is no other use)."""
    classes = _event_classes()
    return frozenset(classes[name].topic for tree in _package_trees(service) for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and (name := _call_name(node)) in classes)


def _uses(service: str, name: str) -> bool:
    return any((isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)
               for tree in _package_trees(service) for node in ast.walk(tree))


@cache
def bus_use() -> dict[str, BusUse]:
    """Who writes and reads which topic, and in which consumer groups: what the ACLs must allow."""
    uses = {s: BusUse() for s in services()}
    consumed_anywhere = {topic for s in services() for topic, _ in subscriptions(s)}
    for s, use in uses.items():
        for topic, group in subscriptions(s):
            use.reads.add(topic)
            use.groups.add(group)
            use.writes.add(topics.dead_letter(topic))  # a message its handlers keep failing on
        use.writes |= produced(s)
        if _uses(s, "read_dead_letters"):  # operators list every dead-letter topic
            use.reads |= {topics.dead_letter(t) for t in topics.ALL}
        if _uses(s, "publish_raw"):  # ... and replay letters to the topics they came from
            use.writes |= consumed_anywhere
    return uses
