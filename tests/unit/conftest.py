# -*- coding: utf-8 -*-
"""Unit-test fixtures: OMS mocked with ``responses``, the log bucket with an in-memory fake COS client."""
import logging
import os

import pytest
import responses

from cos2oms import handler, storage
from tests import support


class FakeCos(object):
    """Stands in for CosS3Client: records put_object calls; ``failures`` are raised one per call."""

    def __init__(self):
        self.objects = {}
        self.puts = []
        self.failures = []
        self.built_with = []

    def put_object(self, Bucket, Body, Key, **kwargs):
        self.puts.append(Key)
        if self.failures:
            raise self.failures.pop(0)
        self.objects[(Bucket, Key)] = Body
        return {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'}  # the SDK returns headers, not a response

    def keys(self, bucket=support.LOG_BUCKET):
        return sorted(k for b, k in self.objects if b == bucket)


def service_error(status):
    return storage.CosServiceError("PUT", "<Error><Code>InternalError</Code></Error>", status)


@pytest.fixture
def fake_cos():
    return FakeCos()


@pytest.fixture
def oms_mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def handler_env(monkeypatch, fake_cos):
    """A configured environment and a fresh client cache whose COS client is ``fake_cos``."""
    for name in list(os.environ):
        if name.startswith(("TENCENTCLOUD_", "COS_", "OMS_", "HW_")) or name in ("SYNC_URL", "LOG_BUCKET",
                                                                                  "RAISE_ON_FAILURE", "LOG_LEVEL"):
            monkeypatch.delenv(name)
    for name, value in support.env().items():
        monkeypatch.setenv(name, value)

    def build(settings):
        fake_cos.built_with.append(settings.cos_client_key())
        return fake_cos

    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache(cos_factory=build))
    monkeypatch.setattr("cos2oms.retry.backoff", lambda attempt, rand=None: 0.0)
    yield monkeypatch
    logging.getLogger("cos2oms").setLevel(logging.NOTSET)
