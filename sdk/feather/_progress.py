"""`feather.progress`: a step reports how far it has got.

Inside a worker each call becomes a `{"type": "progress"}` line on the protocol stream
(docs/wire.md); the runtime installs the reporter around each call. Anywhere else the call
is only logged at debug level, so a step runs unchanged in a notebook or a test.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Reporter = Callable[[float | None, str], None]
MESSAGE_LIMIT = 1000  # characters; progress is a status line, not a log

_reporter: Reporter | None = None


def progress(fraction: float | None = None, message: str = "") -> None:
    """Report progress of the running step: `fraction` from 0 to 1 (None when unknown)."""
    if fraction is not None:
        if not isinstance(fraction, numbers.Real) or isinstance(fraction, bool):
            raise TypeError(f"progress fraction must be a number from 0 to 1 or None, "
                            f"got {fraction!r:.40}")
        # Out-of-range values are clamped rather than refused: a progress bar must not crash a run.
        fraction = min(1.0, max(0.0, float(fraction))) if math.isfinite(fraction) else None
    text = str(message)[:MESSAGE_LIMIT]
    reporter = _reporter
    if reporter is None:
        import logging
        logging.getLogger("feather").debug("progress %s %s", fraction, text)
        return
    reporter(fraction, text)


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Route `progress` calls to `reporter` for the duration of one step call."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous
