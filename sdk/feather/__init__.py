"""feather: share and serve ML models.

`import feather` needs only the standard library, because model code and the
worker import it inside each model's own virtualenv. Pillow, numpy and pandas
are imported only when a value needs them. `Client` (which needs httpx) is
imported on first use; the exceptions are plain standard-library classes, so
they are available right away.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from ._basic import JSON, Label, Markdown, Number, Slider, Text  # noqa: E402
from ._choices import Checkbox, Choice, MultiChoice  # noqa: E402
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
from ._gallery import Gallery  # noqa: E402
from ._interactive import EditableText, ImageRegions, PickList  # noqa: E402
from ._media import Audio, File, Image  # noqa: E402
from ._model import Batch, Model, Step  # noqa: E402
from ._progress import progress  # noqa: E402
from ._regions import Annotated, Box  # noqa: E402
from ._table import Table  # noqa: E402

__all__ = [
    "Model", "Step", "Batch", "progress",
    # inputs and outputs
    "Text", "Number", "Slider", "Checkbox", "Choice", "MultiChoice", "Image", "Audio", "File",
    "Table", "Markdown", "Label", "JSON", "Gallery", "Annotated", "Box",
    # interactive: a step's output the user acts on before the next step
    "PickList", "ImageRegions", "EditableText",
    # the clients, and what their methods return
    "Client", "Run", "Job", "LogStream", "AsyncClient", "AsyncRun", "AsyncJob", "AsyncLogStream", "StreamEvent",
    "FeatherError", "DefinitionError", "NotFound", "InvalidInput", "Unauthorized",
    "RunFailed", "RunTimedOut", "BuildFailed", "__version__",
]


# they need httpx, which model environments lack: loaded on first use, from the module each lives in
_LAZY = {"Client": "_client", "Run": "_client_run", "Job": "_client", "LogStream": "_client",
         "AsyncClient": "_async_client", "AsyncRun": "_client_run", "AsyncJob": "_async_client",
         "AsyncLogStream": "_async_client", "StreamEvent": "_client_stream"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'feather' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
