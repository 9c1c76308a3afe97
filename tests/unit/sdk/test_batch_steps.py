"""Batch steps in the SDK: declaring them, their manifest, and the runtime giving them lists."""
from __future__ import annotations

import pytest

import feather as ft
from feather._manifest import manifest_schema
from feather.runtime import LoadedModel, StepError

calls: list[list[float]] = []


def _model(fn=None, **batch) -> ft.Model:
    model = ft.Model("batched")

    def double(x: list[float]) -> list[float]:
        calls.append(list(x))
        if any(v < 0 for v in x):
            raise ValueError("negative")
        return [v * 2 for v in x]
    model.step(inputs=[ft.Number("x")], outputs=[ft.Number("y")], batch=ft.Batch(**batch))(fn or double)
    return model


def test_the_manifest_says_how_a_step_takes_batches() -> None:
    step = _model(max_size=8, max_wait_ms=5).manifest()["steps"][0]
    assert step["batch"] == {"max_size": 8, "max_wait_ms": 5}
    import jsonschema
    jsonschema.validate(_model().manifest(), manifest_schema())
    assert "batch" not in ft.Model("plain", steps=[ft.Step(lambda x: x, inputs=[ft.Number("x")],
                                                           outputs=[ft.Number("y")], name="same")]).manifest()["steps"][0]


@pytest.mark.parametrize("bad", [{"max_size": 0}, {"max_size": 65}, {"max_size": 2.5}, {"max_size": True},
                                 {"max_wait_ms": -1}, {"max_wait_ms": 1001}, {"max_wait_ms": "10"}])
def test_a_batch_out_of_range_is_a_definition_error(bad) -> None:
    with pytest.raises(ft.DefinitionError):
        ft.Batch(**bad)


def test_a_generator_step_cannot_take_batches() -> None:
    def tokens(x):
        yield "a"
    with pytest.raises(ft.DefinitionError, match="cannot stream"):
        ft.Step(tokens, inputs=[ft.Number("x")], outputs=[ft.Text("t")], batch=ft.Batch())
    with pytest.raises(ft.DefinitionError, match="ft.Batch"):
        ft.Step(lambda x: x, inputs=[ft.Number("x")], outputs=[ft.Text("t")], name="s", batch={"max_size": 2})


def test_each_run_gets_its_own_answer_and_one_bad_input_fails_only_its_run() -> None:
    calls.clear()
    loaded = LoadedModel(_model(), None, 0.0)
    answers = loaded.run_batch("double", [{"x": 1}, {"x": -1}, {"x": 3}, {"x": "three"}, {"x": 5}, {"y": 1}])
    assert [a["ok"] for a in answers] == [True, False, True, False, True, False]
    assert [a["outputs"]["y"] for a in answers if a["ok"]] == [2, 6, 10]
    assert answers[1]["error"] == "ValueError: negative" and "raise ValueError" in answers[1]["traceback"]
    assert "During handling" not in answers[1]["traceback"]  # its own traceback, not the batch's
    assert "must be a number" in answers[3]["error"] and "unknown input 'y'" in answers[5]["error"]
    # the inputs that decode go together; the failing call is halved until the bad one is alone
    assert calls == [[1, -1, 3, 5], [1, -1], [1], [-1], [3, 5]]


def test_a_batch_step_given_one_run_is_called_with_lists_of_one() -> None:
    calls.clear()
    loaded = LoadedModel(_model(), None, 0.0)
    assert loaded.run("double", {"x": 4}) == {"y": 8}
    assert calls == [[4]]
    with pytest.raises(StepError, match="negative"):
        loaded.run("double", {"x": -4})


def test_a_step_that_answers_the_wrong_number_of_results_fails_every_run_once() -> None:
    seen: list[int] = []

    def short(x):
        seen.append(len(x))
        return x[:-1]
    answers = LoadedModel(_model(short), None, 0.0).run_batch("short", [{"x": 1}, {"x": 2}, {"x": 3}])
    assert seen == [3]  # a bug of the step, not of an input: not retried in halves
    assert all(not a["ok"] and "must return a list of 3 results, got 2" in a["error"] for a in answers)


def test_a_result_that_cannot_be_encoded_fails_only_its_run() -> None:
    def odd(x):
        return [v if v != 2 else object() for v in x]
    answers = LoadedModel(_model(odd), None, 0.0).run_batch("odd", [{"x": 1}, {"x": 2}, {"x": 3}])
    assert [a["ok"] for a in answers] == [True, False, True]


def test_a_step_without_batch_refuses_a_batch() -> None:
    model = ft.Model("plain")
    model.step(inputs=[ft.Number("x")], outputs=[ft.Number("y")], name="same")(lambda x: x)
    with pytest.raises(ft.InvalidInput, match="does not take batches"):
        LoadedModel(model, None, 0.0).run_batch("same", [{"x": 1}])
