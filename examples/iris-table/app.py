"""Iris species from flower measurements, a table in and a table out.

The classifier is scikit-learn's LogisticRegression on load_iris(), standardized first;
train.py saves it as plain arrays (weights.npz), so serving needs numpy only.
"""
from __future__ import annotations

from pathlib import Path

import feather as ft
import numpy as np

MEASURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]  # centimetres
SPECIES = ["setosa", "versicolor", "virginica"]


def load() -> dict[str, np.ndarray]:
    weights = dict(np.load(Path(__file__).with_name("weights.npz")))
    assert list(weights["species"]) == SPECIES, "weights.npz does not match this app"
    return weights


model = ft.Model("iris-table", description="Predicts the iris species of each row of "
                 "measurements, with probabilities.", load=load, files=["weights.npz"])


@model.step(
    inputs=[ft.Table("flowers", columns={m: "number" for m in MEASURES}, min_rows=1,
                     max_rows=10_000, description="Measurements in centimetres")],
    outputs=[ft.Table("predictions", columns={**{m: "number" for m in MEASURES},
                                              "species": "string",
                                              **{f"p_{s}": "number" for s in SPECIES}})])
def predict(flowers: list[dict[str, float]], context: dict[str, np.ndarray]) -> list[dict]:
    """Classify every row."""
    x = np.array([[row[m] for m in MEASURES] for row in flowers], dtype=float)
    if np.isnan(x).any():  # null cells arrive as None, hence NaN here
        raise ValueError("every measurement is needed; a row has an empty cell")
    scores = ((x - context["mean"]) / context["scale"]) @ context["coef"].T + context["intercept"]
    chances = np.exp(scores - np.logaddexp.reduce(scores, axis=1, keepdims=True))
    return [{**row, "species": SPECIES[int(p.argmax())],
             **{f"p_{s}": round(float(q), 4) for s, q in zip(SPECIES, p)}}
            for row, p in zip(flowers, chances)]
