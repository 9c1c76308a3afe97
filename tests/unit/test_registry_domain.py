import io
import json
import tarfile
import tracemalloc

import pytest
from feather.rules import newest_ready
from streams import Zeros

from services.contracts.versions import status_after
from services.registry import domain
from services.registry.domain import InvalidBundle, OversizeBundle, read_bundle

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


# Bundles bigger inside than outside: a member of zeros is streamed into the archive (never held
# in memory here), so 64 MiB compresses to about 65 KB.

def bomb(*members: tuple[str, int], before: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in (before or good()).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, Zeros(size))
    return out.getvalue()


def peak_while(parse) -> tuple[BaseException, int]:
    """What ``parse`` raised, and the most Python memory it held at once."""
    tracemalloc.start()
    try:
        with pytest.raises(OversizeBundle) as caught:
            parse()
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_requirements_file_is_refused_without_reading_it():
    data = bomb(("requirements.txt", 64 * 2**20), before={k: v for k, v in good().items() if k != "requirements.txt"})
    assert len(data) < 200_000
    refused, peak = peak_while(lambda: read_bundle(data))
    assert refused.member == "requirements.txt" and "64 KiB" in str(refused)
    assert peak < 16 * 2**20


def test_a_large_member_is_inflated_as_a_stream_and_refused_past_the_unpacked_limit():
    data = bomb(("weights.bin", 64 * 2**20))
    assert read_bundle(data, max_unpacked_mb=65).name == "hello"  # read through, never held whole
    refused, peak = peak_while(lambda: read_bundle(data, max_unpacked_mb=32))
    assert refused.member is None and "32 MiB unpacked" in str(refused)
    assert peak < 16 * 2**20


def test_the_inflated_stream_is_counted_not_only_the_sizes_headers_declare():
    # pax records are tar stream the members' sizes do not count: forty of 50 KB declare 0 bytes
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(40):
            info = tarfile.TarInfo(f"empty-{i}")
            info.pax_headers = {"comment": "x" * 50_000}
            tar.addfile(info, io.BytesIO(b""))
        for name, content in good().items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    assert read_bundle(out.getvalue()).name == "hello"
    with pytest.raises(OversizeBundle, match="1 MiB unpacked"):
        read_bundle(out.getvalue(), max_unpacked_mb=1)


def test_a_huge_tar_header_record_is_refused_before_tarfile_reads_it_whole():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("././@PaxHeader")
        info.type, info.size = tarfile.XHDTYPE, 64 * 2**20
        tar.addfile(info, Zeros(info.size))
    data = out.getvalue()
    refused, peak = peak_while(lambda: read_bundle(data))
    assert "header record" in str(refused) and peak < 16 * 2**20


def test_too_many_members_are_refused():
    files = {**good(), **{f"lib/m{i}.py": b"" for i in range(20)}}
    assert read_bundle(bundle(files), max_members=23).name == "hello"
    with pytest.raises(OversizeBundle, match="more than 22 members") as caught:
        read_bundle(bundle(files), max_members=22)
    assert caught.value.member is None


def test_a_large_manifest_is_refused():
    manifest = json.dumps({**MANIFEST, "description": "d" * 3000}).encode()
    assert read_bundle(bundle(good(**{"feather.json": manifest})), max_manifest_kb=4).name == "hello"
    with pytest.raises(OversizeBundle, match="larger than 2 KiB") as caught:
        read_bundle(bundle(good(**{"feather.json": manifest})), max_manifest_kb=2)
    assert caught.value.member == "feather.json"


def test_members_together_over_the_unpacked_limit_are_refused():
    files = good(**{"a.bin": bytes(600 * 1024), "b.bin": bytes(600 * 1024)})
    assert read_bundle(bundle(files), max_unpacked_mb=2).name == "hello"
    with pytest.raises(OversizeBundle, match="more than 1 MiB unpacked"):
        read_bundle(bundle(files), max_unpacked_mb=1)


def test_a_large_upload_is_refused_before_it_is_opened():
    with pytest.raises(OversizeBundle, match="bundle: larger than 1 MiB"):
        read_bundle(bytes(2**20 + 1), max_bundle_mb=1)


def test_requirements_that_are_not_text_say_so():
    with pytest.raises(InvalidBundle) as caught:
        read_bundle(bundle(good(**{"requirements.txt": b"\xff\xfe"})))
    assert caught.value.field == "requirements" and not isinstance(caught.value, OversizeBundle)


@pytest.mark.parametrize("name", ["hello\n", "hello\nx", " hello"])
def test_a_model_name_with_a_newline_or_space_is_refused(name):
    # `$` in re.match also matches before a trailing newline: names are matched whole
    with pytest.raises(domain.InvalidBundle):
        domain.check_manifest({"name": name, "steps": []})


def test_the_newest_ready_version_is_the_highest_numbered_ready_one():
    versions = [{"version": 1, "status": "ready"}, {"version": 3, "status": "failed"},
                {"version": 2, "status": "ready"}, {"version": 4, "status": "building"}]
    assert newest_ready(versions)["version"] == 2
    assert newest_ready([{"version": 1, "status": "building"}]) is None
    assert status_after(None, "building") == "building"  # a version seen first through its build


@pytest.mark.parametrize("batch, field", [
    ({"max_size": 65, "max_wait_ms": 10}, "max_size"), ({"max_size": True, "max_wait_ms": 10}, "max_size"),
    ({"max_size": 8, "max_wait_ms": 5000}, "max_wait_ms"), ({"max_size": 8}, "max_wait_ms"), ("fast", "max_size")])
def test_a_batch_a_bundle_declares_must_be_one_the_sdk_could_make(batch, field):
    step = {"name": "s", "input_schema": {}, "outputs": [{"name": "y"}], "batch": batch}
    manifest = {"manifest_version": 1, "name": "m", "steps": [step]}
    with pytest.raises(InvalidBundle) as caught:
        domain.check_manifest(manifest)
    assert caught.value.field == f"manifest.steps[0].batch.{field}"
    domain.check_manifest({**manifest, "steps": [{**step, "batch": {"max_size": 64, "max_wait_ms": 0}}]})
    with pytest.raises(InvalidBundle, match="cannot take batches"):
        domain.check_manifest({**manifest, "steps": [{**step, "streams": True, "batch": {"max_size": 4, "max_wait_ms": 0}}]})
