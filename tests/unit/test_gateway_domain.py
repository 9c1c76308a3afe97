import pytest

from services.gateway import domain as _domain

from services.gateway.domain import (RequestError, check_inputs, new_run_id, parse_prefer_wait,
                                     pick_step, pick_version)

STEP = {
    "name": "greet",
    "inputs": [{"name": "name", "default": None}, {"name": "times", "default": 1}],
    "input_schema": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 5},
                       "times": {"type": "integer", "minimum": 1, "maximum": 3}},
        "required": ["name"],
        "additionalProperties": False,
    },
}


def fields(exc: RequestError) -> dict[str, str]:
    return {e["loc"][-1]: e["msg"] for e in exc.detail}


def test_valid_inputs_get_their_defaults():
    assert check_inputs(STEP, {"name": "Bo"}) == {"name": "Bo", "times": 1}


@pytest.mark.parametrize("inputs, field, words", [
    ({}, "name", "required"),
    ({"name": 3}, "name", "not of type 'string'"),
    ({"name": "too long"}, "name", "too long"),
    ({"name": "Bo", "times": 9}, "times", "maximum"),
])
def test_each_problem_names_its_field(inputs, field, words):
    with pytest.raises(RequestError) as caught:
        check_inputs(STEP, inputs)
    assert caught.value.status == 422
    assert field in fields(caught.value)
    assert words in fields(caught.value)[field]


def test_unexpected_inputs_are_refused():
    with pytest.raises(RequestError) as caught:
        check_inputs(STEP, {"name": "Bo", "colour": "red"})
    assert "colour" in caught.value.detail[0]["msg"]


def test_steps_are_found_by_name():
    manifest = {"steps": [STEP, {**STEP, "name": "second"}]}
    assert pick_step(manifest, None)["name"] == "greet"
    assert pick_step(manifest, "second")["name"] == "second"
    with pytest.raises(RequestError) as caught:
        pick_step(manifest, "third")
    assert caught.value.status == 422 and "greet, second" in caught.value.detail[0]["msg"]


def test_the_newest_ready_version_is_chosen():
    model = {"_id": "a/b", "latest_version": 3}
    versions = [{"version": 1, "status": "ready"}, {"version": 2, "status": "ready"},
                {"version": 3, "status": "building"}]
    assert pick_version(model, versions, None)["version"] == 2
    assert pick_version(model, versions, 1)["version"] == 1


@pytest.mark.parametrize("versions, wanted, status", [
    ([{"version": 1, "status": "building"}], None, 409),
    ([{"version": 1, "status": "failed"}], None, 409),
    ([{"version": 1, "status": "ready"}], 7, 404),
    ([], None, 404),
])
def test_versions_that_cannot_run_are_refused(versions, wanted, status):
    with pytest.raises(RequestError) as caught:
        pick_version({"_id": "a/b", "latest_version": 1}, versions, wanted)
    assert caught.value.status == status


def test_prefer_wait():
    assert parse_prefer_wait(None) == 0
    assert parse_prefer_wait("wait") == 60
    assert parse_prefer_wait("respond-async, wait=5") == 5
    assert parse_prefer_wait("wait=500") == 60
    with pytest.raises(RequestError):
        parse_prefer_wait("wait=soon")


def test_run_ids_are_unique_and_time_ordered():
    ids = [new_run_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 28 for i in ids)


# --- a caller never says where a worker reads a file from ----------------------------------

FILE = {"type": "object", "properties": {"url": {"type": "string"}, "name": {"type": "string"}}, "required": ["url"]}
REGIONS = {"type": "object", "required": ["image", "regions", "selected"],
           "properties": {"image": FILE, "regions": {"type": "array"},
                          "selected": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}}}
FILE_STEP = {"name": "read", "inputs": [{"name": "doc", "kind": "file"}, {"name": "digits", "kind": "image_regions"},
                                       {"name": "cfg", "kind": "json"}, {"name": "docs", "kind": "files"},
                                       {"name": "either", "kind": "json"}],
             "input_schema": {"type": "object", "additionalProperties": False,
                                         "properties": {"doc": FILE, "digits": REGIONS, "cfg": {"type": "object"},
                                                        "docs": {"type": "array", "items": FILE},
                                                        "either": {"anyOf": [FILE, {"type": "string"}]}}}}


