"""Pillow/numpy conversions for images and WAV audio, importing those packages only when used.

`import feather` stays standard-library only; a model that never touches an image never
needs Pillow, and one that does gets an error saying what to add to requirements.txt.
"""
from __future__ import annotations

import importlib
import io
import wave
from types import ModuleType
from typing import Any

_PACKAGES = {"numpy": "numpy", "PIL.Image": "pillow", "PIL.ImageOps": "pillow", "pandas": "pandas"}


def need(module: str, why: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        package = _PACKAGES.get(module, module)
        raise ModuleNotFoundError(f"{why} needs the {package!r} package: add {package} to "
                                  "requirements.txt (or pip install it)") from None


def is_pil_image(value: Any) -> bool:
    # Checked by module name so that asking never imports Pillow.
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") \
        and hasattr(value, "mode")


def is_array(value: Any) -> bool:
    return hasattr(value, "__array_interface__") and hasattr(value, "dtype")


def image_bytes(value: Any, file_format: str, why: str) -> bytes:
    """A PIL image or an image array, encoded as PNG/JPEG/WebP."""
    if is_array(value):
        value = array_to_image(value, why)
    fmt = {"jpg": "JPEG"}.get(file_format, file_format.upper())
    if fmt == "JPEG" and value.mode not in ("RGB", "L"):
        value = value.convert("RGB")  # JPEG has no alpha channel
    out = io.BytesIO()
    value.save(out, format=fmt)
    return out.getvalue()


def array_to_image(array: Any, why: str) -> Any:
    np = need("numpy", why)
    pil = need("PIL.Image", why)
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise TypeError(f"an image array must be HxW or HxWxC with C in 1, 3, 4; "
                        f"got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "f":
        if a.size and (np.nanmin(a) < 0 or np.nanmax(a) > 1):
            raise TypeError(f"float image arrays must hold values in [0, 1], got "
                            f"{np.nanmin(a):g}..{np.nanmax(a):g} (use uint8 for 0-255)")
        a = (np.nan_to_num(a) * 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        if a.size and (a.min() < 0 or a.max() > 255):
            raise TypeError(f"integer image arrays must hold 0-255, got "
                            f"{a.min()}..{a.max()}")
        a = a.astype(np.uint8)
    return pil.fromarray(np.ascontiguousarray(a))


def open_image(data: bytes, mode: str | None, why: str) -> Any:
    """Decode image bytes, turned upright by their EXIF orientation; ValueError if unreadable."""
    pil = need("PIL.Image", why)
    ops = need("PIL.ImageOps", why)
    try:
        image = pil.open(io.BytesIO(data))
        image.load()
        image = ops.exif_transpose(image)
    except Exception as exc:  # Pillow raises several unrelated types for bad data
        unknown = type(exc).__name__ == "UnidentifiedImageError"  # its text is only a repr
        raise ValueError("is not an image Pillow can read"
                         + ("" if unknown else f" ({type(exc).__name__}: {exc})")) from None
    return image.convert(mode) if mode and image.mode != mode else image


def image_array(image: Any, why: str) -> Any:
    """HxWxC uint8 with the channels of L, RGB or RGBA; other modes become RGB(A)."""
    np = need("numpy", why)
    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def wav_decode(data: bytes, why: str) -> tuple[int, Any]:
    """PCM WAV -> (sample rate, samples); 2-D (frames, channels) when not mono."""
    np = need("numpy", why)
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"is not a PCM WAV file ({exc})") from None
    if width == 3:  # 24-bit: widen each little-endian triple to int32, keeping the sign
        raw = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (raw[:, 0] << 8) | (raw[:, 1] << 16) | (raw[:, 2] << 24)
    else:
        dtype = {1: np.uint8, 2: np.dtype("<i2"), 4: np.dtype("<i4")}[width]
        samples = np.frombuffer(frames, dtype).astype(np.dtype(dtype).newbyteorder("="))
    return rate, samples.reshape(-1, channels) if channels > 1 else samples


def wav_encode(rate: Any, samples: Any, why: str) -> bytes:
    """(sample rate, samples) -> PCM WAV. Floats are taken as -1..1 and written as 16-bit."""
    np = need("numpy", why)
    a = np.asarray(samples)
    if a.ndim not in (1, 2) or a.size == 0:
        raise TypeError(f"samples must be a non-empty 1-D or (frames, channels) array, "
                        f"got shape {a.shape}")
    if isinstance(rate, bool) or not hasattr(rate, "__index__") or int(rate) <= 0:
        raise TypeError(f"the sample rate must be a positive int, got {rate!r}")
    if a.dtype.kind == "f":
        a = (np.clip(np.nan_to_num(a), -1, 1) * 32767).round().astype("<i2")
    elif a.dtype == np.int8:
        a = (a.astype(np.int16) + 128).astype(np.uint8)  # WAV stores 8-bit audio unsigned
    elif a.dtype not in (np.uint8, np.int16, np.int32):
        raise TypeError(f"samples must be float (-1..1), uint8, int16 or int32, "
                        f"got {a.dtype}")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1 if a.ndim == 1 else a.shape[1])
        w.setsampwidth(a.dtype.itemsize)
        w.setframerate(int(rate))
        w.writeframes(np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"))).tobytes())
    return out.getvalue()
