# -*- coding: utf-8 -*-
"""Settings taken from the sync task (ShowSyncTask): defaults, contradictions, --force, the 403 fallback."""
import logging

import pytest

from cos2oms import bucket_settings, oms_tasks, settings
from cos2oms.commands import buckets
from cos2oms.settings import ConfigError
from tests import support

TASK = oms_tasks.sync_task_settings({
    "src_bucket": "photos", "app_id": "1253970026", "src_region": "ap-shanghai", "dst_bucket": "migrated",
    "dst_region": "cn-east-3", "object_overwrite_mode": "NO_OVERWRITE", "consistency_check": "crc64"})


def base():
    return settings.load(support.env(), {})


def test_reader_appends_the_appid_and_keeps_a_bucket_that_has_it():
    assert TASK.src_bucket == "photos-1253970026"
    assert oms_tasks.sync_task_settings({"src_bucket": "photos-1253970026", "app_id": "1253970026"}).src_bucket \
        == "photos-1253970026"
    empty = oms_tasks.sync_task_settings({"src_bucket": "", "dst_region": 7})
    assert (empty.src_bucket, empty.dst_region, empty.object_overwrite_mode) == (None, None, None)
    assert (TASK.object_overwrite_mode, TASK.consistency_check) == ("NO_OVERWRITE", "crc64")


def test_what_is_not_configured_comes_from_the_task():
    source = bucket_settings.load_source({}, base(), task=TASK)
    assert (source.bucket, source.region, source.appid) == ("photos-1253970026", "ap-shanghai", "1253970026")
    destination = bucket_settings.load_obs({}, base(), task=TASK)
    assert (destination.bucket, destination.endpoint) == ("migrated", "https://obs.cn-east-3.myhuaweicloud.com")


def test_configured_values_that_agree_are_used():
    environ = {"SOURCE_BUCKET": "photos-1253970026", "OBS_BUCKET": "migrated",
               "OBS_ENDPOINT": "http://127.0.0.1:9000"}  # an endpoint not of OBS's form is not compared
    assert bucket_settings.load_source(environ, base(), task=TASK).bucket == "photos-1253970026"
    assert bucket_settings.load_obs(environ, base(), task=TASK).endpoint == "http://127.0.0.1:9000"


@pytest.mark.parametrize("loader, environ, variable, values", [
    ("source", {"SOURCE_BUCKET": "other-1253970026"}, "SOURCE_BUCKET", ("other-1253970026", "photos-1253970026")),
    ("source", {"SOURCE_REGION": "ap-beijing"}, "SOURCE_REGION", ("ap-beijing", "ap-shanghai")),
    ("obs", {"OBS_BUCKET": "elsewhere"}, "OBS_BUCKET", ("elsewhere", "migrated")),
    ("obs", {"OBS_ENDPOINT": "https://obs.cn-north-4.myhuaweicloud.com"}, "OBS_ENDPOINT", ("cn-north-4", "cn-east-3")),
])
def test_a_contradiction_names_both_values_unless_forced(loader, environ, variable, values):
    load = bucket_settings.load_source if loader == "source" else bucket_settings.load_obs
    with pytest.raises(ConfigError) as raised:
        load(environ, base(), task=TASK)
    assert raised.value.variable == variable and all(repr(v) in str(raised.value) for v in values)
    load(environ, base(), task=TASK, force=True)  # --force: the configured value


def test_without_the_task_the_configured_values_are_required_as_before():
    with pytest.raises(ConfigError) as raised:
        bucket_settings.load_obs({}, base())
    assert raised.value.variable == "OBS_BUCKET"
    with pytest.raises(ConfigError):
        bucket_settings.load_source({}, base())


class _Answer(object):
    def __init__(self, status, body=None):
        self.status, self.body = status, body
        self.ok = body is not None

    def describe(self):
        return "HTTP %s" % self.status


def test_403_falls_back_to_the_configured_values_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    assert buckets.task_settings_of(_Answer(403)) is None
    assert "configured values are used" in caplog.text and "oms:synctask:get" in caplog.text


def test_an_answer_gives_the_task_settings():
    assert buckets.task_settings_of(_Answer(200, {"dst_bucket": "b"})).dst_bucket == "b"


def test_without_an_override_a_contradiction_offers_none_and_force_is_ignored():
    for load, environ in ((bucket_settings.load_source, {"SOURCE_BUCKET": "other-1253970026"}),
                          (bucket_settings.load_obs, {"OBS_BUCKET": "elsewhere"})):
        with pytest.raises(ConfigError) as raised:
            load(environ, base(), task=TASK, force=True, override=None)
        assert "--force" not in str(raised.value) and "unset it" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        bucket_settings.load_obs({"OBS_BUCKET": "elsewhere"}, base(), task=TASK)
    assert "use --force to go on with 'elsewhere'" in str(raised.value)


class _Args(object):
    force = True  # the audit's --force (a new pass now): never an override of the sync task


def test_a_deferred_setup_asks_nothing_until_resolved_then_once(monkeypatch):
    asked = []

    def ask(settings, deadline=None):
        asked.append(deadline)
        return _Answer(200, {"src_bucket": "photos", "app_id": "1253970026", "dst_bucket": "migrated",
                             "dst_region": "cn-east-3"})

    monkeypatch.setattr(buckets, "ask_sync_task", ask)
    setup = buckets.Setup(_Args(), support.env(), deferred=True)
    assert asked == [] and (setup.source, setup.obs, setup.task) == (None, None, None)
    assert setup.resolve(deadline="the deadline", override=None) is setup
    assert asked == ["the deadline"]
    assert (setup.source.bucket, setup.obs.bucket, setup.obs.endpoint) == (
        "photos-1253970026", "migrated", "https://obs.cn-east-3.myhuaweicloud.com")
    contradicting = buckets.Setup(_Args(), support.env(OBS_BUCKET="elsewhere"), deferred=True)
    with pytest.raises(ConfigError):
        contradicting.resolve(override=None)
    assert contradicting.resolve().obs.bucket == "elsewhere"  # verify's --force: the configured value
