"""Gallery: several images, each with a caption (output only)."""
from __future__ import annotations

from typing import Any

from ._components import Component
from ._files import Blob, file_schema, write_output
from ._media import Image
from ._regions import Annotated, regions_json


class Gallery(Component):
    """Returns a list of images, or of `(image, caption)` pairs; each image may be anything
    an Image output accepts. Wire value: `{"items": [{"image": file, "caption": str}]}`."""
    kind = "gallery"
    can_input = False

    def __init__(self, name: str, *, label: str | None = None, description: str | None = None,
                 file_format: str = "png") -> None:
        super().__init__(name, label=label, description=description)
        self._image = Image(name, file_format=file_format)
        self.file_format = file_format

    def json_schema(self) -> dict[str, Any]:
        item = {"type": "object", "required": ["image", "caption"],
                "properties": {"image": file_schema(output=True), "caption": {"type": "string"}}}
        return {"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": item}}}

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
            raise self._wrong_type("a list of images or (image, caption) pairs", value)
        items = []
        for index, item in enumerate(value, 1):
            image, caption = item, None
            if isinstance(item, (tuple, list)) and len(item) == 2 \
                    and (item[1] is None or isinstance(item[1], str)):
                image, caption = item
            elif isinstance(item, Annotated):
                caption = item.caption
            picture = image.image if isinstance(image, Annotated) else image
            try:
                blob = self._image.blob(picture)
            except (TypeError, OSError) as exc:
                raise TypeError(f"output {self.name!r} (gallery): item {index} {exc}") from None
            if blob.name == f"{self.name}.{self.file_format}":  # a generated name: number it
                blob = Blob(f"{self.name}-{index}.{self.file_format}", blob.content_type,
                            blob.data, blob.path)
            encoded = write_output(blob, output_dir)
            if isinstance(image, Annotated) and image.boxes:
                encoded["boxes"] = regions_json(image.boxes, self)
            items.append({"image": encoded, "caption": caption or ""})
        return {"items": items}
