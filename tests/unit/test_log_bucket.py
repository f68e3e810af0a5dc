# -*- coding: utf-8 -*-
"""log_bucket: marker names, one SDK attempt per call whatever the SDK line, the client's options."""
import pytest

import log_bucket
import settings
from tests import support


def test_marker_names_are_the_guides():
    assert log_bucket.marker_key("t1", log_bucket.SUCCESS, "/125/b/a b") == \
        "oms_source_record/t1/success_object//125/b/a b"
    assert log_bucket.marker_key("t1", log_bucket.FAILED, "/125/b/x") == "oms_source_record/t1/failed_object//125/b/x"


@pytest.mark.parametrize("version,retry", [((1, 6, 6), 1), ((1, 8, 2), 1), ((1, 8, 3), 0), ((1, 9, 44), 0),
                                           ((), 1)])
def test_one_attempt_whatever_the_sdk_line(version, retry):
    assert log_bucket.single_attempt_retry(version) == retry


def test_sdk_version_is_read():
    assert len(log_bucket.sdk_version()) == 3 and log_bucket.sdk_version() >= (1, 6, 6)


def test_client_options(monkeypatch):
    built = {}

    class Config(object):
        def __init__(self, **kwargs):
            built["config"] = kwargs

    monkeypatch.setattr(log_bucket, "CosConfig", Config)
    monkeypatch.setattr(log_bucket, "CosS3Client",
                        lambda conf, retry, session: built.update(retry=retry, session=session))
    s = settings.load(support.env(COS_ADDRESS="127.0.0.1:9000", COS_SCHEME="http", COS_ENDPOINT="cos.internal"))
    session = object()
    log_bucket.build_client(s, session)
    assert built["session"] is session
    assert built["config"] == dict(Region="ap-guangzhou", SecretId=support.COS_ID, SecretKey=support.COS_KEY,
                                   Token=support.COS_TOKEN, Scheme="http", Timeout=log_bucket.COS_TIMEOUT,
                                   Endpoint="cos.internal", IP="127.0.0.1", Port=9000)


def test_real_client_is_built_with_the_installed_sdk():
    s = settings.load(support.env(COS_ADDRESS="127.0.0.1:9000", COS_SCHEME="http"))
    client = log_bucket.build_client(s)
    assert isinstance(client, log_bucket.CosS3Client)


class Conf(object):
    _timeout = None


class HangingCos(object):
    """A client whose calls each take the whole timeout they are given, on a fake clock."""

    def __init__(self, clock):
        self._conf = Conf()
        self.clock = clock
        self.calls = []

    def put_object(self, Bucket, Body, Key):
        self.calls.append((Key, self._conf._timeout))
        self.clock[0] += self._conf._timeout
        raise log_bucket.CosClientError("Read timed out")


def test_marker_writes_stay_within_the_invocation(caplog):
    from deadline import Deadline
    clock = [0.0]
    client = HangingCos(clock)
    store = log_bucket.MarkerStore(client, support.LOG_BUCKET, support.TASK, sleep=lambda s: None)
    deadline = Deadline(3.0, clock=lambda: clock[0], started=0.0)
    clock[0] = 2.4  # OMS used the request budget
    causes = [store.write(log_bucket.FAILED, "/1/b/k%d" % i, deadline) for i in range(5)]
    assert clock[0] <= 3.0 - log_bucket.END_MARGIN + 1e-9
    assert all(timeout <= log_bucket.COS_TIMEOUT for _, timeout in client.calls)
    assert causes[-1] == "no time left in the invocation"
    assert all(cause for cause in causes)
    assert len([r for r in caplog.records if "marker not written" in r.getMessage()]) == 5


def test_unbounded_calls_get_the_full_cos_timeout():
    clock = [0.0]
    client = HangingCos(clock)
    store = log_bucket.MarkerStore(client, support.LOG_BUCKET, support.TASK, sleep=lambda s: None)
    store.write(log_bucket.FAILED, "/1/b/k", None)
    assert [t for _, t in client.calls] == [log_bucket.COS_TIMEOUT] * log_bucket.COS_ATTEMPTS


def test_keys_in_log_lines_cannot_split_a_line():
    assert log_bucket.show("/1/b/a\nb 中") == '"/1/b/a\\nb 中"'
