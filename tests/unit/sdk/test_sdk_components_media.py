"""Image, Audio, File and Gallery: conversions both ways, file values, limits and errors."""
from __future__ import annotations

import base64
import io
import sys
import wave
from pathlib import Path
from typing import Any

import feather as ft
import jsonschema
import numpy as np
import pytest
from feather import InvalidInput
from feather._files import DATA_URL_LIMIT, parse_data_url
from PIL import Image as PILImage

RGB = (np.arange(12 * 10 * 3) % 251).astype(np.uint8).reshape(12, 10, 3)  # H=12, W=10


def png_bytes(array: np.ndarray = RGB) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_image_to_wire_from_each_python_form(tmp_path: Path) -> None:
    img = ft.Image("photo")
    path = tmp_path / "cat.png"
    path.write_bytes(png_bytes())
    for value in (RGB, PILImage.fromarray(RGB), png_bytes(), path, str(path)):
        wire = img.to_wire(value)
        assert wire["content_type"] == "image/png" and wire["size"] == len(parse_data_url(wire["url"])[0])
        assert wire["name"] in ("photo.png", "cat.png")
        jsonschema.validate(wire, img.json_schema())
        img.validate(wire)
        assert np.array_equal(np.asarray(img.decode(wire)), RGB)
    assert img.to_wire({"url": "feather:files/abc"}) == {"url": "feather:files/abc"}
    assert img.to_wire("https://example.com/a.png") == {"url": "https://example.com/a.png"}


def test_image_decode_formats(tmp_path: Path) -> None:
    wire = ft.Image("a").to_wire(RGB)
    as_array = ft.Image("a", format="numpy").decode(wire)
    assert as_array.shape == (12, 10, 3) and as_array.dtype == np.uint8
    gray = ft.Image("a", format="numpy", mode="L").decode(wire)
    assert gray.shape == (12, 10, 1)
    assert ft.Image("a", format="bytes").decode(wire) == png_bytes()
    path = ft.Image("a", format="path").decode(wire)  # inline data is written to a scratch file
    assert isinstance(path, Path) and path.read_bytes() == png_bytes() and path.name == "a.png"
    on_disk = tmp_path / "x.png"
    on_disk.write_bytes(png_bytes())
    materialized = {"url": "feather:files/1/x.png", "path": str(on_disk)}
    assert ft.Image("a", format="path").decode(materialized) == on_disk  # path wins over url
    assert ft.Image("a", mode="L").decode(materialized).mode == "L"


def test_file_values_that_cannot_be_read_in_the_runtime() -> None:
    img = ft.Image("photo")
    with pytest.raises(InvalidInput, match="input 'photo': file was not materialized") as e:
        img.decode({"url": "feather:files/abc"})
    assert e.value.field == "photo"
    with pytest.raises(InvalidInput, match="file was not materialized"):
        img.decode({"url": "https://example.com/a.png"})
    with pytest.raises(InvalidInput, match="is not an image Pillow can read$"):
        img.decode({"url": "data:image/png;base64," + base64.b64encode(b"nope").decode()})
    with pytest.raises(InvalidInput, match="bad data URL: its base64 data is invalid"):
        img.decode({"url": "data:image/png;base64,@@@"})
    with pytest.raises(InvalidInput, match="is not an image Pillow can read$"):
        img.decode("data:image/png;base64,AAAA")  # a file given by its URL alone is read like the object
    with pytest.raises(InvalidInput, match="must be a file value"):
        img.decode("photo.png")
    with pytest.raises(InvalidInput, match="url that is not data:, feather: or http"):
        img.validate({"url": "file:///etc/passwd"})


