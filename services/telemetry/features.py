"""The comparable features of a run's inputs and outputs, which profiles and drift are made of.

A field's kind (from the version's manifest) decides its features: numbers as they are, choices,
checkboxes and labels as categories, text by its length, files by their size and type, images
also by their width, height and mean brightness, tables by their rows. None is a missing value.
"""
from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Mapping
from typing import Any

from services.contracts.files import blob_key, data_url_bytes, file_id
from services.kit.blobs import BlobNotFound, BlobStore

NUMBER_KINDS = {"number", "slider"}
TEXT_KINDS = {"text", "markdown", "editable_text"}
FILE_KINDS = {"image", "audio", "file"}

# Images larger than this are measured by their header only: decoding a hostile one could
# take telemetry's memory and time (a 155 KB PNG can hold 40 million pixels), and its size
# alone is worth recording.
MAX_DECODED_PIXELS = 4_000_000
MAX_IMAGE_BYTES = 32 * 2**20
MAX_IMAGES = 8  # measured per run; the others by their size and type only
FORMATS = ["PNG", "JPEG", "GIF", "WEBP", "BMP"]  # what browsers show; never one a helper program reads
THUMBNAIL = (128, 128)  # brightness is a mean, and a small copy has the same one


def _number(value: Any) -> float | None:
    """A finite float, or None: JSON may carry an integer of any length, which float() refuses."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def features(kinds: Mapping[str, str], values: Mapping[str, Any] | None, prefix: str,
             images: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """``{field: number | category | None}`` for one side of a run; ``images`` holds what
    :func:`measure_image` found for each image's url."""
    found: dict[str, Any] = {}
    values, images = values or {}, images or {}
    for name, kind in kinds.items():
        value = values.get(name)
        key = f"{prefix}.{name}"
        if kind in NUMBER_KINDS:
            found[key] = _number(value)
        elif kind == "checkbox":
            found[key] = None if value is None else str(bool(value)).lower()
        elif kind == "choice":
            found[key] = None if value is None else str(value)
        elif kind == "label":
            found[key] = value.get("label") if isinstance(value, dict) else (value if isinstance(value, str) else None)
        elif kind in TEXT_KINDS:
            found[f"{key}.length"] = float(len(value)) if isinstance(value, str) else None
        elif kind in FILE_KINDS:
            file = value if isinstance(value, dict) else {}
            found[f"{key}.size"] = _number(file.get("size"))
            found[f"{key}.type"] = file.get("content_type") if isinstance(file.get("content_type"), str) else None
            if kind == "image":
                measured = images.get(file.get("url")) or {}
                for fact in ("width", "height", "brightness"):
                    found[f"{key}.{fact}"] = measured.get(fact)
        elif kind == "table":
            rows = value.get("rows") if isinstance(value, dict) else None
            found[f"{key}.rows"] = float(len(rows)) if isinstance(rows, list) else None
    return found


def measure_image(data: bytes) -> dict[str, float]:
    """Width, height and mean brightness (0 black to 1 white) of an encoded image; what can be
    read of it when it is too large to decode; nothing when it is not an image."""
    from PIL import Image, ImageStat, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:  # reads the header only
            facts = {"width": float(image.width), "height": float(image.height)}
            if image.width * image.height > MAX_DECODED_PIXELS:
                return facts
            image.draft("L", THUMBNAIL)  # JPEG decodes straight to a small grey copy
            small = image.convert("L")
            small.thumbnail(THUMBNAIL)
            facts["brightness"] = round(ImageStat.Stat(small).mean[0] / 255, 4)
            return facts
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return {}
    except Exception:  # whatever a malformed file makes the decoder raise, it is only not measured
        return {}


def of_run(kinds: Mapping[str, Mapping[str, str]], run: Mapping[str, Any],
           images: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """The features of a run's inputs and outputs; ``kinds`` is its step's ``{"inputs": {field:
    kind}, "outputs": {...}}``."""
    return {**features(kinds.get("inputs", {}), run.get("inputs"), "inputs", images),
            **features(kinds.get("outputs", {}), run.get("outputs"), "outputs", images)}


async def image_facts(blobs: BlobStore, kinds: Mapping[str, Mapping[str, str]],
                      run: Mapping[str, Any]) -> dict[str, dict]:
    """:func:`measure_image` of each image among the run's inputs and outputs, by url, off the
    event loop."""
    measured: dict[str, dict] = {}
    for side in ("inputs", "outputs"):
        for name, kind in kinds.get(side, {}).items():
            value = (run.get(side) or {}).get(name)
            url = value.get("url") if kind == "image" and isinstance(value, dict) else None
            if not isinstance(url, str) or url in measured or len(measured) >= MAX_IMAGES:
                continue
            data = await _bytes_of(blobs, url)
            if data is not None:
                measured[url] = await asyncio.to_thread(measure_image, data)
    return measured


async def _bytes_of(blobs: BlobStore, url: str) -> bytes | None:
    if url.startswith("data:"):
        try:
            return data_url_bytes(url)[0]
        except ValueError:
            return None
    fid = file_id(url)
    if fid is None:
        return None
    try:
        data = await blobs.get(blob_key(fid))
    except BlobNotFound:  # expired, or deleted with its model
        return None
    return data if len(data) <= MAX_IMAGE_BYTES else None
