"""File values on the wire (docs/wire.md): reading inputs, writing outputs, types and sizes.

A file value is `{"url": ..., "name": ..., "content_type": ..., "size": ...}`; inside the
executor an input also carries `path`. The runtime reads `path` first, else a `data:` URL,
and never touches the network. Standard library only.
"""
from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidInput

DATA_URL_LIMIT = 256 * 1024  # decoded bytes a client may inline; bigger files are uploaded
URL_PATTERN = r"^(data:|feather:|https?://)"
Upload = Callable[[bytes, str, str], dict[str, Any]]  # (data, name, content_type) -> file value

# Checked before mimetypes on bytes with no name, so a returned PNG is not "octet-stream".
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF8", "image/gif"), (b"%PDF-", "application/pdf"), (b"ID3", "audio/mpeg"),
          (b"fLaC", "audio/flac"), (b"OggS", "audio/ogg"))


@dataclass(frozen=True)
class Blob:
    """File content about to become a file value: bytes in memory or a file on disk."""
    name: str
    content_type: str
    data: bytes | None = None
    path: str | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else os.path.getsize(self.path or "")

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path or "", "rb") as fh:
            return fh.read()


def sniff(data: bytes) -> str | None:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] in (b"WAVE", b"WEBP"):
        return "audio/wav" if data[8:12] == b"WAVE" else "image/webp"
    return None


def guess_type(name: str, data: bytes | None = None) -> str:
    sniffed = sniff(data) if data is not None else None
    return sniffed or mimetypes.guess_type(name)[0] or "application/octet-stream"


def extension(content_type: str) -> str:
    fixed = {"image/jpeg": ".jpg", "audio/wav": ".wav", "text/plain": ".txt"}
    return fixed.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


def blob_from_path(path: str | os.PathLike[str]) -> Blob:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file {path!r}")
    name = os.path.basename(path)
    return Blob(name, guess_type(name), path=path)


def data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def parse_data_url(url: str) -> tuple[bytes, str]:
    """`data:<type>[;base64],<payload>` -> (bytes, content type); ValueError when malformed."""
    head, sep, payload = url[5:].partition(",")
    if not url.startswith("data:") or not sep:
        raise ValueError("a data URL looks like data:<type>;base64,<data>")
    params = head.split(";")
    content_type = params[0] or "text/plain"
    if "base64" not in params[1:]:
        from urllib.parse import unquote_to_bytes  # percent-encoded text, rare but legal
        return unquote_to_bytes(payload), content_type
    try:
        return base64.b64decode(payload, validate=True), content_type
    except (binascii.Error, ValueError):
        raise ValueError("its base64 data is invalid") from None


def file_schema(*, output: bool = False, max_size: int | None = None) -> dict[str, Any]:
    size: dict[str, Any] = {"type": "integer", "minimum": 0}
    if max_size is not None and not output:
        size["maximum"] = max_size
    return {"type": "object",
            "properties": {"url": {"type": "string", "pattern": URL_PATTERN},
                           "name": {"type": "string"}, "content_type": {"type": "string"},
                           "size": size},
            "required": ["url", "name", "content_type", "size"] if output else ["url"]}


def check_value(value: Any, field: str, *, max_size: int | None = None,
                accept: Sequence[str] | None = None, inline_limit: int | None = None) -> dict[str, Any]:
    """Shape, declared size and type of a file value; no file is read. Returns the value."""
    def bad(reason: str) -> InvalidInput:
        return InvalidInput(f"input {field!r} {reason}", field=field)

    if not isinstance(value, dict) or not isinstance(value.get("url", value.get("path")), str):
        raise bad("must be a file value such as {\"url\": \"data:image/png;base64,...\"}")
    url = value.get("url")
    if url is not None and (not isinstance(url, str) or not re.match(URL_PATTERN, url)):
        raise bad("has a url that is not data:, feather: or http(s)://")
    size = value.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise bad("has a size that is not a non-negative integer")
    if isinstance(url, str) and url.startswith("data:") and "path" not in value:
        size = _data_url_size(url)
        if inline_limit is not None and size > inline_limit:
            raise bad(f"is {_human(size)} inline; files over {_human(inline_limit)} must be "
                      "uploaded first (POST /v1/files)")
    if max_size is not None and size is not None and size > max_size:
        raise bad(f"must be at most {_human(max_size)}, got {_human(size)}")
    if accept and not accepts(value, accept):
        raise bad(f"must be one of {', '.join(accept)}, got "
                  f"{value.get('name') or value.get('content_type') or 'an unnamed file'}")
    return value


