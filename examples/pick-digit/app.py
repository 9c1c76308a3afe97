"""Find the digits in a picture, let the user pick some, then read the picked ones.

Step 1 (`find`) splits a dark-on-light picture into digit-like regions by column
projection: the columns holding ink, grouped into runs, each run trimmed to the rows
holding ink. The user sees the picture with its boxes and chooses. Step 2 (`read`)
classifies each chosen region with the digits model (weights.npz is a copy of
examples/digits/weights.npz, trained with scikit-learn by examples/digits/train.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import feather as ft
import numpy as np
from PIL import Image, ImageOps

INK = 64  # a pixel at least this much darker than white is ink
MIN_WIDTH = 2  # narrower runs of ink columns are specks, not digits


def load() -> dict[str, np.ndarray]:
    return dict(np.load(Path(__file__).with_name("weights.npz")))


def find_regions(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) boxes, left to right, x1/y1 exclusive like PIL's crop."""
    ink = (255 - gray.astype(np.int16)) >= INK
    columns = np.concatenate([[0], ink.any(axis=0).astype(np.int8), [0]])
    edges = np.diff(columns)
    boxes = []
    for x0, x1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if x1 - x0 < MIN_WIDTH:
            continue
        rows = np.flatnonzero(ink[:, x0:x1].any(axis=1))
        boxes.append((int(x0), int(rows[0]), int(x1), int(rows[-1]) + 1))
    return boxes


def features(image: Image.Image) -> np.ndarray:
    """The same preprocessing as examples/digits: ink cropped, padded, 8x8, 0-16."""
    ink = ImageOps.invert(image.convert("L"))
    ink = ImageOps.pad(ink.crop(ink.getbbox()), (8, 8), Image.Resampling.BOX)
    return np.asarray(ink, dtype=float).reshape(-1) * 16 / 255


def probabilities(image: Image.Image, weights: dict[str, np.ndarray]) -> dict[str, float]:
    scores = weights["coef"] @ features(image) + weights["intercept"]
    chances = np.exp(scores - np.logaddexp.reduce(scores))
    return {str(c): float(p) for c, p in zip(weights["classes"], chances)}


model = ft.Model("pick-digit", description="Finds the digits in a picture; reads the ones "
                 "you pick.", load=load, files=["weights.npz"])


@model.step(inputs=[ft.Image("picture", mode="L")],
            outputs=[ft.ImageRegions("digits", multiple=True)])
def find(picture: Image.Image) -> ft.Annotated:
    """Find the digit-like regions; choose the ones to read."""
    boxes = find_regions(np.asarray(picture))
    ft.progress(1.0, f"found {len(boxes)} digit(s)")
    return ft.Annotated(picture, boxes=[ft.Box(*box, label=f"digit {i}")
                                        for i, box in enumerate(boxes, 1)])


@model.step(inputs=[ft.ImageRegions("digits", multiple=True)],
            outputs=[ft.Text("number"),
                     ft.Table("readings", columns={"region": "string", "digit": "string",
                                                  "confidence": "number"})])
def read(digits: dict[str, Any], context: dict[str, np.ndarray]) -> tuple[str, list[dict]]:
    """Read the chosen digits, left to right."""
    regions = sorted(digits["regions"], key=lambda region: region["box"][0])
    readings = []
    for done, region in enumerate(regions):
        ft.progress(done / len(regions), f"reading {region['label']}")
        chances = probabilities(digits["image"].crop(tuple(region["box"])), context)
        best = max(chances, key=chances.__getitem__)
        readings.append({"region": region["label"], "digit": best,
                         "confidence": round(chances[best], 4)})
    return "".join(r["digit"] for r in readings), readings
