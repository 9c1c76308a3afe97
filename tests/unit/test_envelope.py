import json
from typing import ClassVar

import pytest

from services.contracts import topics
from services.contracts.envelope import Codec, UnknownEvent, stable_id
from services.contracts.events import CATALOGUE, Event, RunCompleted, RunRequested


def test_round_trip_keeps_the_event_and_the_envelope():
    codec = Codec()
    event = RunRequested(run_id="r1", model_id="ann/hello", version=2, step="greet", inputs={"name": "Bo"})
    headers, body = codec.encode(event, source="feather/gateway", event_id="id-1")
    assert headers["ce_type"] == "feather.run.requested.v1"
    assert headers["ce_id"] == "id-1" and headers["ce_source"] == "feather/gateway"
    envelope = codec.decode(headers, body)
    assert envelope.event == event and envelope.id == "id-1"


def test_every_catalogue_event_has_a_topic_and_a_distinct_type():
    types = [cls.ce_type() for cls in CATALOGUE]
    assert len(set(types)) == len(types)
    assert {cls.topic for cls in CATALOGUE} <= set(topics.ALL)
    assert all(cls.key_field in cls.model_fields for cls in CATALOGUE)


def test_unknown_fields_are_ignored_and_unknown_types_refused():
    codec = Codec()
    event = RunRequested(run_id="r1", model_id="a/b", version=1, step="s", inputs={})
    headers, body = codec.encode(event, source="t")
    body = body[:-1] + b', "added_later": 1}'
    assert codec.decode(headers, body).event == event
    with pytest.raises(UnknownEvent):
        codec.decode({**headers, "ce_type": "feather.run.exploded.v1"}, body)


def test_an_old_version_is_upcast_to_the_current_one():
    class Renamed(Event):
        name: ClassVar[str] = "test.renamed"
        schema_version: ClassVar[int] = 3
        topic: ClassVar[str] = topics.RUNS
        title: str
        size: int = 0
        key_field: ClassVar[str] = "title"

    codec = Codec(events=(Renamed,))
    codec.upcaster("test.renamed", 1)(lambda d: {"title": d.pop("label"), **d})
    codec.upcaster("test.renamed", 2)(lambda d: {**d, "size": len(d["title"])})
    envelope = codec.decode({"ce_type": "feather.test.renamed.v1"}, b'{"label": "four"}')
    assert envelope.event == Renamed(title="four", size=4)
    with pytest.raises(UnknownEvent):
        Codec(events=(Renamed,)).decode({"ce_type": "feather.test.renamed.v1"}, b'{"label": "x"}')


def test_stable_ids_repeat_for_the_same_fact_only():
    assert stable_id("r1", "completed") == stable_id("r1", "completed")
    assert stable_id("r1", "completed") != stable_id("r2", "completed")


def test_completed_run_needs_a_known_status():
    with pytest.raises(ValueError):
        RunCompleted(run_id="r", model_id="a/b", version=1, step="s", status="exploded",
                     requested_at="2026-01-01T00:00:00Z")


def test_feedback_written_before_thumbs_and_labels_reads_as_the_current_version():
    from services.contracts.envelope import codec
    from services.contracts.events import FeedbackGiven

    old = codec.decode({"ce_type": "feather.feedback.given.v1", "ce_id": "f1"},
                       json.dumps({"run_id": "r1", "rating": 4, "comment": "good"}).encode())
    assert isinstance(old.event, FeedbackGiven) and old.event.ce_type() == "feather.feedback.given.v2"
    assert (old.event.rating, old.event.comment, old.event.label, old.event.by, old.event.revision) == \
        (4, "good", None, None, 1)