def accepts(value: dict[str, Any], accept: Sequence[str]) -> bool:
    """True when the name's extension or the content type matches an `accept` entry."""
    # Not `path`: the executor names materialized files by id, without the caller's extension.
    name = str(value.get("name") or "")
    content_type = str(value.get("content_type") or "")
    if not content_type and str(value.get("url", "")).startswith("data:"):
        content_type = str(value["url"])[5:].split(";")[0].split(",")[0]
    for entry in accept:
        entry = entry.lower()
        if entry.startswith(".") and name.lower().endswith(entry):
            return True
        if entry.endswith("/*") and content_type.lower().startswith(entry[:-1]):
            return True
        if entry == content_type.lower():
            return True
    return not name and not content_type  # nothing to judge by: let the decoder decide


def read_bytes(value: dict[str, Any], field: str, max_size: int | None = None) -> bytes:
    """The bytes of an input: `path` first, else a data URL; anything else was not materialized."""
    path = value.get("path")
    if isinstance(path, str):
        _check_size(os.path.getsize(path) if os.path.isfile(path) else 0, field, max_size)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise InvalidInput(f"input {field!r}: cannot read {path!r}: {exc.strerror}",
                               field=field) from None
    url = str(value.get("url", ""))
    if not url.startswith("data:"):
        raise InvalidInput(f"input {field!r}: file was not materialized ({url[:60]!r} has no "
                           "path; the runtime never downloads)", field=field)
    try:
        data = parse_data_url(url)[0]
    except ValueError as exc:
        raise InvalidInput(f"input {field!r} has a bad data URL: {exc}", field=field) from None
    _check_size(len(data), field, max_size)
    return data


def local_path(value: dict[str, Any], field: str, max_size: int | None = None) -> str:
    """A path on disk for an input, writing an inline file into this call's scratch folder."""
    path = value.get("path")
    if isinstance(path, str):
        read_size = os.path.getsize(path) if os.path.isfile(path) else None
        if read_size is None:
            raise InvalidInput(f"input {field!r}: no such file {path!r}", field=field)
        _check_size(read_size, field, max_size)
        return path
    data = read_bytes(value, field, max_size)
    import tempfile  # imported on use: most models never take a file as a path
    folder = tempfile.mkdtemp(dir=scratch_dir())
    target = os.path.join(folder, safe_name(str(value.get("name") or field)))
    with open(target, "wb") as fh:
        fh.write(data)
    return target


def write_output(blob: Blob, output_dir: str | None) -> dict[str, Any]:
    """An output file value: a file in `output_dir` when given, else a data URL."""
    if output_dir is None:
        head: dict[str, Any] = {"url": data_url(blob.read(), blob.content_type)}
    else:
        import shutil
        import tempfile
        fd, target = tempfile.mkstemp(suffix="-" + safe_name(blob.name), dir=output_dir)
        os.fchmod(fd, 0o644)  # the executor collecting it may run as another user than the worker
        with os.fdopen(fd, "wb") as fh:
            if blob.data is not None:
                fh.write(blob.data)
            else:
                with open(blob.path or "", "rb") as src:
                    shutil.copyfileobj(src, fh)
        head = {"path": target}
    return {**head, "name": blob.name, "content_type": blob.content_type, "size": blob.size}


def to_input(blob: Blob, field: str, upload: Upload | None) -> dict[str, Any]:
    """A file value a client can send: inline when small, else through `upload`."""
    data = blob.read()
    if len(data) <= DATA_URL_LIMIT:
        return {"url": data_url(data, blob.content_type), "name": blob.name,
                "content_type": blob.content_type, "size": len(data)}
    if upload is None:
        raise InvalidInput(f"input {field!r} is {_human(len(data))}; files over "
                           f"{_human(DATA_URL_LIMIT)} must be uploaded first", field=field)
    return upload(data, blob.name, blob.content_type)


def pending_upload(data: bytes, name: str, content_type: str) -> dict[str, Any]:
    """Stands in for a real upload when only validating: the value it would become."""
    return {"url": "feather:files/pending", "name": name, "content_type": content_type,
            "size": len(data)}


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(name)).strip("._")
    return cleaned[-100:] or "file"


_scratch: str | None = None


def scratch_dir() -> str:
    """A private folder for inline inputs that must be paths; the runtime clears it per call."""
    global _scratch
    if _scratch is None or not os.path.isdir(_scratch):
        import tempfile
        _scratch = tempfile.mkdtemp(prefix="feather-inputs-")
    return _scratch


def clear_scratch() -> None:
    global _scratch
    if _scratch is not None:
        import shutil
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None


def _data_url_size(url: str) -> int:
    """Decoded size of a base64 data URL, computed without decoding it."""
    head, _, payload = url.partition(",")
    if ";base64" not in head:
        return len(payload)  # percent-encoded text: an upper bound, which is all a limit needs
    return len(payload) * 3 // 4 - (2 if payload.endswith("==") else 1 if payload.endswith("=") else 0)


def _check_size(size: int, field: str, max_size: int | None) -> None:
    if max_size is not None and size > max_size:
        raise InvalidInput(f"input {field!r} must be at most {_human(max_size)}, "
                           f"got {_human(size)}", field=field)


def _human(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"
