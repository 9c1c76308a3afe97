"""A run's folders are emptied without recursion and without following links, within bounds."""
from __future__ import annotations

import os
from pathlib import Path

from services.executor.files import remove_contents


def test_a_deep_tree_is_refused_past_the_depth_and_a_shallow_one_removed(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    path = deep
    for _ in range(300):
        path = path / "d"
    path.mkdir(parents=True)
    assert remove_contents(deep, depth=64) is False  # the worker is replaced; its folder goes with it
    assert remove_contents(deep, depth=1000) is True and list(deep.iterdir()) == []


def test_too_many_entries_stop_the_clearing(tmp_path: Path) -> None:
    for i in range(50):
        (tmp_path / f"f{i}").touch()
    assert remove_contents(tmp_path, limit=10) is False
    assert remove_contents(tmp_path, limit=100) is True and list(tmp_path.iterdir()) == []


def test_links_are_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host file")
    folder = tmp_path / "out"
    folder.mkdir()
    os.symlink(outside, folder / "link-to-dir")
    os.symlink(outside / "keep", folder / "link-to-file")
    assert remove_contents(folder) is True
    assert list(folder.iterdir()) == [] and (outside / "keep").read_text() == "host file"


def test_a_field_named_url_is_not_taken_for_a_file():
    from services.contracts.files import files_in
    fields = {"url": "feather:files/abc/x.txt", "doc": {"url": "feather:files/def/y.txt"}}
    assert [v["url"] for v in files_in(fields)] == ["feather:files/def/y.txt"]
