"""How a large value is referred to: events carry a reference, never the bytes."""
from __future__ import annotations

from pydantic import BaseModel, Field


class BlobRef(BaseModel):
    key: str
    size: int = Field(ge=0)
    sha256: str
    content_type: str = "application/octet-stream"
