import io
import json
import tarfile

import pytest

from services.registry.domain import InvalidBundle, read_bundle, status_after

MANIFEST = {"manifest_version": 1, "name": "hello",
            "steps": [{"name": "greet", "input_schema": {"type": "object"}, "outputs": [{"name": "g"}]}]}


def bundle(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def good(**overrides: bytes) -> dict[str, bytes]:
    return {"feather.json": json.dumps(MANIFEST).encode(), "app.py": b"x = 1\n",
            "requirements.txt": b"numpy>=2\n# a comment\n\n", **overrides}


def test_a_good_bundle_is_read_without_running_it():
    parsed = read_bundle(bundle(good()))
    assert parsed.name == "hello" and parsed.requirements == ["numpy>=2"]


@pytest.mark.parametrize("files, field", [
    ({"app.py": b""}, "bundle"),
    ({"feather.json": json.dumps(MANIFEST).encode()}, "bundle"),
    (good(**{"../evil.py": b""}), "bundle"),
    (good(**{"feather.json": b"{not json"}), "manifest"),
    (good(**{"feather.json": json.dumps({**MANIFEST, "name": "Bad Name"}).encode()}), "manifest.name"),
    (good(**{"feather.json": json.dumps({**MANIFEST, "steps": []}).encode()}), "manifest.steps"),
    (good(**{"feather.json": json.dumps({**MANIFEST, "manifest_version": 9}).encode()}), "manifest.manifest_version"),
])
def test_bad_bundles_say_which_part_is_wrong(files, field):
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(bundle(files))
    assert caught.value.field == field


def test_not_a_tarball():
    with pytest.raises(InvalidBundle, match="gzip"):
        read_bundle(b"hello")


def test_status_never_goes_back_to_building():
    assert status_after("building", "ready") == "ready"
    assert status_after("ready", "building") == "ready"
    assert status_after("building", "failed") == "failed"


@pytest.mark.parametrize("line", ["numpy>=2", "scikit-learn", "pillow>=10,<12", "requests[socks]==2.31.0",
                                  "numpy~=2.0", "tomli ; python_version < '3.11'"])
def test_package_requirements_are_accepted(line):
    assert read_bundle(bundle(good(**{"requirements.txt": line.encode()}))).requirements == [line]


@pytest.mark.parametrize("line", ["-r /etc/passwd", "--index-url http://evil", "evil @ https://x/evil.tar.gz",
                                  "git+https://x/y", "./local-folder", "/abs/pkg.whl", "-e .", "pkg @ file:///x"])
def test_options_urls_and_paths_are_refused(line):
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(bundle(good(**{"requirements.txt": line.encode()})))
    assert caught.value.field == "requirements.1"


def test_python_must_be_a_version_not_a_path():
    manifest = {**MANIFEST, "python": "/usr/bin/evil"}
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(bundle(good(**{"feather.json": json.dumps(manifest).encode()})))
    assert caught.value.field == "manifest.python"
