# -*- coding: utf-8 -*-
"""main_handler end to end with OMS mocked (responses) and a fake COS client: every per-invocation rule."""
import json
import logging
import os
import sys
from urllib.parse import unquote, unquote_plus

import pytest
import requests
import responses

import index
from cos2oms import handler, settings
from tests import support
from tests.unit.conftest import service_error

SUCCESS, FAILED = "success_object", "failed_object"


def sent_batches(mock):
    return [json.loads(call.request.body.decode("utf-8"))["object_keys"] for call in mock.calls]


def accept_all(mock):
    mock.add(responses.POST, support.SYNC_URL, json={}, status=200)


def test_console_put_event_is_accepted_and_recorded(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    assert index.main_handler(support.load_event("cos_put_console.json"), {"request_id": "r-1"}) is True
    assert sent_batches(oms_mock) == [["/1253970026/testpic/testfile"]]
    assert fake_cos.keys() == [support.marker(SUCCESS, "/1253970026/testpic/testfile")]
    assert fake_cos.objects[(support.LOG_BUCKET, fake_cos.keys()[0])] == b""


@pytest.mark.parametrize("name", ["cos_post_console.json", "cos_put_captured.json"])
def test_other_console_and_captured_events(handler_env, oms_mock, fake_cos, name):
    accept_all(oms_mock)
    event = support.load_event(name)
    key = event["Records"][0]["cos"]["cosObject"]["key"]
    assert index.main_handler(event, None) is True
    assert [unquote(k) for k in sent_batches(oms_mock)[0]] == [key]
    assert fake_cos.keys() == [support.marker(SUCCESS, key)]


def test_request_is_signed_json_post(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    index.main_handler(support.event(support.record("a.txt")), None)
    request = oms_mock.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    auth = request.headers["Authorization"]
    assert auth.startswith("SDK-HMAC-SHA256 Access=%s, SignedHeaders=content-type;host;x-sdk-date, Signature="
                           % support.HW_AK)
    assert all("_" not in name for name in request.headers)


@pytest.mark.parametrize("name", support.TRICKY_NAMES)
def test_keys_are_url_encoded_so_either_decode_gives_the_event_key(handler_env, oms_mock, fake_cos, name):
    accept_all(oms_mock)
    assert index.main_handler(support.event(support.record(name)), None) is True
    [[sent]] = sent_batches(oms_mock)
    key = support.event_key(name)
    assert unquote(sent) == key and unquote_plus(sent) == key
    assert fake_cos.keys() == [support.marker(SUCCESS, key)]  # markers carry the event key as delivered


def test_raw_encoding_sends_the_guides_bytes(handler_env, oms_mock, fake_cos):
    handler_env.setenv("OMS_KEY_ENCODING", "raw")
    accept_all(oms_mock)
    index.main_handler(support.event(support.record("a b+c%41.txt")), None)
    assert sent_batches(oms_mock) == [[support.event_key("a b+c%41.txt")]]


def test_23_records_make_three_requests_in_event_order(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    names = ["f%02d.bin" % i for i in range(23)]
    assert index.main_handler(support.event(*[support.record(n) for n in names]), None) is True
    batches = sent_batches(oms_mock)
    assert [len(b) for b in batches] == [10, 10, 3]
    assert [unquote(k) for b in batches for k in b] == [support.event_key(n) for n in names]
    assert fake_cos.keys() == sorted(support.marker(SUCCESS, support.event_key(n)) for n in names)


def test_removal_events_are_skipped(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    event = support.event(support.record("gone.txt", event_name="cos:ObjectRemove:Delete"),
                          support.record("gone2.txt", event_name="cos:ObjectRemove:DeleteMarkerCreated"))
    assert index.main_handler(event, None) is True
    assert len(oms_mock.calls) == 0
    assert fake_cos.puts == []


def test_mixed_event_sends_only_creations(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    rec_without_name = support.record("noname.txt")
    del rec_without_name["event"]["eventName"]  # absent eventName: treated as a creation
    event = support.event(support.record("new.txt"), support.record("old.txt", event_name="cos:ObjectRemove:Delete"),
                          support.record("copy.txt", event_name="cos:ObjectCreated:Copy"), rec_without_name)
    assert index.main_handler(event, None) is True
    assert [unquote(k) for k in sent_batches(oms_mock)[0]] == [
        support.event_key("new.txt"), support.event_key("copy.txt"), support.event_key("noname.txt")]


def test_loop_guard_skips_our_own_markers(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    own = support.record(support.marker(SUCCESS, "/1253970026/testpic/x"), bucket="omslog", appid="1253970026")
    other_bucket = support.record("oms_source_record/not-ours", bucket="elsewhere")
    same_bucket_other_prefix = support.record("data/file.txt", bucket="omslog")
    assert index.main_handler(support.event(own, other_bucket, same_bucket_other_prefix), None) is True
    assert [unquote(k) for k in sent_batches(oms_mock)[0]] == [
        support.event_key("oms_source_record/not-ours", bucket="elsewhere"),
        support.event_key("data/file.txt", bucket="omslog")]


@pytest.mark.parametrize("event", [None, [], "Records", {"records": []}, {"Records": {}}, {"Records": None}])
def test_malformed_event_raises_value_error(handler_env, oms_mock, event):
    with pytest.raises(ValueError, match="Records"):
        index.main_handler(event, None)


def test_malformed_records_fail_without_stopping_the_others(handler_env, oms_mock, fake_cos, caplog):
    accept_all(oms_mock)
    no_key = support.record("x")
    del no_key["cos"]["cosObject"]["key"]
    int_key = support.record("y")
    int_key["cos"]["cosObject"]["key"] = 42
    event = support.event("not a record", no_key, support.record("good.txt"), int_key, None)
    with caplog.at_level(logging.ERROR, logger="cos2oms"):
        assert index.main_handler(event, None) is False
    assert [unquote(k) for k in sent_batches(oms_mock)[0]] == [support.event_key("good.txt")]
    assert fake_cos.keys() == [support.marker(SUCCESS, support.event_key("good.txt"))]
    assert sum("malformed" in r.getMessage() for r in caplog.records) == 4


def test_empty_records_return_true(handler_env, oms_mock, fake_cos):
    assert index.main_handler({"Records": []}, None) is True
    assert fake_cos.puts == []


@pytest.mark.parametrize("status", [400, 404, 409])
def test_other_4xx_fail_once_without_retry(handler_env, oms_mock, fake_cos, status):
    oms_mock.add(responses.POST, support.SYNC_URL, status=status,
                 json={"error_code": "OMS.0001", "error_msg": "bad request"})
    assert index.main_handler(support.event(support.record("a.txt")), None) is False
    assert len(oms_mock.calls) == 1
    assert fake_cos.keys() == [support.marker(FAILED, support.event_key("a.txt"))]


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_stops_further_batches(handler_env, oms_mock, fake_cos, status, caplog):
    oms_mock.add(responses.POST, support.SYNC_URL, status=status,
                 json={"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication information"})
    names = ["k%02d" % i for i in range(25)]
    with caplog.at_level(logging.INFO, logger="cos2oms"):
        assert index.main_handler(support.event(*[support.record(n) for n in names]), None) is False
    assert len(oms_mock.calls) == 1  # five failed signatures lock the key: never more than one per run
    assert fake_cos.keys() == sorted(support.marker(FAILED, support.event_key(n)) for n in names)
    assert any("APIG.0301" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("failures", [
    [500], [502, 503], [429], [requests.ConnectionError("refused")], [requests.ReadTimeout("slow")],
    [requests.ConnectTimeout("syn")], [429, requests.ConnectionError("reset")],
])
def test_retryable_failures_then_success(handler_env, oms_mock, fake_cos, failures):
    for failure in failures:
        if isinstance(failure, int):
            oms_mock.add(responses.POST, support.SYNC_URL, status=failure, json={"error_code": "X", "error_msg": "y"})
        else:
            oms_mock.add(responses.POST, support.SYNC_URL, body=failure)
    accept_all(oms_mock)
    assert index.main_handler(support.event(support.record("a.txt")), None) is True
    assert len(oms_mock.calls) == len(failures) + 1
    assert fake_cos.keys() == [support.marker(SUCCESS, support.event_key("a.txt"))]


def test_retries_stop_at_oms_max_attempts(handler_env, oms_mock, fake_cos):
    handler_env.setenv("OMS_MAX_ATTEMPTS", "2")
    for _ in range(3):
        oms_mock.add(responses.POST, support.SYNC_URL, status=503)
    assert index.main_handler(support.event(support.record("a.txt")), None) is False
    assert len(oms_mock.calls) == 2
    assert fake_cos.keys() == [support.marker(FAILED, support.event_key("a.txt"))]


def test_raise_on_failure_raises_after_markers(handler_env, oms_mock, fake_cos):
    handler_env.setenv("RAISE_ON_FAILURE", "true")
    oms_mock.add(responses.POST, support.SYNC_URL, status=400)
    with pytest.raises(index.SyncFailed):
        index.main_handler(support.event(support.record("a.txt")), None)
    assert fake_cos.keys() == [support.marker(FAILED, support.event_key("a.txt"))]


def test_raise_on_failure_does_not_raise_on_success(handler_env, oms_mock, fake_cos):
    handler_env.setenv("RAISE_ON_FAILURE", "1")
    accept_all(oms_mock)
    assert index.main_handler(support.event(support.record("a.txt")), None) is True


def test_marker_write_failure_is_logged_and_oms_outcome_stands(handler_env, oms_mock, fake_cos, caplog):
    accept_all(oms_mock)
    fake_cos.failures = [service_error(500), service_error(500)]
    with caplog.at_level(logging.INFO, logger="cos2oms"):
        assert index.main_handler(support.event(support.record("a.txt"), support.record("b.txt")), None) is True
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and support.event_key("a.txt") in errors[0] and "500" in errors[0]
    assert fake_cos.keys() == [support.marker(SUCCESS, support.event_key("b.txt"))]


def test_marker_write_is_retried_once(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    fake_cos.failures = [service_error(503)]
    assert index.main_handler(support.event(support.record("a.txt")), None) is True
    assert fake_cos.keys() == [support.marker(SUCCESS, support.event_key("a.txt"))]
    assert len(fake_cos.puts) == 2


def test_marker_not_retried_on_access_denied(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    fake_cos.failures = [service_error(403)]
    index.main_handler(support.event(support.record("a.txt")), None)
    assert len(fake_cos.puts) == 1


def test_clients_are_reused_across_warm_invocations_and_rebuilt_on_key_rotation(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    for _ in range(3):
        index.main_handler(support.event(support.record("a.txt")), None)
    assert len(fake_cos.built_with) == 1
    session = handler.CLIENTS.session()
    handler_env.setenv("TENCENTCLOUD_SESSIONTOKEN", "rotated-token")
    index.main_handler(support.event(support.record("a.txt")), None)
    assert len(fake_cos.built_with) == 2 and fake_cos.built_with[-1][3] == "rotated-token"
    assert handler.CLIENTS.session() is session


def test_missing_setting_names_the_variable(handler_env, oms_mock):
    handler_env.delenv("SYNC_URL")
    with pytest.raises(ValueError, match="SYNC_URL"):
        index.main_handler(support.event(support.record("a.txt")), None)


def test_deadline_bounds_retries(handler_env, oms_mock, fake_cos, monkeypatch):
    """With 1 s left and every attempt timing out, the handler stops retrying and records the failure."""
    clock = [0.0]

    def slow(request):
        clock[0] += 0.3
        raise requests.ReadTimeout("read timed out")

    oms_mock.add_callback(responses.POST, support.SYNC_URL, callback=slow)
    handler_env.setenv("OMS_MAX_ATTEMPTS", "10")
    assert handler.main_handler(support.event(support.record("a.txt")), {"time_limit_in_ms": 1000}, index.CONSTANTS,
                                clock=lambda: clock[0]) is False
    # 1 s limit, 0.5 s kept for markers: 0.5 s for requests, 0.3 s each -> 2 attempts, not 10
    assert len(oms_mock.calls) == 2
    assert fake_cos.keys() == [support.marker(FAILED, support.event_key("a.txt"))]


def test_no_secret_in_logs_at_debug(handler_env, oms_mock, fake_cos, caplog):
    handler_env.setenv("LOG_LEVEL", "DEBUG")
    oms_mock.add(responses.POST, support.SYNC_URL, status=500)
    oms_mock.add(responses.POST, support.SYNC_URL, status=401, json={"error_code": "APIG.0301", "error_msg": "x"})
    accept_all(oms_mock)
    with caplog.at_level(logging.DEBUG):
        index.main_handler(support.event(*[support.record("k%d" % i) for i in range(12)]), None)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "canonical request" in text  # DEBUG really was on
    for secret in (support.HW_SK, support.COS_KEY, support.COS_TOKEN, "Signature=", "SDK-HMAC-SHA256 Access"):
        assert secret not in text


def test_outcomes_are_logged_before_any_marker_is_written(handler_env, oms_mock, fake_cos, caplog):
    """A marker that the invocation cannot write in time must not take the key's log line with it."""
    oms_mock.add(responses.POST, support.SYNC_URL, status=400)
    order = []
    real_put = fake_cos.put_object
    fake_cos.put_object = lambda **kw: order.append("put") or real_put(**kw)
    handler = logging.Handler()
    handler.emit = lambda record: order.append("log") if record.getMessage().startswith("object failed") else None
    logging.getLogger("cos2oms").addHandler(handler)
    try:
        index.main_handler(support.event(support.record("a"), support.record("b"), support.record("c")), None)
    finally:
        logging.getLogger("cos2oms").removeHandler(handler)
    assert order == ["log", "log", "log", "put", "put", "put"]


def test_an_invalid_unicode_key_fails_alone(handler_env, oms_mock, fake_cos):
    accept_all(oms_mock)
    event = support.event(support.record("good.txt"), support.record("bad\udcff.txt"))
    assert index.main_handler(event, None) is False
    assert [unquote(k) for k in sent_batches(oms_mock)[0]] == [support.event_key("good.txt")]


def test_sessions_read_the_environment_per_request_only_for_proxies():
    from cos2oms import transport
    plain = transport.new_session({"PATH": "/bin"})
    assert plain.trust_env is False and plain.verify is True
    bundle = transport.new_session({"REQUESTS_CA_BUNDLE": "/etc/ssl/ca.pem"})
    assert bundle.trust_env is False and bundle.verify == "/etc/ssl/ca.pem"
    assert transport.new_session({"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"}).verify == "/etc/ssl/curl.pem"
    for proxy in ({"HTTPS_PROXY": "http://proxy:3128"}, {"no_proxy": "localhost"}):
        assert transport.new_session(proxy).trust_env is True


def test_the_done_line_counts_oms_requests_retries_included(handler_env, oms_mock, fake_cos, caplog):
    for status in (500, 503):
        oms_mock.add(responses.POST, support.SYNC_URL, status=status)
    accept_all(oms_mock)
    names = ["r%02d" % i for i in range(12)]  # two batches: the first retried twice
    assert index.main_handler(support.event(*[support.record(n) for n in names]), None) is True
    [done] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("invocation done")]
    assert "accepted=12 " in done and "oms_requests=4 " in done


def test_the_guides_constants_come_from_our_index_py_only(tmp_path, monkeypatch):
    """An index.py found first elsewhere on sys.path (an SCF layer, the current folder) is never run."""
    (tmp_path / "index.py").write_text("import os\nos.environ['FOREIGN_INDEX_RAN'] = '1'\n"
                                       "CONSTANTS = {'SYNC_URL': 'https://evil.example/v2/p/sync-tasks/t/events'}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "index", raising=False)
    monkeypatch.delenv("FOREIGN_INDEX_RAN", raising=False)
    monkeypatch.setattr(settings, "_index_by_path", [])

    constants = settings.guide_constants()

    assert constants["SYNC_URL"] == "***Synchronization Request Receiving Address***"
    assert "FOREIGN_INDEX_RAN" not in os.environ
