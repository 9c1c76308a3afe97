"""The broker proxy reads what it needs of Fetch and Produce frames in place: checked against
aiokafka's own encoding of every version it reads."""
from __future__ import annotations

import asyncio
import struct

import pytest
from aiokafka.protocol import produce

from services.local.broker_proxy import FETCH_REQUESTS, Watermarks, _high_watermarks, _produced_to


@pytest.mark.parametrize("version", sorted(FETCH_REQUESTS))
def test_the_high_watermark_of_every_partition_of_a_fetch_response(version: int) -> None:
    response = FETCH_REQUESTS[version].RESPONSE_TYPE
    partition_fields = response.SCHEMA.fields[response.SCHEMA.names.index("topics")].array_of.fields[1].array_of.names

    def partition(index: int, error: int, high: int, records: bytes) -> tuple:
        values = {"partition": index, "error_code": error, "highwater_offset": high, "last_stable_offset": high,
                  "log_start_offset": 0, "aborted_transactions": [(7, 1), (8, 2)], "preferred_read_replica": -1,
                  "message_set": records}
        return tuple(values[name] for name in partition_fields)

    top = {"throttle_time_ms": 0, "error_code": 0, "session_id": 0,
           "topics": [("runs", [partition(0, 0, 42, b"x" * 100), partition(3, 6, -1, b"")]),
                      ("status", [partition(1, 0, 7, b"records")])]}
    frame = struct.pack(">i", 99) + response(*[top[name] for name in response.SCHEMA.names]).encode()
    assert _high_watermarks(frame, version) == [(("runs", 0), 0, 42), (("runs", 3), 6, -1), (("status", 1), 0, 7)]


@pytest.mark.parametrize("version", range(3, 9))
def test_the_partitions_a_produce_request_writes_to(version: int) -> None:
    request = getattr(produce, f"ProduceRequest_v{version}")(
        None, -1, 1000, [("runs", [(0, b"batch"), (2, b"")]), ("status", [(1, b"x" * 50)])])
    frame = struct.pack(">hhih", 0, version, 5, 6) + b"feathr" + request.encode()
    assert _produced_to(frame) == (-1, [("runs", 0), ("runs", 2), ("status", 1)])


async def test_a_record_wakes_every_fetch_held_on_its_topic_and_hides_nothing() -> None:
    marks = Watermarks()
    marks.answered(("runs", 0), 5, produced_before=0)
    assert marks.nothing_new({("runs", 0): 5}) and not marks.nothing_new({("runs", 0): 4})
    assert not marks.nothing_new({("runs", 1): 0})  # never answered: the broker is asked
    before = marks.produced_count.get(("runs", 0), 0)
    marks.produced(("runs", 1))  # another partition of the topic
    held = await marks.wait({"runs"}, 0.05)
    assert held is False  # produced before the wait began: nothing to wake
    waiting = asyncio.create_task(marks.wait({"runs"}, 5))
    await asyncio.sleep(0.01)
    marks.produced(("runs", 2))
    assert await waiting is True
    marks.produced(("runs", 0))
    marks.answered(("runs", 0), 5, produced_before=before)  # an answer that crossed the record
    assert not marks.nothing_new({("runs", 0): 5})