def test_paths_are_dropped_from_every_file_value_and_kept_in_json() -> None:
    value = {"doc": {"url": "data:,x", "path": "/etc/passwd"}, "digits": {"image": {"path": "/w.npz"}},
             "docs": [{"path": "/a"}, {"url": "data:,y", "path": "/b"}], "either": {"path": "/c", "url": "data:,z"},
             "cfg": {"path": "just data"}}
    _domain.as_file_values(value, FILE_STEP["input_schema"])
    assert value == {"doc": {"url": "data:,x"}, "digits": {"image": {}}, "docs": [{}, {"url": "data:,y"}],
                     "either": {"url": "data:,z"}, "cfg": {"path": "just data"}}


def test_a_file_given_as_its_url_alone_becomes_a_file_value() -> None:
    given = {"doc": "https://example.org/a.png", "docs": ["data:,y", "feather:files/abc/b.txt"],
             "digits": {"image": "data:image/png;base64,AAAA"}, "cfg": {"url": "https://kept.as/is"}}
    value = _domain.as_file_values(given, FILE_STEP["input_schema"])
    assert value == {"doc": {"url": "https://example.org/a.png"},
                     "docs": [{"url": "data:,y"}, {"url": "feather:files/abc/b.txt"}],
                     "digits": {"image": {"url": "data:image/png;base64,AAAA"}}, "cfg": {"url": "https://kept.as/is"}}
    assert _domain.as_file_values({"doc": "/etc/passwd"}, FILE_STEP["input_schema"]) == {"doc": "/etc/passwd"}
    with pytest.raises(_domain.RequestError) as caught:  # a string that is no URL is still refused
        _domain.check_inputs(FILE_STEP, {"doc": "/etc/passwd"})
    assert caught.value.detail[0]["loc"] == ["body", "inputs", "doc"]


def test_the_openapi_schema_of_a_file_input_accepts_a_uri_string_too() -> None:
    from jsonschema import Draft202012Validator
    schema = _domain.with_uri_strings(FILE_STEP["input_schema"])
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"doc": "https://example.org/a.png", "docs": ["data:,x", {"url": "data:,y"}]})
    assert not validator.is_valid({"doc": "ftp://example.org/a.png"})
    assert FILE_STEP["input_schema"]["properties"]["doc"] == FILE  # the manifest's own is left alone


def test_inputs_with_a_bare_path_are_refused_for_want_of_a_url() -> None:
    with pytest.raises(_domain.RequestError) as caught:
        _domain.check_inputs(FILE_STEP, {"doc": {"path": "/etc/passwd"}})
    assert caught.value.detail[0]["loc"] == ["body", "inputs", "doc", "url"]


def test_choices_are_checked_against_the_later_steps_schema() -> None:
    choice = {"digits": {"selected": [0, 2], "image": {"url": "data:,x", "path": "/etc/passwd"}}}
    assert _domain.check_choices(FILE_STEP, choice, {"digits"}) == {
        "digits": {"selected": [0, 2], "image": {"url": "data:,x"}}}
    for bad, where in [({"nope": 1}, ["nope"]), ({"digits": {"selected": [-1]}}, ["digits", "selected", "0"]),
                       ({"digits": {"selected": "all"}}, ["digits", "selected"]), ({"doc": {"path": "/x"}}, ["doc"])]:
        with pytest.raises(_domain.RequestError) as caught:
            _domain.check_choices(FILE_STEP, bad, {"digits"})
        assert caught.value.status == 422 and caught.value.detail[0]["loc"] == ["body", "choices", "read", *where]
    with pytest.raises(_domain.RequestError):  # not given by an earlier step: the choice must be whole
        _domain.check_choices(FILE_STEP, {"digits": {"selected": [0]}}, set())
    # only pick lists and regions are completed by a choice; any other object replaces the earlier value
    whole = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    step = {**FILE_STEP, "input_schema": {**FILE_STEP["input_schema"], "properties": {
        **FILE_STEP["input_schema"]["properties"], "cfg": whole}}}
    with pytest.raises(_domain.RequestError) as caught:
        _domain.check_choices(step, {"cfg": {"b": 3}}, {"cfg"})
    assert caught.value.detail[0]["loc"] == ["body", "choices", "read", "cfg"]
