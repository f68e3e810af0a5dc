# -*- coding: utf-8 -*-
"""context: the SCF context as a dict (what SCF passes), an object, or None (a script)."""
import pytest

from cos2oms import context
from cos2oms.deadline import Deadline


class Ctx(object):
    request_id = "obj-1"
    time_limit_in_ms = 3000
    tencentcloud_region = "ap-chengdu"


@pytest.mark.parametrize("ctx", [{"request_id": "obj-1", "time_limit_in_ms": 3000, "tencentcloud_region":
                                  "ap-chengdu"}, Ctx()], ids=["dict", "object"])
def test_fields(ctx):
    assert context.request_id(ctx) == "obj-1"
    assert context.time_limit_seconds(ctx) == 3.0
    assert context.region(ctx) == "ap-chengdu"


@pytest.mark.parametrize("ctx", [None, {}, {"time_limit_in_ms": "soon"}, {"time_limit_in_ms": 0},
                                 {"time_limit_in_ms": -5}, {"time_limit_in_ms": float("inf")},
                                 {"time_limit_in_ms": None}])
def test_missing_or_unusable_values(ctx):
    assert context.request_id(ctx) == "-"
    assert context.time_limit_seconds(ctx) is None
    assert context.region(ctx) is None
    assert Deadline.from_context(ctx).bounded is False


def test_deadline_keeps_a_reserve_for_markers():
    clock = [100.0]
    deadline = Deadline.from_context({"time_limit_in_ms": 3000}, clock=lambda: clock[0])
    assert deadline.remaining() == 3.0
    assert deadline.remaining_for_requests() == pytest.approx(3.0 - 0.6)
    clock[0] += 2.5
    assert deadline.remaining_for_requests() < 0 < deadline.remaining()
