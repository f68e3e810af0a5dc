# -*- coding: utf-8 -*-
"""retry: the one classification (as a table, like botocore's tests/unit/retries/test_standard.py), the
back-off and the attempt loop; and that the COS SDK's wrapped errors are classified by type on its line."""
import re
import socket

import pytest
import requests
import responses

from cos2oms import listings, markers, retry, settings, storage, transport
from tests import support


# ----------------------------------------------------------------------------- the classification table

def wrapped(outer, inner):
    """``outer`` raised while handling ``inner``, as an SDK wraps the transport's exception."""
    try:
        try:
            raise inner
        except Exception:
            raise outer  # noqa: B904 (implicit chaining: its __context__ is ``inner``, as an SDK raises it)
    except Exception as exc:
        return exc


@pytest.mark.parametrize("status, code, retry_, why", [
    (200, None, False, "success"),
    (204, None, False, "success"),
    (301, None, False, "redirect refused"),
    (302, None, False, "redirect refused"),
    (307, None, False, "redirect refused"),
    (400, None, False, "final"),
    (401, None, False, "credentials refused"),
    (403, None, False, "credentials refused"),
    (403, "SlowDown", False, "credentials refused"),  # after a refusal nothing more is sent, whatever the code
    (404, None, False, "final"),
    (404, "NoSuchKey", False, "final"),
    (408, None, True, "request timeout"),
    (409, None, False, "final"),
    (429, None, True, "throttled"),
    (400, "RequestTimeout", True, "transient error code"),
    (400, "SlowDown", True, "transient error code"),
    (400, "OMS.0054", False, "final"),
    (500, None, True, "server error"),
    (500, "InternalError", True, "server error"),
    (502, None, True, "server error"),
    (503, "ServiceUnavailable", True, "server error"),
    (503, "SlowDown", True, "server error"),
    (504, None, True, "server error"),
    (599, None, True, "server error"),
])
def test_answers(status, code, retry_, why):
    verdict = retry.classify(status, code)
    assert verdict.retry is retry_ and why in verdict.reason


@pytest.mark.parametrize("error, retry_, why", [
    (requests.ConnectionError("reset"), True, "connection error"),
    (requests.exceptions.ChunkedEncodingError("cut"), True, "connection error"),
    (ConnectionResetError(104, "reset"), True, "connection error"),
    (requests.ReadTimeout("slow"), True, "timeout"),
    (requests.ConnectTimeout("slow"), True, "timeout"),
    (transport.OutOfTime("no time left for the request"), True, "timeout"),
    (socket.timeout("timed out"), True, "timeout"),
    (retry.Unreadable("not XML"), True, "cannot be read"),
    (transport.RedirectRefused(302, "https://elsewhere.invalid/"), False, "redirect refused"),
    (requests.exceptions.InvalidHeader("two Content-Lengths"), False, "InvalidHeader"),
    (requests.exceptions.ContentDecodingError("answer larger than 16 MiB"), False, "ContentDecodingError"),
    (KeyError("Size"), False, "KeyError"),
    (ValueError("bad"), False, "ValueError"),
    # what an SDK raises while handling the transport's exception is classified by that exception
    (wrapped(RuntimeError("wrapper"), transport.RedirectRefused(301, None)), False, "redirect refused"),
    (wrapped(RuntimeError("wrapper"), requests.ReadTimeout("slow")), True, "timeout"),
    (wrapped(requests.ConnectionError("wrapper"), transport.RedirectRefused(307, "x")), False, "redirect refused"),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None)
def test_errors(error, retry_, why):
    verdict = retry.classify(error=error)
    assert verdict.retry is retry_ and why in verdict.reason


@pytest.mark.parametrize("status, retry_after, wait", [
    (429, 1.0, 1.0),
    (503, 0.0, 0.0),
    (503, retry.BACKOFF_CAP, retry.BACKOFF_CAP),
    (429, 3600.0, None),  # an hour is not waited for: the back-off decides
    (429, None, None),
    (403, 1.0, None),  # final: no pause at all
])
def test_a_servers_retry_after_is_taken_up_to_the_cap(status, retry_after, wait):
    assert retry.classify(status, retry_after=retry_after).wait == wait


@pytest.mark.parametrize("headers, seconds", [({"Retry-After": "2"}, 2.0), ({"Retry-After": "-5"}, 0.0),
                                              ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None), ({}, None),
                                              (None, None)])
def test_retry_after_header(headers, seconds):
    assert retry.retry_after(headers) == seconds


