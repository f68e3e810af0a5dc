# -*- coding: utf-8 -*-
"""context: the SCF context as a dict (what SCF passes), an object, or None (a script)."""
import pytest

from cos2oms import context
from cos2oms.deadline import Deadline


class Ctx(object):
    request_id = "obj-1"
    time_limit_in_ms = 3000
    tencentcloud_region = "ap-chengdu"


@pytest.mark.parametrize("ctx", [{"request_id": "obj-1", "time_limit_in_ms": 3000, "tencentcloud_region":
                                  "ap-chengdu"}, Ctx()], ids=["dict", "object"])
def test_fields(ctx):
    assert context.request_id(ctx) == "obj-1"
    assert context.time_limit_seconds(ctx, {}) == 3.0
    assert context.region(ctx) == "ap-chengdu"


@pytest.mark.parametrize("ctx", [None, {}, {"time_limit_in_ms": "soon"}, {"time_limit_in_ms": 0},
                                 {"time_limit_in_ms": -5}, {"time_limit_in_ms": float("inf")},
                                 {"time_limit_in_ms": None}])
def test_missing_or_unusable_values(ctx):
    assert context.request_id(ctx) == "-"
    assert context.time_limit_seconds(ctx, {}) is None
    assert context.region(ctx) is None
    assert Deadline.from_context(ctx, environ={}).bounded is False


def test_deadline_keeps_a_reserve_for_markers():
    clock = [100.0]
    deadline = Deadline.from_context({"time_limit_in_ms": 3000}, clock=lambda: clock[0], environ={})
    assert deadline.remaining() == 3.0
    assert deadline.remaining_for_requests() == pytest.approx(3.0 - 0.6)
    clock[0] += 2.5
    assert deadline.remaining_for_requests() < 0 < deadline.remaining()


# ---- Tencent's local runner (scf native invoke): seconds in time_limit_in_ms, SCF_LOCAL and SCF_FUNCTION_TIMEOUT --

# What `scf native invoke` gives a function whose template says Timeout: 30 (its Python bootstrap puts
# int(SCF_FUNCTION_TIMEOUT) into time_limit_in_ms).
LOCAL_CONTEXT = {"request_id": "local-1", "time_limit_in_ms": 30, "memory_limit_in_mb": "128"}
LOCAL_ENVIRON = {"SCF_LOCAL": "true", "SCF_FUNCTION_TIMEOUT": "30", "SCF_FUNCTION_MEMORY_SIZE": "128"}


def test_the_local_runner_s_timeout_is_seconds():
    assert context.time_limit_seconds(LOCAL_CONTEXT, LOCAL_ENVIRON) == 30.0
    deadline = Deadline.from_context(LOCAL_CONTEXT, clock=lambda: 0.0, environ=LOCAL_ENVIRON)
    assert deadline.remaining() == 30.0 and deadline.remaining_for_requests() == pytest.approx(24.0)


def test_without_scf_local_the_value_is_milliseconds():
    # Real SCF: time_limit_in_ms is milliseconds, and an SCF_FUNCTION_TIMEOUT (set by hand, say) is not read.
    environ = {"SCF_FUNCTION_TIMEOUT": "900"}
    assert context.time_limit_seconds({"time_limit_in_ms": 30000}, environ) == 30.0
    assert context.time_limit_seconds(LOCAL_CONTEXT, environ) == 0.03
    for flag in ("false", "", "1", "yes"):
        assert context.time_limit_seconds(LOCAL_CONTEXT, dict(LOCAL_ENVIRON, SCF_LOCAL=flag)) == 0.03, flag


@pytest.mark.parametrize("flag", ["true", "TRUE", "True", " true "])
def test_scf_local_spellings(flag):
    assert context.time_limit_seconds(LOCAL_CONTEXT, dict(LOCAL_ENVIRON, SCF_LOCAL=flag)) == 30.0


def test_scf_function_timeout_wins_over_the_context_under_scf_local():
    environ = dict(LOCAL_ENVIRON, SCF_FUNCTION_TIMEOUT="12.5")
    assert context.time_limit_seconds(LOCAL_CONTEXT, environ) == 12.5
    assert context.time_limit_seconds(None, environ) == 12.5       # a script run under the runner's variables


@pytest.mark.parametrize("timeout", [None, "", "soon", "0", "-3", "inf", "nan"])
def test_an_unusable_scf_function_timeout_falls_back_to_the_context_in_seconds(timeout):
    environ = dict(LOCAL_ENVIRON)
    if timeout is None:
        del environ["SCF_FUNCTION_TIMEOUT"]
    else:
        environ["SCF_FUNCTION_TIMEOUT"] = timeout
    assert context.time_limit_seconds(LOCAL_CONTEXT, environ) == 30.0
    assert context.time_limit_seconds({"time_limit_in_ms": "x"}, environ) is None
    assert context.time_limit_seconds(None, environ) is None
    assert Deadline.from_context({}, environ=environ).bounded is False


def test_the_process_environment_is_the_default(monkeypatch):
    monkeypatch.setenv("SCF_LOCAL", "true")
    monkeypatch.setenv("SCF_FUNCTION_TIMEOUT", "45")
    assert context.time_limit_seconds(LOCAL_CONTEXT) == 45.0
    assert Deadline.from_context(LOCAL_CONTEXT).limit == 45.0
    monkeypatch.delenv("SCF_LOCAL")
    assert context.time_limit_seconds(LOCAL_CONTEXT) == 0.03
