# -*- coding: utf-8 -*-
"""oms: encoding, batching, the retry policy and its time bounds, error fields."""
import json
import string
from urllib.parse import unquote, unquote_plus

import pytest
import requests
import responses
from hypothesis import given, settings, strategies as st

from cos2oms import logs, markers, oms, oms_tasks, sync
from cos2oms.deadline import Deadline
from tests import support


class FakeDeadline(object):
    def __init__(self, budget):
        self.budget = budget

    def remaining_for_requests(self):
        return self.budget


def client(session=None, max_attempts=3, sleeps=None, encoding="url", timeout=5.0, kind=oms.OmsClient):
    """An OMS client (``kind``: ``oms_tasks.TaskClient`` for the task queries) that records its pauses."""
    sleeps = [] if sleeps is None else sleeps
    return kind(session or requests.Session(), support.SYNC_URL, support.HW_AK, support.HW_SK, timeout,
                         max_attempts, encoding, sleep=sleeps.append, rand=lambda: 0.5)


@settings(max_examples=500, deadline=None)
@given(key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_url_encoding_survives_either_single_decode(key):
    encoded = oms.encode_key(key, "url")
    assert unquote(encoded) == key and unquote_plus(encoded) == key
    assert set(encoded) <= set(string.ascii_letters + string.digits + "-._~/%")  # nothing OMS could misread


def test_encoding_examples():
    assert oms.encode_key("/1/b/a b+c%41中?#&=~'\"", "url") == "/1/b/a%20b%2Bc%2541%E4%B8%AD%3F%23%26%3D~%27%22"
    assert oms.encode_key("/1/b/a b", "raw") == "/1/b/a b"


def test_body_is_the_guides_json():
    body = client().body(["/1/b/a b"])
    assert json.loads(body.decode("utf-8")) == {"object_keys": ["/1/b/a%20b"]}


@responses.activate
def test_sleeps_between_retries_with_jitter():
    for status in (500, 503):
        responses.add(responses.POST, support.SYNC_URL, status=status)
    responses.add(responses.POST, support.SYNC_URL, status=200, json={})
    sleeps = []
    result = client(sleeps=sleeps).submit(["k"], FakeDeadline(100))
    assert result.accepted and result.attempts == 3
    assert sleeps == [0.125, 0.25]


@responses.activate
def test_retry_after_is_honoured_when_reasonable():
    responses.add(responses.POST, support.SYNC_URL, status=429, headers={"Retry-After": "1"})
    responses.add(responses.POST, support.SYNC_URL, status=429, headers={"Retry-After": "3600"})
    responses.add(responses.POST, support.SYNC_URL, status=200, json={})
    sleeps = []
    assert client(sleeps=sleeps).submit(["k"], FakeDeadline(100)).accepted
    assert sleeps == [1.0, 0.25]  # an hour is not waited for: back-off instead


@responses.activate
def test_no_sleep_that_would_overrun_the_deadline():
    responses.add(responses.POST, support.SYNC_URL, status=500)
    sleeps = []
    result = client(sleeps=sleeps).submit(["k"], FakeDeadline(0.15))
    assert result.attempts == 1 and sleeps == [] and "out of time" in result.reason


def test_no_attempt_without_time():
    result = client().submit(["k"], FakeDeadline(0.01))
    assert not result.accepted and result.attempts == 0 and "no time" in result.reason


@responses.activate
def test_attempt_timeout_is_bounded_by_the_deadline(monkeypatch):
    seen = []
    session = requests.Session()
    real_post = session.post
    monkeypatch.setattr(session, "post", lambda *a, **kw: seen.append(kw["timeout"]) or real_post(*a, **kw))
    responses.add(responses.POST, support.SYNC_URL, status=200, json={})
    client(session=session, timeout=5.0).submit(["k"], FakeDeadline(1.5))
    client(session=session, timeout=0.7).submit(["k"], FakeDeadline(100))
    assert seen == [1.5, 0.7]


@responses.activate
def test_error_fields_from_json_and_text():
    responses.add(responses.POST, support.SYNC_URL, status=400, json={"error_code": "OMS.1", "error_msg": "nope"},
                  headers={"X-Request-Id": "oms-req-1"})
    responses.add(responses.POST, support.SYNC_URL, status=404, body="<html>not here</html>")
    first = client().submit(["k"], FakeDeadline(100))
    second = client().submit(["k"], FakeDeadline(100))
    assert (first.status, first.error_code, first.error_msg, first.oms_request_id) == (400, "OMS.1", "nope",
                                                                                        "oms-req-1")
    assert (second.error_code, second.error_msg) == (None, "<html>not here</html>")
    assert 'error_msg="nope"' in logs.render("object failed", first.fields())


@responses.activate
@pytest.mark.parametrize("status,requests_sent", [(401, 1), (403, 1), (400, 3), (404, 3)])
def test_only_a_refusal_of_the_credentials_stops_the_run(status, requests_sent, fake_cos):
    """After a 401/403 no further batch is sent (five failed signatures lock the key for five minutes); any
    other refusal is one batch's. Every key still ends with a failed marker."""
    responses.add(responses.POST, support.SYNC_URL, status=status, json={"error_code": "APIGW.0301"})
    store = markers.MarkerStore(fake_cos, support.LOG_BUCKET, support.TASK)
    keys = ["/1253970026/b/k%02d" % n for n in range(25)]
    report = sync.Submitter(client(), store, Deadline(None)).run(keys, sync.Report())
    assert len(responses.calls) == requests_sent
    assert report.failed == 25 and report.accepted == 0
    assert fake_cos.keys() == sorted(support.marker(markers.FAILED, key) for key in keys)


def test_unbounded_deadline_without_context():
    d = Deadline.from_context(None)
    assert d.remaining() == float("inf") and d.remaining_for_requests() == float("inf")
    assert Deadline.from_context({"time_limit_in_ms": "bad"}).bounded is False


def test_deadline_reserve_scales_with_the_limit():
    assert Deadline(3.0).reserve == pytest.approx(0.6)
    assert Deadline(1.0).reserve == 0.5
    assert Deadline(900.0).reserve == 10.0


@responses.activate
@pytest.mark.parametrize("body,code,msg", [
    ('{"error_code": 12345, "error_msg": {"detail": "x"}}', "12345", '{"detail": "x"}'),
    ('{"error_code": NaN, "error_msg": Infinity}', "nan", "inf"),
    ('{"error_code": "OMS.%s"}' % ("9" * 5000), "OMS." + "9" * 5000, None),  # a string stays whole here: logs cap
    ("[" * 5000, None, "[" * logs.TEXT_CAP),  # nested past the JSON parser's depth: text
])
def test_error_fields_are_text_whatever_was_answered(body, code, msg):
    responses.add(responses.POST, support.SYNC_URL, status=400, body=body)
    result = client().submit(["k"], FakeDeadline(100))
    assert (result.error_code, result.error_msg) == (code, msg)


@responses.activate
def test_an_answer_requests_cannot_read_is_final_not_retried():
    responses.add(responses.POST, support.SYNC_URL, body=requests.exceptions.InvalidHeader("two Content-Lengths"))
    sleeps = []
    result = client(sleeps=sleeps).submit(["k"], FakeDeadline(100))
    assert not result.accepted and result.attempts == 1 and sleeps == []
    assert "InvalidHeader" in result.reason


# ----------------------------------------------------------------------------- one policy for posts and queries

TASK_URL = support.SYNC_URL.rsplit("/events", 1)[0]


@responses.activate
@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_the_events_post_tries_408_429_and_5xx_again(status):
    responses.add(responses.POST, support.SYNC_URL, status=status)
    responses.add(responses.POST, support.SYNC_URL, status=200, json={})
    result = client().submit(["k"], FakeDeadline(100))
    assert result.accepted and result.attempts == 2


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_after_a_refusal_nothing_more_is_sent(status):
    responses.add(responses.POST, support.SYNC_URL, status=status, json={"error_code": "APIG.0301"})
    responses.add(responses.GET, TASK_URL, status=status, json={"error_code": "APIG.0301"})
    sleeps = []
    posted = client(sleeps=sleeps).submit(["k"], FakeDeadline(100))
    asked = client(sleeps=sleeps, kind=oms_tasks.TaskClient).show_sync_task(1)
    assert posted.auth_refused and asked.refused and sleeps == []
    assert [call.request.method for call in responses.calls] == ["POST", "GET"]


@responses.activate
def test_task_queries_are_tried_again_as_the_post_is():
    responses.add(responses.GET, TASK_URL, status=503, headers={"Retry-After": "2"})
    responses.add(responses.GET, TASK_URL, status=408)
    responses.add(responses.GET, TASK_URL, status=200, json={"status": "SYNCHRONIZING"},
                  headers={"X-Request-Id": "q-1"})
    sleeps = []
    answer = client(sleeps=sleeps, kind=oms_tasks.TaskClient).show_sync_task(1714558800000.7)
    assert answer.ok and answer.body == {"status": "SYNCHRONIZING"} and answer.request_id == "q-1"
    assert sleeps == [2.0, 0.25]  # the server's Retry-After, then the back-off (rand 0.5)
    assert [call.request.url for call in responses.calls] == [TASK_URL + "?query_time=1714558800000"] * 3


@responses.activate
def test_statistics_are_asked_on_the_tasks_address_and_a_final_answer_is_read_once():
    url = TASK_URL + "/statistics"
    responses.add(responses.GET, url, status=400, json={"error_code": "OMS.0054", "error_msg": "bad"},
                  headers={"X-Request-Id": "q-2"})
    sleeps = []
    answer = client(sleeps=sleeps, kind=oms_tasks.TaskClient).list_statistics(
        {"data_type": "REQUEST", "start_time": 1, "end_time": 2})
    assert not answer.ok and not answer.retryable and sleeps == []
    assert (answer.query, answer.status, answer.error_code, answer.error_msg, answer.request_id) == (
        "statistics", 400, "OMS.0054", "bad", "q-2")
    assert responses.calls[0].request.url == url + "?data_type=REQUEST&start_time=1&end_time=2"


@responses.activate
def test_a_query_out_of_attempts_keeps_the_last_answer():
    responses.add(responses.GET, TASK_URL, status=502, body="<html>Bad gateway</html>")
    sleeps = []
    answer = client(sleeps=sleeps, max_attempts=2, kind=oms_tasks.TaskClient).show_sync_task(1)
    assert len(responses.calls) == 2 and len(sleeps) == 1
    assert (answer.status, answer.error_msg) == (502, "<html>Bad gateway</html>") and answer.retryable


def test_a_query_within_a_deadline_that_has_no_time_is_not_sent():
    answer = client(kind=oms_tasks.TaskClient).show_sync_task(1, deadline=FakeDeadline(0.01))
    assert not answer.ok and answer.status is None and "no time" in answer.reason
