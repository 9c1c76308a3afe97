"""Bradley-Terry ratings from votes: the order and the gaps of known strengths come back, with
intervals that hold the estimate, on FastChat's scale."""
from __future__ import annotations

import random

from services.telemetry.arena import ratings


def votes(strength: dict[str, float], n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    cast = []
    for _ in range(n):
        a, b = rng.sample(sorted(strength), 2)
        p = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 400))
        draw = rng.random()
        cast.append({"model_a": a, "model_b": b,
                     "winner": "tie" if abs(draw - p) < 0.03 else ("a" if draw < p else "b")})
    return cast


def test_known_strengths_come_back_in_order_with_their_gaps():
    strength = {"x/strong": 1300, "x/middle": 1100, "x/weak": 900}
    table = ratings(list(strength), votes(strength, 900))
    assert [row["model"] for row in table] == ["x/strong", "x/middle", "x/weak"]
    by = {row["model"]: row for row in table}
    assert abs((by["x/strong"]["rating"] - by["x/weak"]["rating"]) - 400) < 80
    assert abs(sum(row["rating"] for row in table) / 3 - 1000) < 0.5  # centred on 1000
    for row in table:
        assert row["low"] <= row["rating"] <= row["high"] and row["votes"] > 0


def test_a_model_that_never_lost_gets_a_finite_rating_and_unvoted_models_none():
    one_sided = [{"model_a": "x/a", "model_b": "x/b", "winner": "a"}] * 20
    table = ratings(["x/a", "x/b"], one_sided, rounds=20)
    assert table[0]["model"] == "x/a" and table[0]["rating"] < 5000
    assert ratings(["x/a", "x/b"], []) == [
        {"model": "x/a", "rating": None, "low": None, "high": None, "votes": 0},
        {"model": "x/b", "rating": None, "low": None, "high": None, "votes": 0}]


def test_both_bad_counts_as_a_tie():
    ties = [{"model_a": "x/a", "model_b": "x/b", "winner": w} for w in ("tie", "both_bad") * 10]
    table = ratings(["x/a", "x/b"], ties, rounds=10)
    assert abs(table[0]["rating"] - table[1]["rating"]) < 1
