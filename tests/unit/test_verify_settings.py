# -*- coding: utf-8 -*-
"""The settings verify and backfill add (source bucket, destination OBS bucket), and the OBS client they build
(Python 3.6+; the OBS client tests only where esdk-obs-python is installed)."""
import ssl

import pytest

from cos2oms import bucket_settings, settings
from cos2oms.settings import ConfigError
from tests.support import env

BASE = settings.load(env())


def source(**overrides):
    return bucket_settings.load_source(env(**overrides), BASE)


def obs(**overrides):
    values = dict(OBS_BUCKET="migrated-photos", OBS_ENDPOINT="https://obs.cn-north-4.myhuaweicloud.com")
    values.update(overrides)
    return bucket_settings.load_obs(env(**values), BASE)


def test_source_bucket_and_its_event_prefix():
    got = source(SOURCE_BUCKET="photos-1253970026")
    assert got == ("photos-1253970026", "photos", "1253970026", "ap-guangzhou", None)  # region: the log bucket's
    assert got.event_prefix == "/1253970026/photos/"
    assert bucket_settings.load_source(env(SOURCE_BUCKET="a-1"), BASE, bucket="my-bucket-2").name == "my-bucket"
    assert source(SOURCE_BUCKET="photos-1253970026", SOURCE_REGION="ap-shanghai").region == "ap-shanghai"


@pytest.mark.parametrize("overrides, variable", [
    ({}, "SOURCE_BUCKET"),
    ({"SOURCE_BUCKET": "photos"}, "SOURCE_BUCKET"),
    ({"SOURCE_BUCKET": "Photos-1253970026"}, "SOURCE_BUCKET"),
    ({"SOURCE_BUCKET": BASE.log_bucket}, "SOURCE_BUCKET"),
    ({"SOURCE_BUCKET": "photos-1253970026", "SOURCE_REGION": "ap guangzhou"}, "SOURCE_REGION"),
])
def test_source_refusals_name_the_variable(overrides, variable):
    with pytest.raises(ConfigError) as raised:
        source(**overrides)
    assert raised.value.variable == variable


INTERNAL = "cos-internal.ap-guangzhou.tencentcos.cn"


def test_source_endpoint_defaults_to_cos_endpoint_only_in_the_log_buckets_region():
    base = settings.load(env(COS_ENDPOINT=INTERNAL))  # the log bucket in ap-guangzhou (TENCENTCLOUD_REGION)

    def endpoint(**overrides):
        return bucket_settings.load_source(env(SOURCE_BUCKET="photos-1253970026", **overrides), base).endpoint

    assert endpoint() == INTERNAL  # the same region: what reaches the log bucket reaches the source
    assert endpoint(SOURCE_REGION="ap-guangzhou") == INTERNAL
    assert endpoint(SOURCE_REGION="ap-shanghai") is None  # the SDK's endpoint for ap-shanghai
    assert endpoint(SOURCE_REGION="ap-shanghai", SOURCE_ENDPOINT="cos.ap-shanghai.myqcloud.com") == \
        "cos.ap-shanghai.myqcloud.com"
    assert endpoint(SOURCE_ENDPOINT="cos.accelerate.myqcloud.com") == "cos.accelerate.myqcloud.com"
    assert source(SOURCE_BUCKET="photos-1253970026").endpoint is None  # no COS_ENDPOINT: the SDK's


@pytest.mark.parametrize("raw", ["https://cos.ap-shanghai.myqcloud.com", "cos.ap-shanghai.myqcloud.com:443",
                                 "cos.ap-shanghai.myqcloud.com/path", "user:s3cr3t@cos.ap-shanghai.myqcloud.com",
                                 "cos ap-shanghai"])
def test_source_endpoint_is_checked_as_cos_endpoint_is_and_named_in_the_refusal(raw):
    with pytest.raises(ConfigError) as raised:
        source(SOURCE_BUCKET="photos-1253970026", SOURCE_ENDPOINT=raw)
    assert raised.value.variable == "SOURCE_ENDPOINT"
    assert str(raised.value).startswith("SOURCE_ENDPOINT: must ") and "COS_ENDPOINT" not in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
    with pytest.raises(ConfigError) as same:  # the same rule as COS_ENDPOINT's
        settings.load(env(COS_ENDPOINT=raw))
    assert str(same.value).replace("COS_ENDPOINT", "SOURCE_ENDPOINT") == str(raised.value)


def test_obs_settings_default_to_the_function_key_and_hide_the_secret():
    got = obs()
    assert (got.bucket, got.endpoint, got.secure, got.host, got.port, got.prefix) == (
        "migrated-photos", "https://obs.cn-north-4.myhuaweicloud.com", True, "obs.cn-north-4.myhuaweicloud.com",
        None, "")
    assert (got.ak, got.sk) == (BASE.hw_ak, BASE.hw_sk)
    assert BASE.hw_sk not in repr(got) and "<redacted>" in repr(got)
    own = obs(OBS_AK="READONLYAK0000000000", OBS_SK="read-only-secret", OBS_PREFIX="from-cos/ ")
    assert (own.ak, own.sk, own.prefix) == ("READONLYAK0000000000", "read-only-secret", "from-cos/ ")
    assert own.destination_key("a.jpg") == "from-cos/ a.jpg"
    loopback = obs(OBS_ENDPOINT="http://127.0.0.1:9000/")
    assert (loopback.secure, loopback.host, loopback.port, loopback.endpoint) == (
        False, "127.0.0.1", 9000, "http://127.0.0.1:9000")


@pytest.mark.parametrize("overrides, variable", [
    ({"OBS_BUCKET": None}, "OBS_BUCKET"),
    ({"OBS_BUCKET": "No_Such"}, "OBS_BUCKET"),
    ({"OBS_ENDPOINT": None}, "OBS_ENDPOINT"),
    ({"OBS_ENDPOINT": "obs.cn-north-4.myhuaweicloud.com"}, "OBS_ENDPOINT"),
    ({"OBS_ENDPOINT": "ftp://obs.example"}, "OBS_ENDPOINT"),
    ({"OBS_ENDPOINT": "https://obs.example/path"}, "OBS_ENDPOINT"),
    ({"OBS_ENDPOINT": "https://obs.example:99999"}, "OBS_ENDPOINT"),
    ({"OBS_AK": "ONLYAK"}, "OBS_SK"),
    ({"OBS_SK": "only-sk"}, "OBS_AK"),
    ({"OBS_PREFIX": "/rooted/"}, "OBS_PREFIX"),
])
def test_obs_refusals_name_the_variable(overrides, variable):
    with pytest.raises(ConfigError) as raised:
        obs(**overrides)
    assert raised.value.variable == variable


def test_an_endpoint_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ConfigError) as raised:
        obs(OBS_ENDPOINT="https://admin:hunter2-secret@obs.cn-north-4.myhuaweicloud.com")
    assert "hunter2" not in str(raised.value) and raised.value.variable == "OBS_ENDPOINT"


def test_the_obs_client_checks_certificates_and_host_names_and_follows_no_redirect():
    pytest.importorskip("obs")
    from cos2oms import obs as obs_module

    client = obs_module.build_obs_client(obs())
    assert client.context.verify_mode == ssl.CERT_REQUIRED and client.context.check_hostname
    assert (client.path_style, client.is_signature_negotiation, client.max_redirect_count) == (False, False, 0)
    loopback = obs_module.build_obs_client(obs(OBS_ENDPOINT="http://127.0.0.1:9000"))
    assert loopback.path_style and not loopback.is_secure
