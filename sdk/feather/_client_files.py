"""Files over the API: upload, download, and turning a run's file outputs into Python values."""
from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote, urlsplit

from ._client_base import Call, Core, Flow, fetch_model
from ._errors import FeatherError, InvalidInput
from ._wire_client import PendingFiles, replace_pending, step_entry
from ._wire_files import DATA_URL_LIMIT, data_url_value, decode_data_url, read_path, sniff, to_bytes

SCHEME = "feather:files/"
IMAGE_KINDS = frozenset({"image", "gallery", "image_regions"})  # files here decode to PIL
_FILE_URLS = ("data:", SCHEME, "http://", "https://", "/v1/files/")
_SENT_KEYS = ("url", "name", "content_type", "size")  # what an input file value carries


def upload(source: Any, name: str | None, content_type: str | None) -> Flow[dict[str, Any]]:
    """POST /v1/files: a path, bytes, a binary file object, a PIL image or a numpy array."""
    found = read_path(source) if isinstance(source, str) else to_bytes(source, None)
    if found is None:
        raise InvalidInput(f"cannot upload a {type(source).__name__}: pass a path, bytes, a "
                           "binary file object, a PIL image or a numpy array", field="file")
    data, found_name, found_type = found
    return (yield from send_file(data, name or found_name, content_type or found_type))


def send_file(data: bytes, name: str, content_type: str) -> Flow[dict[str, Any]]:
    resp = yield Call("POST", "/v1/files", files={"file": (name, data, content_type)})
    answer: dict[str, Any] = resp.json()
    return answer


def send_inputs(wire: dict[str, Any], pending: PendingFiles) -> Flow[dict[str, Any]]:
    """Inline each pending file up to the data: URL limit, upload the larger ones."""
    sent: dict[str, dict[str, Any]] = {}
    for url, (data, name, content_type) in pending.files.items():
        if len(data) <= DATA_URL_LIMIT:
            sent[url] = data_url_value(data, name, content_type)
        else:
            value = yield from send_file(data, name, content_type)
            sent[url] = {k: value[k] for k in _SENT_KEYS if k in value}
    return replace_pending(wire, sent) if sent else wire


def download(core: Core | None, value: dict[str, Any] | str) -> Flow[bytes]:
    url = value.get("url") if isinstance(value, dict) else value
    href = value.get("href") if isinstance(value, dict) else None
    if isinstance(href, str) and href.startswith("/v1/files/"):
        url = href  # the gateway's link, through the run that grants access to the file
    if not isinstance(url, str):
        raise InvalidInput("download expects a file value (an object with a url) or a url",
                           field="file")
    if url.startswith("data:"):
        return decode_data_url(url)
    anonymous = False
    if url.startswith(SCHEME):
        path = "/v1/files/" + quote(url[len(SCHEME):], safe="/")
    elif url.startswith("/"):
        path = url
    elif url.startswith(("http://", "https://")):
        here = urlsplit(core.url) if core else None
        there = urlsplit(url)
        anonymous = here is None or (here.scheme, here.netloc) != (there.scheme, there.netloc)
        path = url
    else:
        raise InvalidInput(f"cannot download {url[:60]!r}: not a data:, feather:files/ or "
                           "http(s) url", field="file")
    if core is None and not anonymous:
        raise FeatherError(f"downloading {url} needs a client: use client.download(value)")
    resp = yield Call("GET", path, anonymous=anonymous)
    content: bytes = resp.content
    return content


def decode_output(run: Any, name: str) -> Flow[Any]:
    outputs = run.outputs or {}
    if name not in outputs:
        raise KeyError(f"run {run.id} has no output {name!r} (outputs: {', '.join(outputs) or 'none'})")
    core: Core | None = run._core
    kind = yield from _output_kind(core, run, name)
    return (yield from _decode(core, run, outputs[name], kind))


def is_file_value(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("url"), str) and \
        value["url"].startswith(_FILE_URLS)


def _decode(core: Core | None, run: Any, value: Any, kind: str | None) -> Flow[Any]:
    if is_file_value(value):
        url = value["url"]
        if url not in run._files:
            run._files[url] = yield from download(core, value)
        data = run._files[url]
        ctype = value.get("content_type") or sniff(data)[1]
        return _image(data) if kind in IMAGE_KINDS and ctype.startswith("image/") else data
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key] = yield from _decode(core, run, item, kind)
        return out
    if isinstance(value, list):
        items: list[Any] = []
        for item in value:
            items.append((yield from _decode(core, run, item, kind)))
        return items
    return value


def _image(data: bytes) -> Any:
    try:
        from PIL import Image
    except ImportError:
        return data
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # decode now, so a broken file fails here rather than at first use
    except (OSError, ValueError):  # not an image PIL can read: the bytes are still useful
        return data
    return image


def _output_kind(core: Core | None, run: Any, name: str) -> Flow[str | None]:
    if core is None or "/" not in (run.model or ""):
        return None
    info = core.models.get(run.model)
    if info is None:
        try:
            info = yield from fetch_model(core, run.model)
        except FeatherError:  # without the manifest, files still decode, as bytes
            return None
    try:
        entry = step_entry(info, run.step)
    except InvalidInput:
        return None
    spec: dict[str, Any] = next(
        (o for o in (entry or {}).get("outputs") or [] if o.get("name") == name), {})
    kind = spec.get("kind")
    return kind if isinstance(kind, str) else None


def drive_offline(flow: Flow[Any]) -> Any:
    """Drives a flow for a run built without a client: only data: URLs can be decoded."""
    try:
        op = next(flow)
        while True:
            if isinstance(op, Call):
                raise FeatherError(f"{op.path} needs a client: use client.download(value)")
            op = flow.send(None)  # Sleep and Emit need nothing back
    except StopIteration as stop:
        return stop.value

