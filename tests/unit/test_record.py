# -*- coding: utf-8 -*-
"""record.Record: what the function's records (settings, the retry policy's verdicts) rely on of a named tuple."""
import pickle

import pytest

from cos2oms.record import Record


class Point(Record):
    __slots__ = ()
    _fields = ("x", "y", "label")


class Pause(Record):
    __slots__ = ()
    _fields = ("retry", "wait")

    def __new__(cls, retry, wait=None):
        return super(Pause, cls).__new__(cls, retry, wait)


def test_fields_by_position_or_keyword_and_read_by_name():
    point = Point(1, label="a", y=2)
    assert (point.x, point.y, point.label) == (1, 2, "a")
    assert point == (1, 2, "a") and hash(point) == hash((1, 2, "a"))
    x, y, label = point
    assert (x, y, label) == (1, 2, "a")


@pytest.mark.parametrize("args, kwargs, problem", [
    ((1, 2), {}, "missing field 'label'"),
    ((1, 2, "a", 4), {}, "takes 3 fields, got 4"),
    ((1, 2, "a"), {"z": 0}, "no field 'z'"),
    ((1,), {"x": 1, "y": 2, "label": "a"}, "no field 'x'"),
])
def test_a_missing_or_unknown_field_is_a_type_error(args, kwargs, problem):
    with pytest.raises(TypeError, match=problem):
        Point(*args, **kwargs)


def test_immutable_and_without_a_dict():
    point = Point(1, 2, "a")
    with pytest.raises(AttributeError):
        point.x = 5
    with pytest.raises(AttributeError):
        point.other = 5


def test_replace_repr_and_a_subclass_with_defaults():
    assert Point(1, 2, "a")._replace(y=3) == Point(1, 3, "a")
    assert repr(Point(1, 2, "a")) == "Point(x=1, y=2, label='a')"
    assert Pause(True) == (True, None) and Pause(True)._replace(wait=1.5).wait == 1.5


@pytest.mark.parametrize("value", [Point(1, 2, "a"), Pause(False, 2.0)])
def test_pickled_to_a_worker_process_and_back(value):
    copy = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    assert copy == value and type(copy) is type(value) and copy._fields == value._fields
