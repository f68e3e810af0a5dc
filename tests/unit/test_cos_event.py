# -*- coding: utf-8 -*-
import pytest

from cos2oms import cos_event
from tests import support


def test_console_event_accessors():
    [rec] = cos_event.records(support.load_event("cos_put_console.json"))
    assert rec.key == "/1253970026/testpic/testfile"
    assert rec.bucket == "testpic-1253970026"
    assert rec.object_key == "testfile"
    assert rec.event_name == "cos:ObjectCreated:Put" and rec.is_created and rec.problem is None


def test_captured_event_key_is_taken_exactly_as_delivered():
    [rec] = cos_event.records(support.load_event("cos_put_captured.json"))
    assert rec.key == "/1302260381/bookshelfplus/!!!!!!!"  # the object URL shows it %-encoded; the key is raw


@pytest.mark.parametrize("name", support.TRICKY_NAMES)
def test_keys_are_not_decoded_or_changed(name):
    [rec] = cos_event.records(support.event(support.record(name)))
    assert rec.key == support.event_key(name) and rec.object_key == name


def test_object_key_when_bucket_fields_disagree_with_the_key():
    raw = support.record("a/b.txt")
    raw["cos"]["cosBucket"]["name"] = "other"
    [rec] = cos_event.records(support.event(raw))
    assert rec.object_key == "a/b.txt"


@pytest.mark.parametrize("name,created", [("cos:ObjectCreated:Put", True), ("cos:ObjectCreated:Copy", True),
                                          ("cos:ObjectCreated:CompleteMultipartUpload", True),
                                          ("cos:ObjectRemove:Delete", False), ("cos:ObjectRestore:Post", False)])
def test_is_created(name, created):
    [rec] = cos_event.records(support.event(support.record("x", event_name=name)))
    assert rec.is_created is created


@pytest.mark.parametrize("raw,problem", [("text", "not an object"), ({}, "cos.cosObject.key"),
                                         ({"cos": {"cosObject": {"key": ""}}}, "cos.cosObject.key"),
                                         ({"cos": {"cosObject": {"key": ["a"]}}}, "cos.cosObject.key"),
                                         ({"cos": {"cosObject": "x"}}, "cos.cosObject.key")])
def test_malformed_records_say_why(raw, problem):
    [rec] = cos_event.records({"Records": [raw]})
    assert problem in rec.problem


@pytest.mark.parametrize("event", [None, 1, [], "x", {}, {"Records": "x"}, {"Records": {"a": 1}}])
def test_not_an_event(event):
    with pytest.raises(ValueError, match="Records"):
        cos_event.records(event)


def test_a_key_that_is_not_valid_unicode_is_malformed_not_a_batch_killer():
    [rec] = cos_event.records(support.event(support.record("bad\udcff.txt")))
    assert "Unicode" in rec.problem
