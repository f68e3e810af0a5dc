# -*- coding: utf-8 -*-
"""settings.load: sources in order, validation errors that name the variable, credentials as one group."""
import logging

import pytest

import index
from cos2oms import bucket_settings, logs, settings
from tests import support


def load(**overrides):
    return settings.load(support.env(**overrides), index.CONSTANTS)


def test_defaults():
    s = load()
    assert s.task_id == support.TASK
    assert s.cos_region == "ap-guangzhou"  # from TENCENTCLOUD_REGION
    assert (s.cos_secret_id, s.cos_secret_key, s.cos_token) == (support.COS_ID, support.COS_KEY, support.COS_TOKEN)
    assert (s.cos_scheme, s.cos_endpoint, s.cos_address) == ("https", None, None)
    assert (s.oms_timeout, s.oms_max_attempts, s.key_encoding) == (5.0, 3, "url")
    assert (s.raise_on_failure, s.log_level) == (False, logging.INFO)


def test_region_falls_back_to_ap_beijing():
    assert load(TENCENTCLOUD_REGION=None).cos_region == "ap-beijing"
    assert load(COS_REGION="ap-shanghai").cos_region == "ap-shanghai"


@pytest.mark.parametrize("variable", ["SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET"])
def test_required_settings_name_the_variable(variable):
    with pytest.raises(settings.ConfigError, match=variable) as info:
        load(**{variable: None})
    assert info.value.variable == variable


def test_guide_placeholders_count_as_unset():
    constants = dict(index.CONSTANTS)
    with pytest.raises(settings.ConfigError, match="HW_AK"):
        settings.load(support.env(HW_AK=None), constants)


def test_constants_are_a_fallback_for_the_environment():
    constants = dict(index.CONSTANTS, HW_AK="AK-FROM-CODE", SYNC_URL="https://x.example/v2/p/sync-tasks/t9/events")
    s = settings.load(support.env(HW_AK=None, SYNC_URL=None), constants)
    assert (s.hw_ak, s.task_id) == ("AK-FROM-CODE", "t9")
    assert settings.load(support.env(HW_AK="AK-FROM-ENV"), constants).hw_ak == "AK-FROM-ENV"


def test_fixed_cos_key_pair_never_mixes_with_the_roles_token():
    s = load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY="fixed-key")
    assert (s.cos_secret_id, s.cos_secret_key, s.cos_token) == ("AKIDfixed", "fixed-key", None)
    assert load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY="k", COS_TOKEN="t").cos_token == "t"


@pytest.mark.parametrize("given,missing", [({"COS_SECRET_ID": "AKIDx"}, "COS_SECRET_KEY"),
                                           ({"COS_SECRET_KEY": "k"}, "COS_SECRET_ID")])
def test_half_a_cos_key_pair_is_an_error(given, missing):
    with pytest.raises(settings.ConfigError, match=missing):
        load(**given)


def test_no_cos_credentials_at_all():
    with pytest.raises(settings.ConfigError, match="COS_SECRET_ID"):
        load(TENCENTCLOUD_SECRETID=None, TENCENTCLOUD_SECRETKEY=None, TENCENTCLOUD_SESSIONTOKEN=None)


@pytest.mark.parametrize("variable,value", [
    ("SYNC_URL", "oms.example/v2/p/sync-tasks/t/events"), ("SYNC_URL", "https://oms.example/v2/p/events"),
    ("LOG_BUCKET", "nobucketappid"), ("LOG_BUCKET", "Upper-125"), ("COS_SCHEME", "ftp"),
    ("COS_ADDRESS", "127.0.0.1"), ("COS_ADDRESS", "127.0.0.1:http"), ("COS_ADDRESS", "h:70000"),
    ("OMS_TIMEOUT", "soon"), ("OMS_TIMEOUT", "0"), ("OMS_TIMEOUT", "nan"), ("OMS_MAX_ATTEMPTS", "0"),
    ("OMS_MAX_ATTEMPTS", "2.5"), ("OMS_KEY_ENCODING", "base64"), ("RAISE_ON_FAILURE", "maybe"),
    ("LOG_LEVEL", "LOUD"),
])
def test_invalid_values_name_the_variable(variable, value):
    with pytest.raises(settings.ConfigError, match=variable):
        load(**{variable: value})


def test_parsed_values():
    s = load(COS_ADDRESS="127.0.0.1:9000", COS_SCHEME="HTTP", OMS_TIMEOUT="1.5", OMS_MAX_ATTEMPTS="5",
             OMS_KEY_ENCODING="RAW", RAISE_ON_FAILURE="Yes", LOG_LEVEL="debug", COS_ENDPOINT="cos.internal")
    assert s.cos_address == ("127.0.0.1", 9000) and s.cos_scheme == "http" and s.cos_endpoint == "cos.internal"
    assert (s.oms_timeout, s.oms_max_attempts, s.key_encoding) == (1.5, 5, "raw")
    assert (s.raise_on_failure, s.log_level) == (True, logging.DEBUG)


