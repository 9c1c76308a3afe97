"""feather: share and serve ML models.

`import feather` needs only the standard library, because model code and the
worker import it inside each model's own virtualenv. `Client` (which needs
httpx) is imported on first use; the exceptions are plain standard-library
classes, so they are available right away.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from ._components import JSON, Label, Number, Text  # noqa: E402
from ._errors import (  # noqa: E402
    BuildFailed,
    DefinitionError,
    FeatherError,
    InvalidInput,
    NotFound,
    RunFailed,
    RunTimedOut,
    Unauthorized,
)
from ._model import Model, Step  # noqa: E402

__all__ = [
    "Model", "Step", "Text", "Number", "JSON", "Label", "Client",
    "FeatherError", "DefinitionError", "NotFound", "InvalidInput", "Unauthorized",
    "RunFailed", "RunTimedOut", "BuildFailed", "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from ._client import Client
        return Client
    raise AttributeError(f"module 'feather' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"Client"})