# ----------------------------------------------------------------------------- COS SDK errors (both lines)

def cos_error(status, code, method="GET"):
    """A CosServiceError as both SDK lines build it from COS's XML error body."""
    body = "<Error><Code>%s</Code><Message>m</Message><Resource>r</Resource><RequestId>q</RequestId></Error>" % code
    return storage.CosServiceError(method, body, status)


@pytest.mark.parametrize("exc, retry_, why", [
    (storage.CosServiceError("PUT", "<Error><Code>InternalError</Code></Error>", 503), True, "server error"),
    (cos_error(400, "SlowDown", "PUT"), True, "transient error code"),
    (cos_error(403, "AccessDenied", "PUT"), False, "credentials refused"),
    (cos_error(404, "NoSuchBucket", "GET"), False, "final"),
    (cos_error(408, "RequestTimeout", "PUT"), True, "request timeout"),
    (storage.CosClientError("Read timed out"), True, "network failure"),  # the SDK's own word for one
    (wrapped(storage.CosClientError("redirect refused: ..."), transport.RedirectRefused(302, "x")), False,
     "redirect refused"),
    (wrapped(storage.CosClientError("body"), requests.exceptions.ContentDecodingError("too big")), False,
     "ContentDecodingError"),
    (ValueError("a malformed answer"), False, "ValueError"),
], ids=["503", "400-SlowDown", "403", "404", "408", "client-error", "redirect", "undecodable", "other"])
def test_cos_errors(exc, retry_, why):
    verdict = storage.classify_error(exc)
    assert verdict.retry is retry_ and why in verdict.reason


def test_a_refused_redirect_is_recognised_by_type_through_the_real_sdk():
    """Whatever the SDK line (1.9.x here, 1.6.6 under unit-py36), the client raises CosClientError while
    handling the transport's RedirectRefused: classified by that, not by the message's words."""
    client = storage.build_cos_client(settings.load(support.env(COS_ADDRESS="127.0.0.1:9", COS_SCHEME="http")))
    with responses.RequestsMock() as mock:
        mock.add(responses.PUT, re.compile(r"http://127\.0\.0\.1:9/.*"), status=302,
                 headers={"Location": "https://elsewhere.invalid/x", "x-cos-request-id": "r1"})
        with pytest.raises(storage.CosClientError) as raised:
            client.put_object(Bucket=support.LOG_BUCKET, Body=b"", Key="k")
    raised.value.args = ("a message that says nothing",)  # the words do not matter
    verdict = storage.classify_error(raised.value)
    assert not verdict.retry and "redirect refused" in verdict.reason


# ----------------------------------------------------------------------------- back-off

def test_backoff_is_full_jitter_exponential_and_capped():
    top = [retry.backoff(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5, 6, 10)]
    assert top == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert retry.backoff(3, rand=lambda: 0.0) == 0.0
    assert retry.backoff(2, rand=lambda: 0.5) == 0.25


# ----------------------------------------------------------------------------- the loop

class Script(object):
    """An attempt function answering verdicts from a script, recording the seconds each attempt was given
    and advancing a fake clock by what each took."""

    def __init__(self, verdicts, took=0.0):
        self.verdicts = list(verdicts)
        self.given = []
        self.took = took
        self.now = 0.0

    def __call__(self, number, seconds):
        self.given.append(seconds)
        self.now += self.took
        return "answer %d" % number, self.verdicts.pop(0)


RETRY = retry.Verdict(True, "HTTP 503: server error")
FINAL = retry.Verdict(False, "HTTP 404: final")


def test_success_first_time():
    script, sleeps = Script([None]), []
    outcome = retry.run(script, 3, sleep=sleeps.append)
    assert outcome == ("answer 1", None, 1, False) and sleeps == []


def test_retryable_then_success_pauses_by_the_backoff():
    script, sleeps = Script([RETRY, RETRY, None]), []
    outcome = retry.run(script, 3, sleep=sleeps.append, rand=lambda: 0.5)
    assert outcome == ("answer 3", None, 3, False) and sleeps == [0.125, 0.25]


def test_a_final_verdict_stops_at_once():
    script, sleeps = Script([FINAL, None]), []
    outcome = retry.run(script, 3, sleep=sleeps.append)
    assert outcome == ("answer 1", FINAL, 1, False) and sleeps == []


def test_max_attempts_bounds_the_attempts_and_there_is_no_pause_after_the_last():
    script, sleeps = Script([RETRY] * 5), []
    outcome = retry.run(script, 2, sleep=sleeps.append, rand=lambda: 1.0)
    assert outcome == ("answer 2", RETRY, 2, False) and sleeps == [0.25]


