"""Input and output drift, with no I/O: a current window of runs' features (see features.py)
compared with a reference by Evidently's default tests.

- A reference of at most 1,000 rows: two-sample Kolmogorov-Smirnov for numbers with more than 5
  distinct values, chi-squared for categories (and numbers with few values), a two-proportion
  Z-test for binary ones; a field drifts when p < 0.05 (95% confidence).
- A larger reference: normed Wasserstein distance for numbers and Jensen-Shannon distance for
  categories; a field drifts when the distance is at least 0.1.
- The model drifts when at least half its fields do.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# numpy and scipy load when a drift report is first asked for: importing them takes telemetry
# a second or two at start-up, which every `feather up` would wait for

SMALL_REFERENCE = 1000
P_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
DRIFT_SHARE = 0.5
FEW_VALUES = 5
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 20

def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, float) for v in values)


def _counts(values: Iterable[Any]) -> Counter[str]:
    return Counter(str(v) for v in values)


def compare(name: str, reference: list[Any], current: list[Any]) -> dict[str, Any] | None:
    """One field's test, score, threshold and verdict, with both distributions for a chart; None
    when either side has no values."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    ref = [v for v in reference if v is not None]
    cur = [v for v in current if v is not None]
    if not ref or not cur:
        return None
    numeric = _numeric(ref) and _numeric(cur)
    small = len(ref) <= SMALL_REFERENCE
    if numeric and len(set(ref)) > FEW_VALUES:
        if small:
            test, score = "ks", float(stats.ks_2samp(ref, cur).pvalue)
        else:
            spread = float(np.std(ref)) or 1.0
            test, score = "wasserstein", float(stats.wasserstein_distance(ref, cur) / spread)
        distributions = _histograms(ref, cur)
    else:
        categories = sorted(set(_counts(ref)) | set(_counts(cur)))
        r, c = _counts(ref), _counts(cur)
        if small:
            test, score = ("z", _z_test(r, c, categories)) if len(categories) <= 2 else \
                ("chi_square", _chi_square(r, c, categories))
        else:
            test = "jensen_shannon"
            score = float(jensenshannon([r[k] for k in categories], [c[k] for k in categories], base=2))
        shown = [k for k, _ in (r + c).most_common(TOP_CATEGORIES)]
        distributions = {"categories": shown, "reference": [r[k] for k in shown], "current": [c[k] for k in shown]}
    by_p = test in ("ks", "z", "chi_square")
    threshold = P_THRESHOLD if by_p else DISTANCE_THRESHOLD
    drifted = score < threshold if by_p else score >= threshold
    return {"field": name, "test": test, "score": round(score, 6), "threshold": threshold, "drifted": bool(drifted),
            "reference_rows": len(ref), "current_rows": len(cur), **distributions}


def _histograms(ref: list[float], cur: list[float]) -> dict[str, Any]:
    import numpy as np

    low, high = min(min(ref), min(cur)), max(max(ref), max(cur))
    edges = np.linspace(low, high if high > low else low + 1, HISTOGRAM_BINS + 1)
    return {"bins": [round(float(e), 6) for e in edges],
            "reference": np.histogram(ref, edges)[0].tolist(), "current": np.histogram(cur, edges)[0].tolist()}


def _chi_square(ref: Counter[str], cur: Counter[str], categories: list[str]) -> float:
    """Chi-squared of the current counts against the reference's proportions (a category the
    reference never saw gets a small expected count, so it weighs without dividing by zero)."""
    import numpy as np
    from scipy import stats

    total_ref, total_cur = sum(ref.values()), sum(cur.values())
    expected = np.array([max(ref[k], 0.5) / total_ref for k in categories])
    expected = expected / expected.sum() * total_cur
    observed = np.array([cur[k] for k in categories], dtype=float)
    return float(stats.chisquare(observed, expected).pvalue)


def _z_test(ref: Counter[str], cur: Counter[str], categories: list[str]) -> float:
    """Two-proportion Z-test on the share of the first category."""
    import numpy as np
    from scipy import stats

    first = categories[0]
    n1, n2 = sum(ref.values()), sum(cur.values())
    p1, p2 = ref[first] / n1, cur[first] / n2
    pooled = (ref[first] + cur[first]) / (n1 + n2)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0 if p1 == p2 else 0.0
    return float(2 * stats.norm.sf(abs(p1 - p2) / spread))


def report(reference: list[Mapping[str, Any]], current: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Every field of the two windows' feature rows compared; the share that drifted."""
    names = sorted({k for row in reference for k in row} | {k for row in current for k in row})
    fields = [found for name in names
              if (found := compare(name, [r.get(name) for r in reference], [c.get(name) for c in current]))]
    drifted = sum(1 for f in fields if f["drifted"])
    share = round(drifted / len(fields), 4) if fields else 0.0
    return {"fields": fields, "drifted_fields": drifted, "share": share, "drifted": bool(fields) and share >= DRIFT_SHARE,
            "reference_rows": len(reference), "current_rows": len(current)}
