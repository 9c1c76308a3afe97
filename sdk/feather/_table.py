"""Table: rows of scalars under named columns, as `{"columns": [...], "rows": [[...], ...]}`."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ._components import Component, drop_unset, is_count
from ._convert import need
from ._errors import InvalidInput
from ._files import Upload

_CELL = {"number": ["number", "null"], "string": ["string", "null"],
         "boolean": ["boolean", "null"]}
_ANY_CELL = {"type": ["string", "number", "boolean", "null"]}


class Table(Component):
    """Columns are `["a", "b"]` or typed `{"a": "number", "b": "string"}`. The step receives a
    list of row dicts, or a pandas DataFrame with `format="pandas"`; it may return row dicts,
    lists of cells (with declared columns), a `{"columns", "rows"}` dict or a DataFrame.
    `null` cells stand for missing values."""
    kind = "table"

    def __init__(self, name: str, *, columns: Sequence[str] | Mapping[str, str] | None = None,
                 format: str = "rows", min_rows: int | None = None, max_rows: int | None = None,
                 label: str | None = None, description: str | None = None) -> None:
        super().__init__(name, label=label, description=description)
        if format not in ("rows", "pandas"):
            self._fail(f"Table {name!r}: format must be 'rows' or 'pandas', got {format!r}")
        self.types: dict[str, str] | None = None
        if isinstance(columns, Mapping):
            bad = {c: t for c, t in columns.items() if t not in _CELL}
            if bad:
                self._fail(f"Table {name!r}: column types must be one of {', '.join(_CELL)}, "
                           f"got {bad!r}")
            self.types = dict(columns)
        names = list(columns) if columns is not None else None
        if names is not None and (isinstance(columns, str) or not names
                                  or not all(isinstance(c, str) and c for c in names)
                                  or len(set(names)) != len(names)):
            self._fail(f"Table {name!r}: columns must be distinct non-empty names, got {columns!r}")
        for key, count in (("min_rows", min_rows), ("max_rows", max_rows)):
            if count is not None and not is_count(count):
                self._fail(f"Table {name!r}: {key} must be a non-negative int, got {count!r}")
        self.columns, self.format = names, format
        self.min_rows, self.max_rows = min_rows, max_rows

    @property
    def props(self) -> dict[str, Any]:
        return drop_unset(columns=self.types or self.columns, min_rows=self.min_rows,
                          max_rows=self.max_rows)

    def json_schema(self) -> dict[str, Any]:
        if self.columns is None:
            columns: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
            row: dict[str, Any] = {"type": "array", "items": _ANY_CELL}
        else:
            columns = {"const": list(self.columns)}
            cells = [{"type": _CELL[self.types[c]]} if self.types else _ANY_CELL
                     for c in self.columns]
            row = {"type": "array", "prefixItems": cells, "items": False,
                   "minItems": len(cells)}
        rows: dict[str, Any] = {"type": "array", "items": row}
        if self.min_rows is not None:
            rows["minItems"] = self.min_rows
        if self.max_rows is not None:
            rows["maxItems"] = self.max_rows
        return {"type": "object", "required": ["columns", "rows"],
                "properties": {"columns": columns, "rows": rows}}

    def _check(self, value: Any) -> Any:
        problem = self._problem(value)
        if problem:
            raise self._invalid(problem)
        return value

    def decode(self, value: Any) -> Any:
        self._check(value)
        if self.format == "pandas":
            pandas = need("pandas", f"input {self.name!r} (format='pandas')")
            return pandas.DataFrame(value["rows"], columns=value["columns"])
        return [dict(zip(value["columns"], row, strict=True)) for row in value["rows"]]

    def to_wire(self, value: Any, *, upload: Upload | None = None) -> dict[str, Any]:
        try:
            return self._tabulate(value)
        except TypeError as exc:
            raise InvalidInput(f"input {self.name!r} {exc}", field=self.name) from None

    def encode(self, value: Any, *, output_dir: str | None = None) -> dict[str, Any]:
        try:
            table = self._tabulate(value)
        except TypeError as exc:
            raise TypeError(f"output {self.name!r} (table) {exc}") from None
        problem = self._problem(table)
        if problem:
            raise TypeError(f"output {self.name!r} (table) {problem}")
        return table

    def _tabulate(self, value: Any) -> dict[str, Any]:
        """Any accepted Python table -> {"columns", "rows"} with plain JSON cells."""
        if isinstance(value, Mapping) and set(value) == {"columns", "rows"}:
            columns, rows = list(value["columns"]), [list(r) for r in value["rows"]]
        elif hasattr(value, "columns") and hasattr(value, "itertuples"):  # a pandas DataFrame
            columns = [str(c) for c in value.columns]
            rows = [list(r) for r in value.itertuples(index=False, name=None)]
        elif hasattr(value, "tolist") and hasattr(value, "ndim"):  # a 2-D numpy array
            columns, rows = self._need_columns(), value.tolist()
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
            if all(isinstance(r, Mapping) for r in value):
                columns = self.columns or list(dict.fromkeys(k for r in value for k in r))
                unknown = {k for r in value for k in r} - set(columns)
                if unknown:
                    raise TypeError(f"has rows with unknown columns {sorted(unknown)}")
                rows = [[r.get(c) for c in columns] for r in value]
            else:
                columns, rows = self._need_columns(), [list(r) for r in value]
        else:
            raise TypeError("expects row dicts, rows of cells, {'columns', 'rows'} or a "
                            f"DataFrame, got {type(value).__name__}")
        return {"columns": columns, "rows": [[_cell(c) for c in r] for r in rows]}

    def _need_columns(self) -> list[str]:
        if self.columns is None:
            raise TypeError("got rows without column names: declare Table(columns=[...]) or "
                            "use row dicts")
        return list(self.columns)

    def _problem(self, value: Any) -> str | None:
        if not isinstance(value, dict) or not isinstance(value.get("columns"), list) \
                or not isinstance(value.get("rows"), list):
            return "must be an object with 'columns' and 'rows' lists"
        columns, rows = value["columns"], value["rows"]
        if self.columns is not None and columns != self.columns:
            return (f"must have the columns {', '.join(self.columns)} in that order, got "
                    f"{', '.join(map(str, columns)) or 'none'}")
        if not all(isinstance(c, str) for c in columns):
            return "must name its columns with strings"
        if self.min_rows is not None and len(rows) < self.min_rows:
            return f"needs at least {self.min_rows} rows, got {len(rows)}"
        if self.max_rows is not None and len(rows) > self.max_rows:
            return f"allows at most {self.max_rows} rows, got {len(rows)}"
        for number, row in enumerate(rows, 1):
            if not isinstance(row, list) or len(row) != len(columns):
                return f"row {number} must be a list of {len(columns)} cells, got {row!r:.60}"
            for column, cell in zip(columns, row, strict=True):
                wanted = _CELL[self.types[column]] if self.types else _ANY_CELL["type"]
                if _json_kind(cell) not in wanted:
                    return (f"row {number}, column {column!r} must be "
                            f"{' or '.join(wanted)}, got {cell!r:.40}")
        return None


def _cell(value: Any) -> Any:
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return float(value) if math.isfinite(value) else None  # NaN means missing
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number" if math.isfinite(value) else "nan"
    return "string" if isinstance(value, str) else type(value).__name__