def test_task_id_is_the_segment_after_sync_tasks():
    assert settings.task_id_from_url("https://h/v2/p/sync-tasks/abc/events") == "abc"
    assert settings.task_id_from_url("https://h/v2/p/sync-tasks/abc/events/") == "abc"
    assert settings.task_id_from_url("https://h/v2/p/sync-tasks/") is None


def test_repr_hides_secrets():
    text = repr(load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY=support.COS_KEY, COS_TOKEN=support.COS_TOKEN))
    for secret in (support.HW_SK, support.COS_KEY, support.COS_TOKEN):
        assert secret not in text
    assert support.HW_AK in text


def test_every_variable_read_is_documented():
    """VARIABLES is what README and serverless.yml are checked against: it must cover what load() reads."""
    read = set()

    class Spy(dict):
        def get(self, name, default=None):
            read.add(name)
            return dict.get(self, name, default)

    settings.load(Spy(support.env()), {})
    settings.load(Spy(support.env(COS_SECRET_ID="AKIDx", COS_SECRET_KEY="k")), {})  # COS_TOKEN goes with them
    assert read - set(settings.ROLE_VARIABLES) - {"TENCENTCLOUD_REGION"} == set(settings.VARIABLES)


#: The README's configuration table: OMS_TIMEOUT "0.1 to 900", OMS_MAX_ATTEMPTS "1 to 10".
DOCUMENTED_RANGES = {"OMS_TIMEOUT": ("0.1", "900"), "OMS_MAX_ATTEMPTS": ("1", "10")}


@pytest.mark.parametrize("variable,value", [
    ("OMS_TIMEOUT", "inf"), ("OMS_TIMEOUT", "-inf"), ("OMS_TIMEOUT", "nan"), ("OMS_TIMEOUT", "-1"),
    ("OMS_TIMEOUT", "0.05"), ("OMS_TIMEOUT", "0.099"), ("OMS_TIMEOUT", "900.5"), ("OMS_TIMEOUT", "901"),
    ("OMS_TIMEOUT", "1e400"), ("OMS_MAX_ATTEMPTS", "-1"), ("OMS_MAX_ATTEMPTS", "0"), ("OMS_MAX_ATTEMPTS", "11"),
    ("OMS_MAX_ATTEMPTS", "1000000000000"),
])
def test_numbers_outside_their_documented_range_are_refused_with_the_range(variable, value):
    with pytest.raises(settings.ConfigError, match=variable) as info:
        load(**{variable: value})
    low, high = DOCUMENTED_RANGES[variable]
    assert low in str(info.value) and high in str(info.value)


@pytest.mark.parametrize("variable,value,attribute,expected", [
    ("OMS_TIMEOUT", "0.1", "oms_timeout", 0.1), ("OMS_TIMEOUT", "900", "oms_timeout", 900.0),
    ("OMS_MAX_ATTEMPTS", "1", "oms_max_attempts", 1), ("OMS_MAX_ATTEMPTS", "10", "oms_max_attempts", 10),
])
def test_the_documented_range_ends_are_accepted(variable, value, attribute, expected):
    assert getattr(load(**{variable: value}), attribute) == expected


@pytest.mark.parametrize("variable,value", [
    ("SYNC_URL", "https://user:s3cr3t@oms.example/v2/p/sync-tasks/t/events"),
    ("SYNC_URL", "https://s3cr3t@oms.example/v2/p/sync-tasks/t/events"),
    ("SYNC_URL", "htps://user:s3cr3t@oms.example/v2/p/sync-tasks/t/events"),  # a mistyped scheme too
    ("SYNC_URL", "https:user:s3cr3t@oms.example/v2/p/sync-tasks/t/events"),
    ("COS_ENDPOINT", "user:s3cr3t@cos.ap-beijing.myqcloud.com"),
    ("COS_ENDPOINT", "https://user:s3cr3t@cos.ap-beijing.myqcloud.com"),
    ("COS_ADDRESS", "user:s3cr3t@127.0.0.1:9000"),
])
def test_credentials_in_urls_are_refused_without_echoing_them(variable, value):
    with pytest.raises(settings.ConfigError, match=variable) as info:
        load(**{variable: value})
    assert "s3cr3t" not in str(info.value)


def test_an_endpoint_is_a_host_name():
    with pytest.raises(settings.ConfigError, match="COS_ENDPOINT"):
        load(COS_ENDPOINT="https://cos.ap-beijing.myqcloud.com")


