"""A model may name its task, which ranks it with the task's other models."""
from __future__ import annotations

import pytest

import feather as ft
from feather import DefinitionError


def model(**kw) -> ft.Model:
    m = ft.Model("ranked", **kw)

    @m.step(inputs=[ft.Text("word")], outputs=[ft.Label("kind")])
    def judge(word: str) -> str:
        return "short"
    return m


def test_the_task_is_in_the_manifest_and_absent_when_not_named():
    assert model(task="word-length").manifest()["task"] == "word-length"
    assert "task" not in model().manifest()


@pytest.mark.parametrize("task", ["Word Length", "", "-x", 7, "x" * 65])
def test_a_task_that_is_not_a_slug_is_a_definition_error(task):
    with pytest.raises(DefinitionError, match="task"):
        model(task=task)
