"""Fixtures for the SDK unit tests: app files in tmp_path and the fake platform."""
from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from feather import Client
from sdk_fake_platform import TOKEN, make_platform


@pytest.fixture
def write_app(tmp_path: Path) -> Callable[..., Path]:
    """write_app(source, **{"other/file.txt": text}) -> path of a fresh app.py, dedented."""
    counter = itertools.count()

    def write(source: str, **files: str) -> Path:
        folder = tmp_path / f"app{next(counter)}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(textwrap.dedent(text))
        app = folder / "app.py"
        app.write_text(textwrap.dedent(source).lstrip("\n"))
        return app
    return write


@pytest.fixture
def platform(tmp_path: Path) -> tuple[FastAPI, SimpleNamespace]:
    return make_platform(tmp_path)


@pytest.fixture
def client(platform: tuple[FastAPI, SimpleNamespace]) -> Iterator[Client]:
    with Client("http://feather.test", TOKEN, transport=httpx.ASGITransport(platform[0])) as c:
        yield c