def test_the_servers_wait_replaces_the_backoff():
    script, sleeps = Script([retry.Verdict(True, "HTTP 429: throttled", 1.5), None]), []
    retry.run(script, 3, sleep=sleeps.append, rand=lambda: 1.0)
    assert sleeps == [1.5]


def test_each_attempt_gets_the_time_left_at_most_max_seconds():
    left = [10.0, 0.7]
    script = Script([RETRY, RETRY])
    retry.run(script, 2, time_left=lambda: left[len(script.given)] if len(script.given) < 2 else 0.7,
              max_seconds=2.0, sleep=lambda s: None, rand=lambda: 0.0)
    assert script.given == [2.0, 0.7]


def test_no_attempt_without_the_minimum_time():
    script = Script([None])
    outcome = retry.run(script, 3, time_left=lambda: 0.09, min_seconds=0.1)
    assert outcome == (None, None, 0, True) and script.given == []


def test_no_pause_that_would_not_leave_time_for_the_next_attempt():
    script, sleeps = Script([RETRY, None]), []
    # 0.3 s left: a 0.25 s pause would leave 0.05 s, under the 0.1 s an attempt needs
    outcome = retry.run(script, 3, time_left=lambda: 0.3, min_seconds=0.1, sleep=sleeps.append, rand=lambda: 1.0)
    assert outcome == ("answer 1", RETRY, 1, True) and sleeps == []
    # with 0.35 s it fits
    script, sleeps = Script([RETRY, None]), []
    outcome = retry.run(script, 3, time_left=lambda: 0.35, min_seconds=0.1, sleep=sleeps.append, rand=lambda: 1.0)
    assert outcome == ("answer 2", None, 2, False) and sleeps == [0.25]


def test_a_deadline_cuts_attempts_and_pauses_on_a_fake_clock():
    """Attempts that hang for all the time they are given, 2.5 s in all: the last attempt gets what is left,
    and no pause is made after it."""
    script, sleeps = Script([RETRY] * 5), []

    def attempt(number, seconds):
        answer = script(number, seconds)
        script.now += seconds
        return answer

    def sleep(seconds):
        sleeps.append(seconds)
        script.now += seconds

    outcome = retry.run(attempt, 5, time_left=lambda: 2.5 - script.now, max_seconds=1.0, sleep=sleep,
                        rand=lambda: 0.2)
    assert outcome.attempts == 3 and outcome.out_of_time
    assert sleeps == [0.05, 0.1]
    assert script.given == [1.0, 1.0, pytest.approx(0.35)]
    assert script.now == pytest.approx(2.5)


def test_on_retry_is_told_each_pause():
    script, told = Script([RETRY, RETRY, None]), []
    retry.run(script, 3, sleep=lambda s: None, rand=lambda: 1.0, on_retry=lambda n, v, p: told.append((n, v, p)))
    assert told == [(1, RETRY, 0.25), (2, RETRY, 0.5)]


# ----------------------------------------------------------------------------- its users

def test_listings_give_up_on_a_final_error_at_once_and_keep_its_status():
    calls = []

    def refused():
        calls.append(1)
        raise cos_error(403, "AccessDenied", "GET")

    with pytest.raises(listings.ListingError) as raised:
        listings.with_attempts(refused, "failed markers", sleep=lambda s: None)
    assert len(calls) == 1 and raised.value.status == 403
    assert raised.value.last == 'COS answered 403 "AccessDenied"'
    assert raised.value.cause == 'after 1 attempt(s): COS answered 403 "AccessDenied"'


def test_listings_try_408_again():
    answers = [cos_error(408, "RequestTimeout", "GET"), "page"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert listings.with_attempts(call, "source", sleep=lambda s: None) == "page"


class RedirectingCos(object):
    def __init__(self):
        self.calls = 0

    def put_object(self, Bucket, Body, Key):
        self.calls += 1
        try:
            raise transport.RedirectRefused(302, "https://portal.invalid/")
        except Exception:
            raise storage.CosClientError("something")  # noqa: B904 (as the SDK raises it: handling the transport's)


def test_a_marker_write_meeting_a_redirect_is_not_tried_again():
    store = markers.MarkerStore(RedirectingCos(), support.LOG_BUCKET, support.TASK, sleep=lambda s: None)
    assert store.write(markers.FAILED, "/1/b/k") is not None
    assert store.client.calls == 1
