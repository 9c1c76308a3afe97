"""Ratings of a task's models from pairwise votes, with no I/O: the Bradley-Terry model fitted by
maximum likelihood, on FastChat's scale (400 points per tenfold odds, centred on 1000), with 95%
intervals from bootstrap resamples of the votes. A tie, or both bad, counts half a win each way."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SCALE, BASE, CENTRE = 400.0, 10.0, 1000.0
ROUNDS = 100
RIDGE = 1e-4  # keeps a model that never lost from running off to infinity


def _fit(models: list[str], votes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    import numpy as np  # loaded on first use, as in drift.py
    from scipy.optimize import minimize

    index = {m: i for i, m in enumerate(models)}
    rows = [(index[v["model_a"]], index[v["model_b"]], {"a": 1.0, "b": 0.0}.get(v["winner"], 0.5))
            for v in votes if v["model_a"] in index and v["model_b"] in index]
    a = np.array([r[0] for r in rows], dtype=int)
    b = np.array([r[1] for r in rows], dtype=int)
    won = np.array([r[2] for r in rows])
    k = np.log(BASE) / SCALE

    def loss(ratings: np.ndarray) -> tuple[float, np.ndarray]:
        diff = k * (ratings[a] - ratings[b])
        p = 1 / (1 + np.exp(-diff))
        eps = 1e-12
        value = -np.sum(won * np.log(p + eps) + (1 - won) * np.log(1 - p + eps)) + RIDGE * np.sum(ratings ** 2) * k * k
        grad_diff = k * (p - won)
        grad = np.zeros_like(ratings)
        np.add.at(grad, a, grad_diff)
        np.add.at(grad, b, -grad_diff)
        return float(value), grad + 2 * RIDGE * ratings * k * k
    found = minimize(loss, np.zeros(len(models)), jac=True, method="L-BFGS-B")
    ratings = found.x - found.x.mean()
    return ratings + CENTRE


def ratings(models: list[str], votes: Sequence[Mapping[str, Any]], *, rounds: int = ROUNDS,
            seed: int = 0) -> list[dict[str, Any]]:
    """Each model's rating, 95% interval and vote count, best first."""
    counted = [v for v in votes if v["model_a"] in models and v["model_b"] in models]
    if not models or not counted:
        return [{"model": m, "rating": None, "low": None, "high": None, "votes": 0} for m in models]
    import numpy as np

    point = _fit(models, counted)
    rng = np.random.default_rng(seed)
    samples = np.array([_fit(models, [counted[i] for i in rng.integers(0, len(counted), len(counted))])
                        for _ in range(rounds)])
    low, high = np.percentile(samples, 2.5, axis=0), np.percentile(samples, 97.5, axis=0)
    per_model = {m: sum(1 for v in counted if m in (v["model_a"], v["model_b"])) for m in models}
    table = [{"model": m, "rating": round(float(point[i]), 1), "low": round(float(low[i]), 1),
              "high": round(float(high[i]), 1), "votes": per_model[m]} for i, m in enumerate(models)]
    return sorted(table, key=lambda row: -row["rating"])