def test_big_files_go_through_the_upload_hook() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    img = ft.Image("photo")
    with pytest.raises(InvalidInput, match=r"input 'photo' is .* KiB; files over 256 KiB must be uploaded"):
        img.to_wire(noise)
    calls: list[tuple[int, str, str]] = []

    def upload(data: bytes, name: str, content_type: str) -> dict[str, Any]:
        calls.append((len(data), name, content_type))
        return {"url": "feather:files/xyz", "name": name, "content_type": content_type,
                "size": len(data)}
    wire = img.to_wire(noise, upload=upload)
    assert wire["url"] == "feather:files/xyz" and calls[0][0] > DATA_URL_LIMIT
    assert calls[0][1:] == ("photo.png", "image/png")
    img.validate(noise)  # validation alone does not upload and accepts what would be uploaded
    too_big_inline = {"url": "data:image/png;base64," + "A" * (DATA_URL_LIMIT * 4 // 3 + 8)}
    with pytest.raises(InvalidInput, match="must be uploaded first"):
        img.validate(too_big_inline)


def test_max_size_and_accept() -> None:
    f = ft.File("table", accept=[".csv", "text/*"], max_size=10)
    assert f.props == {"max_size": 10, "accept": [".csv", "text/*"]}
    assert f.json_schema()["properties"]["size"]["maximum"] == 10
    f.validate({"url": "data:text/plain;base64,aGk=", "name": "notes"})  # by content type
    f.validate({"url": "feather:files/1", "name": "a.CSV"})  # by extension, any case
    with pytest.raises(InvalidInput, match=r"input 'table' must be one of .csv, text/\*, got a.xlsx"):
        f.validate({"url": "feather:files/1", "name": "a.xlsx", "content_type": "application/zip"})
    with pytest.raises(InvalidInput, match="must be at most 10 bytes, got 11 bytes"):
        f.validate(b"a,b\n1,2\n3,4")
    with pytest.raises(InvalidInput, match="must be at most 10 bytes, got 12 bytes"):
        f.decode({"url": "data:text/csv;base64," + base64.b64encode(b"x" * 12).decode()})
    with pytest.raises(InvalidInput, match="must be at most 10 bytes"):
        f.validate({"url": "feather:files/1", "size": 11})


def test_image_outputs_to_output_dir_and_data_urls(tmp_path: Path) -> None:
    img = ft.Image("result")
    inline = img.encode(RGB)
    assert set(inline) == {"url", "name", "content_type", "size"}
    jsonschema.validate(inline, img.output_schema())
    written = img.encode(PILImage.fromarray(RGB), output_dir=str(tmp_path))
    assert set(written) == {"path", "name", "content_type", "size"}
    assert Path(written["path"]).parent == tmp_path and Path(written["path"]).read_bytes() == png_bytes()
    assert written["size"] == len(png_bytes())
    jpeg = ft.Image("result", file_format="jpeg").encode(np.dstack([RGB, RGB[:, :, :1]]))
    assert jpeg["content_type"] == "image/jpeg" and jpeg["name"] == "result.jpeg"  # alpha dropped
    floats = img.encode(np.ones((4, 4)) * 0.5)
    assert np.asarray(img.decode(floats)).max() == 128
    with pytest.raises(TypeError, match=r"output 'result' \(image\): float image arrays must hold"):
        img.encode(np.ones((4, 4)) * 200.0)
    with pytest.raises(TypeError, match=r"output 'result' \(image\): expects a PIL image"):
        img.encode(42)
    with pytest.raises(TypeError, match=r"output 'result' \(image\): no such file"):
        img.encode(str(tmp_path / "missing.png"))
    with pytest.raises(TypeError, match=r"shape \(2, 2, 2\)"):
        img.encode(np.zeros((2, 2, 2), np.uint8))


def test_annotated_image_output() -> None:
    img = ft.Image("detections")
    out = img.encode(ft.Annotated(RGB, boxes=[ft.Box(1, 2, 5.5, 6, label="cat", score=np.float32(0.5)),
                                              (0, 0, 3, 3), {"box": [2, 2, 4, 4], "label": "dog"}],
                                  caption="two pets"))
    assert out["boxes"] == [{"box": [1, 2, 5.5, 6], "label": "cat", "score": 0.5},
                            {"box": [0, 0, 3, 3], "label": ""}, {"box": [2, 2, 4, 4], "label": "dog"}]
    assert out["caption"] == "two pets"
    jsonschema.validate(out, img.output_schema())
    with pytest.raises(TypeError, match=r"region 0: a box needs x0 <= x1"):
        img.encode(ft.Annotated(RGB, boxes=[(5, 0, 1, 1)]))
    with pytest.raises(TypeError, match="box coordinates must be finite"):
        ft.Box(0, 0, float("nan"), 1)


def wav_bytes(samples: np.ndarray, rate: int = 8000, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.astype(samples.dtype.newbyteorder("<")).tobytes())
    return out.getvalue()


def test_audio_round_trips() -> None:
    audio = ft.Audio("clip")
    stereo = np.array([[0, 100], [-32768, 32767], [5, -5]], dtype=np.int16)
    wire = audio.to_wire((16000, stereo))
    assert wire["content_type"] == "audio/wav" and wire["name"] == "clip.wav"
    rate, samples = audio.decode(wire)
    assert rate == 16000 and samples.dtype == np.int16 and np.array_equal(samples, stereo)
    rate, samples = audio.decode(audio.encode((8000, np.array([0.0, 0.5, -1.0, 2.0]))))
    assert samples.tolist() == [0, 16384, -32767, 32767]  # floats scaled, clipped to -1..1
    mono8 = audio.decode(audio.to_wire(wav_bytes(np.array([0, 128, 255], np.uint8), width=1)))[1]
    assert mono8.dtype == np.uint8 and mono8.tolist() == [0, 128, 255]
    assert audio.decode(audio.encode((8000, np.array([-128, 0, 127], np.int8))))[1].tolist() == [0, 128, 255]
    # 24-bit samples come back as int32 scaled to the full range, sign kept
    raw24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (1, -1, 2**23 - 1))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(3), w.setframerate(8000), w.writeframes(raw24)
    assert audio.decode(audio.to_wire(out.getvalue()))[1].tolist() == [256, -256, (2**23 - 1) * 256]
    assert ft.Audio("clip", format="bytes").decode(wire)[:4] == b"RIFF"


def test_audio_errors() -> None:
    audio = ft.Audio("clip")
    with pytest.raises(InvalidInput, match=r"input 'clip' is not a PCM WAV file .*format='bytes'"):
        audio.decode(audio.to_wire(b"ID3 not a wav"))
    with pytest.raises(TypeError, match=r"output 'clip' \(audio\): the sample rate must be a positive int"):
        audio.encode((0, np.zeros(3)))
    with pytest.raises(TypeError, match="samples must be float"):
        audio.encode((8000, np.zeros(3, dtype=np.int64)))
    with pytest.raises(InvalidInput, match=r"input 'clip': expects \(sample_rate, samples\)"):
        audio.to_wire([1, 2, 3])


def test_file_component(tmp_path: Path) -> None:
    f = ft.File("report", filename="report.csv")
    out = f.encode(b"a,b\n1,2\n", output_dir=str(tmp_path))
    assert (out["name"], out["content_type"], out["size"]) == ("report.csv", "text/csv", 8)
    source = tmp_path / "data.json"
    source.write_text("{}")
    copied = f.encode(source, output_dir=str(tmp_path))
    assert copied["name"] == "data.json" and copied["content_type"] == "application/json"
    assert Path(copied["path"]).read_text() == "{}" and copied["path"] != str(source)
    received = ft.File("doc").decode(ft.File("doc").to_wire(source))
    assert isinstance(received, Path) and received.read_text() == "{}"
    assert ft.File("doc", format="bytes").decode(f.to_wire(b"xyz")) == b"xyz"
    assert ft.File("raw").encode(b"\x00\x01")["name"] == "raw.bin"
    assert ft.File("pdf").encode(b"%PDF-1.4 ...")["content_type"] == "application/pdf"
    with pytest.raises(InvalidInput, match=r"input 'doc': no such file"):
        ft.File("doc").to_wire(str(tmp_path / "absent.txt"))


def test_gallery_output() -> None:
    g = ft.Gallery("samples")
    out = g.encode([RGB, (PILImage.fromarray(RGB), "second"),
                    ft.Annotated(RGB, boxes=[(0, 0, 1, 1)], caption="third")])
    assert [i["caption"] for i in out["items"]] == ["", "second", "third"]
    assert [i["image"]["name"] for i in out["items"]] == ["samples-1.png", "samples-2.png", "samples-3.png"]
    assert out["items"][2]["image"]["boxes"] == [{"box": [0, 0, 1, 1], "label": ""}]
    jsonschema.validate(out, g.json_schema())
    with pytest.raises(TypeError, match=r"output 'samples' \(gallery\): item 2 expects"):
        g.encode([RGB, 5])
    with pytest.raises(TypeError, match=r"output 'samples' \(gallery\) expects a list"):
        g.encode(RGB)


def test_missing_pillow_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = ft.Image("photo").to_wire(png_bytes())  # bytes need no Pillow on the way in
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # makes `import PIL.Image` fail
    with pytest.raises(ModuleNotFoundError, match=r"input 'photo' needs the 'pillow' package: "
                                                  r"add pillow to requirements.txt"):
        ft.Image("photo").decode(wire)
    assert ft.Image("photo", format="bytes").decode(wire) == png_bytes()


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ft.Image("i", format="tensor"), "format must be one of pil, numpy, bytes, path"),
    (lambda: ft.Image("i", max_size=0), "max_size must be a positive number of bytes"),
    (lambda: ft.Image("i", accept="image/*"), "accept must be a list"),
    (lambda: ft.Image("i", accept=["png"]), "accept must be a list"),
    (lambda: ft.Image("i", file_format="tiff"), "file_format must be one of"),
    (lambda: ft.Audio("a", format="pil"), "format must be one of numpy, bytes, path"),
    (lambda: ft.File("f", filename="../x.csv"), "filename must be a plain file name"),
])
def test_media_definition_errors(make: Any, message: str) -> None:
    with pytest.raises(ft.DefinitionError, match=message) as e:
        make()
    assert e.value.file == __file__
