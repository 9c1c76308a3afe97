"""File components: Image, Audio and File, all carried as file values (docs/wire.md)."""
from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from . import _files as files
from ._components import Component, drop_unset, is_count
from ._convert import image_array, image_bytes, is_array, is_pil_image, open_image, wav_decode, wav_encode
from ._errors import InvalidInput
from ._regions import REGIONS_SCHEMA, Annotated, regions_json

_IMAGE_FORMATS = ("png", "jpeg", "jpg", "webp")


class FileComponent(Component):
    """A value carried as a file. Subclasses say how Python objects become bytes and back."""
    formats: ClassVar[tuple[str, ...]] = ("path", "bytes")

    def __init__(self, name: str, *, label: str | None, description: str | None, format: str,
                 max_size: int | None, accept: Sequence[str] | None) -> None:
        super().__init__(name, label=label, description=description)
        kind = type(self).__name__
        if format not in self.formats:
            self._fail(f"{kind} {name!r}: format must be one of {', '.join(self.formats)}, "
                       f"got {format!r}")
        if max_size is not None and (not is_count(max_size) or max_size == 0):
            self._fail(f"{kind} {name!r}: max_size must be a positive number of bytes, "
                       f"got {max_size!r}")
        if accept is not None and (isinstance(accept, str) or not all(
                isinstance(a, str) and (a.startswith(".") or "/" in a) for a in accept)):
            self._fail(f"{kind} {name!r}: accept must be a list such as ['.csv', 'image/*'], "
                       f"got {accept!r}")
        self.format, self.max_size = format, max_size
        self.accept = list(accept) if accept is not None else None

    @property
    def props(self) -> dict[str, Any]:
        return drop_unset(max_size=self.max_size, accept=self.accept)

    def json_schema(self) -> dict[str, Any]:
        return files.file_schema(max_size=self.max_size)

    def output_schema(self) -> dict[str, Any]:
        return files.file_schema(output=True)

    def _check(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str) and re.match(files.URL_PATTERN, value):
            value = {"url": value}  # a file given as its URL alone, as the API accepts it
        return files.check_value(value, self.name, max_size=self.max_size, accept=self.accept)

    def validate(self, value: Any) -> None:
        wire = self.to_wire(value, upload=files.pending_upload)
        files.check_value(wire, self.name, max_size=self.max_size, accept=self.accept,
                          inline_limit=files.DATA_URL_LIMIT)

    def decode(self, value: Any) -> Any:
        value = self._check(value)
        if self.format == "path":
            return pathlib.Path(files.local_path(value, self.name, self.max_size))
        data = files.read_bytes(value, self.name, self.max_size)
        if self.format == "bytes":
            return data
        try:
            return self._from_bytes(data)
        except ValueError as exc:
            raise self._invalid(str(exc)) from None

    def to_wire(self, value: Any, *, upload: files.Upload | None = None) -> Any:
        if isinstance(value, dict):
            return dict(value)  # already a file value
        if isinstance(value, str) and re.match(files.URL_PATTERN, value):
            return {"url": value}
        try:
            blob = self.blob(value)
        except (TypeError, OSError) as exc:
            raise InvalidInput(f"input {self.name!r}: {exc}", field=self.name) from None
        return files.to_input(blob, self.name, upload)

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        try:
            blob = self.blob(value)
        except (TypeError, OSError) as exc:
            raise TypeError(f"output {self.name!r} ({self.kind}): {exc}") from None
        return files.write_output(blob, output_dir)

    def blob(self, value: Any) -> files.Blob:
        """Bytes or a path as they are, other objects through `_to_blob`; TypeError if neither."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            content_type = files.guess_type(self.name, data)
            return files.Blob(self.name + files.extension(content_type), content_type, data)
        if isinstance(value, (str, os.PathLike)):
            return files.blob_from_path(value)
        return self._to_blob(value)

    def _to_blob(self, value: Any) -> files.Blob:
        raise _expected("bytes or a path", value)

    def _from_bytes(self, data: bytes) -> Any:
        return data


class Image(FileComponent):
    """An image. The step receives a PIL image (`format="pil"`), an HxWxC uint8 array
    (`"numpy"`), the raw `"bytes"` or a `"path"`; it may return any of those."""
    kind = "image"
    formats = ("pil", "numpy", "bytes", "path")

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 format: str = "pil", mode: str | None = None, file_format: str = "png",
                 max_size: int | None = None, accept: Sequence[str] | None = None) -> None:
        super().__init__(name, label=label, description=description, format=format,
                         max_size=max_size, accept=accept)
        if file_format not in _IMAGE_FORMATS:
            self._fail(f"Image {name!r}: file_format must be one of {', '.join(_IMAGE_FORMATS)}")
        self.mode, self.file_format = mode, file_format

    def output_schema(self) -> dict[str, Any]:
        schema = super().output_schema()
        schema["properties"] = {**schema["properties"], "boxes": REGIONS_SCHEMA,
                                "caption": {"type": "string"}}
        return schema

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        if not isinstance(value, Annotated):
            return super().encode(value, output_dir=output_dir)
        out = super().encode(value.image, output_dir=output_dir)
        if value.boxes:
            out["boxes"] = regions_json(value.boxes, self)
        if value.caption is not None:
            out["caption"] = str(value.caption)
        return out

    def _to_blob(self, value: Any) -> files.Blob:
        if not is_pil_image(value) and not is_array(value):
            raise _expected("a PIL image, an image array, bytes or a path", value)
        ext = "jpeg" if self.file_format == "jpg" else self.file_format
        data = image_bytes(value, self.file_format, f"image {self.name!r}")
        return files.Blob(f"{self.name}.{self.file_format}", f"image/{ext}", data)

    def _from_bytes(self, data: bytes) -> Any:
        image = open_image(data, self.mode, f"input {self.name!r}")
        return image_array(image, f"input {self.name!r}") if self.format == "numpy" else image


class Audio(FileComponent):
    """Sound. The step receives `(sample_rate, samples)` decoded from PCM WAV (`"numpy"`),
    the raw `"bytes"` or a `"path"`; it may return `(rate, samples)`, bytes or a path."""
    kind = "audio"
    formats = ("numpy", "bytes", "path")

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 format: str = "numpy", max_size: int | None = None,
                 accept: Sequence[str] | None = None) -> None:
        super().__init__(name, label=label, description=description, format=format,
                         max_size=max_size, accept=accept)

    def _to_blob(self, value: Any) -> files.Blob:
        if not isinstance(value, tuple) or len(value) != 2:
            raise _expected("(sample_rate, samples), WAV bytes or a path", value)
        data = wav_encode(value[0], value[1], f"audio {self.name!r}")
        return files.Blob(f"{self.name}.wav", "audio/wav", data)

    def _from_bytes(self, data: bytes) -> Any:
        try:
            return wav_decode(data, f"input {self.name!r}")
        except ValueError as exc:
            raise ValueError(f"{exc}; use Audio(..., format='bytes') for other formats") from None


class File(FileComponent):
    """Any file. The step receives a `pathlib.Path` (`"path"`) or the `"bytes"`; it may return
    bytes (named `filename`, whose extension sets the content type) or a path."""
    kind = "file"

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 format: str = "path", max_size: int | None = None,
                 accept: Sequence[str] | None = None, filename: str | None = None) -> None:
        super().__init__(name, label=label, description=description, format=format,
                         max_size=max_size, accept=accept)
        if filename is not None and (not isinstance(filename, str)
                                     or files.safe_name(filename) != filename):
            self._fail(f"File {name!r}: filename must be a plain file name, got {filename!r}")
        self.filename = filename

    def blob(self, value: Any) -> files.Blob:
        blob = super().blob(value)
        if self.filename and blob.data is not None:
            type_ = files.guess_type(self.filename)
            return files.Blob(self.filename, type_ if "octet" not in type_ else blob.content_type,
                              blob.data)
        return blob


def _expected(what: str, value: Any) -> TypeError:
    return TypeError(f"expects {what}, got {type(value).__name__}: {value!r:.60}")
