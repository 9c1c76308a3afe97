"""Bytes for file inputs (paths, bytes, PIL images, numpy arrays, audio) and data: URLs.

numpy and PIL are used only when the value already is one of theirs, so the client
works without either installed.
"""
from __future__ import annotations

import base64
import io
import mimetypes
import os
import wave
from typing import Any
from urllib.parse import unquote_to_bytes

DATA_URL_LIMIT = 256 * 1024  # decoded bytes a data: URL may carry (docs/wire.md)
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png", "image/png"), (b"\xff\xd8\xff", "jpg", "image/jpeg"),
               (b"GIF87a", "gif", "image/gif"), (b"GIF89a", "gif", "image/gif"),
               (b"fLaC", "flac", "audio/flac"), (b"OggS", "ogg", "audio/ogg"),
               (b"ID3", "mp3", "audio/mpeg"), (b"%PDF-", "pdf", "application/pdf"))

File = tuple[bytes, str, str]  # data, name, content type


def sniff(data: bytes) -> tuple[str, str]:
    """(extension, content type) from the first bytes, so raw bytes get a useful name."""
    for magic, ext, ctype in _SIGNATURES:
        if data.startswith(magic):
            return ext, ctype
    if data[:4] == b"RIFF" and data[8:12] in (b"WEBP", b"WAVE"):
        return ("webp", "image/webp") if data[8:12] == b"WEBP" else ("wav", "audio/wav")
    return "bin", "application/octet-stream"


def read_path(path: str | os.PathLike[str]) -> File:
    full = os.path.expanduser(os.fspath(path))
    with open(full, "rb") as fh:
        data = fh.read()
    name = os.path.basename(full) or "file"
    return data, name, mimetypes.guess_type(name)[0] or sniff(data)[1]


def is_array(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ == "ndarray"


def is_numpy_scalar(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "item") and not is_array(value)


def is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "mode")


def is_audio_pair(value: Any) -> bool:
    """Gradio's audio convention: (sample_rate, samples)."""
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int)
            and (is_array(value[1]) or isinstance(value[1], list)))


def to_bytes(value: Any, kind: str | None) -> File | None:
    """The file a Python value stands for, or None when it is not file-like."""
    stem = kind or "file"
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        ext, ctype = sniff(data)
        return data, f"{stem}.{ext}", ctype
    if isinstance(value, os.PathLike):
        return read_path(value)
    if is_pil(value):
        out = io.BytesIO()
        value.save(out, format="PNG")  # lossless, and every image mode PIL has can be saved
        return out.getvalue(), f"{stem}.png", "image/png"
    if is_audio_pair(value):
        return _wav(*value), f"{stem}.wav", "audio/wav"
    if is_array(value):
        if kind == "image":
            return to_bytes(_array_image(value), kind)
        if kind == "audio":
            raise ValueError("send audio samples as (sample_rate, array)")
        out = io.BytesIO()
        import numpy
        numpy.save(out, value, allow_pickle=False)
        return out.getvalue(), f"{stem}.npy", "application/octet-stream"
    if hasattr(value, "read"):
        data = value.read()
        if not isinstance(data, bytes):
            raise TypeError("file objects must be opened in binary mode ('rb')")
        name = os.path.basename(str(getattr(value, "name", "") or "")) or f"{stem}.{sniff(data)[0]}"
        return data, name, mimetypes.guess_type(name)[0] or sniff(data)[1]
    return None


def _array_image(array: Any) -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise TypeError("sending a numpy array as an image needs pillow installed") from None
    if array.dtype.kind == "f":  # floats are taken as 0..1 intensities
        array = (array.clip(0, 1) * 255).round()
    elif array.dtype.kind == "b":
        array = array * 255
    return Image.fromarray(array.astype("uint8"))


def _wav(rate: int, samples: Any) -> bytes:
    import numpy
    data = numpy.asarray(samples)
    if data.dtype.kind == "f":  # floats are taken as -1..1 amplitudes
        data = (data.clip(-1, 1) * 32767).round()
    data = data.astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1 if data.ndim == 1 else data.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    return out.getvalue()


def data_url_value(data: bytes, name: str, content_type: str) -> dict[str, Any]:
    url = f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
    return {"url": url, "name": name, "content_type": content_type, "size": len(data)}


def inline(data: bytes, name: str | None = None, content_type: str | None = None) -> dict[str, Any]:
    """A data: URL file value; for callers that cannot upload (too large raises ValueError)."""
    if len(data) > DATA_URL_LIMIT:
        raise ValueError(f"a file of {len(data)} bytes is over the {DATA_URL_LIMIT // 1024} KiB "
                         "data: URL limit; upload it with client.upload() and send its value")
    ext, sniffed = sniff(data)
    return data_url_value(data, name or f"file.{ext}", content_type or sniffed)


def decode_data_url(url: str) -> bytes:
    head, sep, payload = url.partition(",")
    if not head.startswith("data:") or not sep:
        raise ValueError(f"not a data: URL: {url[:40]!r}")
    if head.endswith(";base64"):
        return base64.b64decode(payload, validate=False)
    return unquote_to_bytes(payload)
