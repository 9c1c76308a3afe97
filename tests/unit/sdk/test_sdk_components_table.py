"""Table: accepted Python forms, the wire value, typed columns and their messages."""
from __future__ import annotations

import sys
import types
from typing import Any

import feather as ft
import jsonschema
import numpy as np
import pytest
from feather import InvalidInput

TYPED = {"name": "string", "age": "number"}


class FakeFrame:
    """Enough of a pandas DataFrame for the duck-typed conversion (pandas is not installed)."""

    def __init__(self, rows: list[list[Any]], columns: list[str]) -> None:
        self.rows, self.columns = rows, columns

    def itertuples(self, index: bool = True, name: str | None = "Pandas") -> Any:
        assert index is False and name is None
        return iter(tuple(r) for r in self.rows)


def test_props_and_schema() -> None:
    t = ft.Table("people", columns=TYPED, min_rows=1, max_rows=2)
    assert t.props == {"columns": TYPED, "min_rows": 1, "max_rows": 2}
    assert t.required is True and t.can_input and t.can_output
    schema = t.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"columns": ["name", "age"], "rows": [["ann", 3], ["bo", None]]}, schema)
    for bad in ({"columns": ["age", "name"], "rows": [[3, "ann"]]},
                {"columns": ["name", "age"], "rows": [["ann", "3"]]},
                {"columns": ["name", "age"], "rows": [["ann", 3, 4]]},
                {"columns": ["name", "age"], "rows": []}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert ft.Table("t", columns=["a", "b"]).props == {"columns": ["a", "b"]}


def test_decode_gives_row_dicts_and_checks_cells() -> None:
    t = ft.Table("people", columns=TYPED)
    wire = {"columns": ["name", "age"], "rows": [["ann", 31], ["bo", None]]}
    assert t.decode(wire) == [{"name": "ann", "age": 31}, {"name": "bo", "age": None}]
    cases = [
        ({"columns": ["age", "name"], "rows": []}, "must have the columns name, age in that order, got age, name"),
        ({"columns": ["name", "age"], "rows": [["ann", "31"]]}, "row 1, column 'age' must be number or null, got '31'"),
        ({"columns": ["name", "age"], "rows": [["ann"]]}, "row 1 must be a list of 2 cells"),
        ({"columns": ["name"], "rows": "x"}, "must be an object with 'columns' and 'rows' lists"),
        ([["ann", 1]], "must be an object with 'columns' and 'rows' lists"),
    ]
    for value, message in cases:
        with pytest.raises(InvalidInput, match=f"^input 'people' {message}") as e:
            t.decode(value)
        assert e.value.field == "people"
    loose = ft.Table("t")
    with pytest.raises(InvalidInput, match="row 1, column 'x' must be string or number"):
        loose.decode({"columns": ["x"], "rows": [[{"nested": 1}]]})
    with pytest.raises(InvalidInput, match="needs at least 1 rows, got 0"):
        ft.Table("t", min_rows=1).decode({"columns": [], "rows": []})


def test_to_wire_and_encode_accept_the_usual_python_tables() -> None:
    t = ft.Table("people", columns=TYPED)
    expected = {"columns": ["name", "age"], "rows": [["ann", 31], ["bo", 2.5]]}
    for value in ([{"name": "ann", "age": 31}, {"age": np.float64(2.5), "name": "bo"}],
                  [("ann", np.int64(31)), ["bo", 2.5]],
                  FakeFrame([["ann", 31], ["bo", 2.5]], ["name", "age"]),
                  expected):
        assert t.to_wire(value) == expected
        assert t.encode(value) == expected
    assert t.encode([{"name": "x", "age": float("nan")}])["rows"] == [["x", None]]  # NaN = missing
    loose = ft.Table("t")
    assert loose.encode([{"a": 1}, {"b": True}]) == {"columns": ["a", "b"], "rows": [[1, None], [None, True]]}
    assert ft.Table("m", columns=["x", "y"]).encode(np.array([[1, 2], [3, 4]])) == {
        "columns": ["x", "y"], "rows": [[1, 2], [3, 4]]}


def test_output_errors_name_the_output() -> None:
    t = ft.Table("people", columns=TYPED)
    with pytest.raises(TypeError, match=r"output 'people' \(table\) has rows with unknown columns \['email'\]"):
        t.encode([{"name": "a", "age": 1, "email": "x"}])
    with pytest.raises(TypeError, match=r"output 'people' \(table\) row 1, column 'age' must be number"):
        t.encode([{"name": "a", "age": "old"}])
    with pytest.raises(TypeError, match=r"output 't' \(table\) got rows without column names"):
        ft.Table("t").encode([[1, 2]])
    with pytest.raises(TypeError, match="expects row dicts"):
        t.encode(42)
    with pytest.raises(InvalidInput, match="input 'people' expects row dicts"):
        t.validate("name,age")


def test_pandas_format(monkeypatch: pytest.MonkeyPatch) -> None:
    t = ft.Table("people", columns=TYPED, format="pandas")
    wire = {"columns": ["name", "age"], "rows": [["ann", 31]]}
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ModuleNotFoundError, match=r"input 'people' \(format='pandas'\) needs the "
                                                  r"'pandas' package: add pandas to requirements.txt"):
        t.decode(wire)
    fake = types.ModuleType("pandas")
    fake.DataFrame = FakeFrame  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pandas", fake)
    frame = t.decode(wire)
    assert isinstance(frame, FakeFrame) and frame.rows == [["ann", 31]] and frame.columns == ["name", "age"]


@pytest.mark.parametrize(("columns", "message"), [
    ({"a": "date"}, "column types must be one of number, string, boolean"),
    (["a", "a"], "columns must be distinct non-empty names"),
    ("abc", "columns must be distinct non-empty names"),
    ([], "columns must be distinct non-empty names"),
])
def test_table_definition_errors(columns: Any, message: str) -> None:
    with pytest.raises(ft.DefinitionError, match=message):
        ft.Table("t", columns=columns)
    with pytest.raises(ft.DefinitionError, match="format must be 'rows' or 'pandas'"):
        ft.Table("t", format="polars")