def test_region_falls_back_to_the_scf_context_before_the_default():
    assert settings.load(support.env(TENCENTCLOUD_REGION=None), {}, context_region="ap-chengdu").cos_region == \
        "ap-chengdu"
    assert settings.load(support.env(), {}, context_region="ap-chengdu").cos_region == "ap-guangzhou"
    assert settings.load(support.env(COS_REGION="ap-shanghai"), {}, context_region="ap-chengdu").cos_region == \
        "ap-shanghai"


def test_no_secret_shows_however_the_settings_are_printed_or_logged(caplog):
    s = load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY=support.COS_KEY, COS_TOKEN=support.COS_TOKEN)
    logging.getLogger("cos2oms.test").error("loaded %s (%r)", s, s)
    shown = [str(s), "%s" % (s,), "{}".format(s), "{!r}".format(s), caplog.text, logs.render("loaded", {"s": s})]
    for secret in (support.HW_SK, support.COS_KEY, support.COS_TOKEN):
        assert not [text for text in shown if secret in text]
    assert "AKIDfixed" in shown[0]  # what is not secret stays readable


def test_the_secrets_listed_are_every_secret_value_loaded():
    """What the leak checks of the other tests look for: a secret missing here would never be looked for."""
    s = load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY="fixed-key-value", COS_TOKEN="token-value")
    assert sorted(s.secrets()) == sorted([support.HW_SK, "fixed-key-value", "token-value"])
    assert sorted(load(COS_SECRET_ID="AKIDfixed", COS_SECRET_KEY="fixed-key-value").secrets()) == \
        sorted([support.HW_SK, "fixed-key-value"])  # no token: nothing empty to look for


# ----------------------------------------------------------------------------- the audit's settings

def test_the_audit_reads_exactly_its_documented_variables():
    read = set()

    class Spy(dict):
        def get(self, name, default=None):
            read.add(name)
            return dict.get(self, name, default)

    assert bucket_settings.load_audit(Spy()) == (3600.0, 10000, 86400.0)  # the defaults: 1 h, 10,000, 24 h
    assert read == set(bucket_settings.AUDIT_VARIABLES) == {"AUDIT_GRACE", "AUDIT_MAX_RESUBMIT", "AUDIT_INTERVAL"}


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("45", 45),
                                          ("0", 0), ("1.5h", 5400), (" 2H ", 7200)])
def test_audit_durations(text, seconds):
    assert bucket_settings.load_audit({"AUDIT_GRACE": text}).grace == seconds
    assert bucket_settings.load_audit({"AUDIT_INTERVAL": text}).interval == seconds


#: The README's rows: AUDIT_GRACE 0 to 7 days, AUDIT_INTERVAL 0 to 30 days (in seconds), AUDIT_MAX_RESUBMIT 0 to
#: 10,000,000.
AUDIT_RANGES = {"AUDIT_GRACE": ("0", "604800"), "AUDIT_INTERVAL": ("0", "2592000"),
                "AUDIT_MAX_RESUBMIT": ("0", "10000000")}


@pytest.mark.parametrize("variable,value", [
    ("AUDIT_GRACE", "8d"), ("AUDIT_GRACE", "-1"), ("AUDIT_GRACE", "inf"), ("AUDIT_GRACE", "nan"),
    ("AUDIT_GRACE", "soon"), ("AUDIT_GRACE", "1w"), ("AUDIT_INTERVAL", "31d"), ("AUDIT_INTERVAL", "1e400"),
    ("AUDIT_MAX_RESUBMIT", "-1"), ("AUDIT_MAX_RESUBMIT", "10000001"), ("AUDIT_MAX_RESUBMIT", "2.5"),
    ("AUDIT_MAX_RESUBMIT", "many"),
])
def test_audit_settings_outside_their_range_are_refused_with_the_range(variable, value):
    with pytest.raises(settings.ConfigError, match=variable) as info:
        bucket_settings.load_audit({variable: value})
    low, high = AUDIT_RANGES[variable]
    assert low in str(info.value) and high in str(info.value)


@pytest.mark.parametrize("variable,value,attribute,expected", [
    ("AUDIT_GRACE", "7d", "grace", 604800), ("AUDIT_INTERVAL", "30d", "interval", 2592000),
    ("AUDIT_MAX_RESUBMIT", "0", "max_resubmit", 0), ("AUDIT_MAX_RESUBMIT", "10000000", "max_resubmit", 10 ** 7),
])
def test_the_audit_range_ends_are_accepted(variable, value, attribute, expected):
    assert getattr(bucket_settings.load_audit({variable: value}), attribute) == expected
