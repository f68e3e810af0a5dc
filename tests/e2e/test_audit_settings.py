"""The audit takes its buckets from the sync task (ShowSyncTask on the loopback OMS), as ``verify`` does, but
asks only when a firing works: a firing between passes, or one that finds the lease taken, makes no request to
OMS or OBS (one GET of the state, nothing else). A contradiction is an error naming both values before the
lease is taken; a 403 leaves the configured values, with a warning; a pass keeps the buckets it started with."""

import argparse
import io
import json
import logging
import time

import pytest

from cos2oms import audit, audit_state, bucket_settings, listings
from cos2oms.commands import audit as audit_command
from cos2oms.settings import ConfigError
from local.obs_server import put_object
from local.world import install
from tests.e2e import migration as world
from tests.e2e.migration import EVENT_PREFIX, LOG_BUCKET, OBS_BUCKET, SOURCE_BUCKET
from tests.e2e.test_audit import STATE, Invoker, state

#: The loopback OMS's sync task copies into OBS's region cn-north-4 (``OmsServer.task_details``).
DST_REGION = "cn-north-4"


@pytest.fixture
def stand(oms_server, cos_server, obs_server, monkeypatch):
    """The audit's environment on the loopback stand-ins, with pages of 5 keys; ``configure(**overrides)``
    installs it again with these variables changed (``None``: unset)."""
    monkeypatch.setattr(audit, "PAGE", 5)
    monkeypatch.setattr(listings, "PAGE", 5)

    def configure(**overrides):
        install(world.environ(oms_server, cos_server, obs_server, **overrides), monkeypatch)

    configure()
    return oms_server, cos_server, obs_server, monkeypatch, configure


def seed(cos, obs, n=12, missing=(3, 8)):
    """``n`` source objects, all copied but ``missing``: the event keys a pass must resubmit."""
    for i in range(n):
        world.source(cos, "k%02d" % i)
        if i not in missing:
            world.destination(obs, "k%02d" % i)
    return [EVENT_PREFIX + "k%02d" % i for i in missing]


def oms_methods(oms):
    return [r.method for r in oms.requests]


def obs_requests(obs):
    return sum(obs.counts.values())


def loopback_endpoint_for_the_task_region(monkeypatch, obs):
    """OBS's endpoint for the task's ``dst_region``, pointed at the loopback OBS (the real one is
    ``https://obs.{region}.myhuaweicloud.com``): the regions asked for, in order."""
    asked = []

    class Form(str):
        def __mod__(self, region):
            asked.append(region)
            return obs.endpoint

    monkeypatch.setattr(bucket_settings, "OBS_ENDPOINT_FORM", Form(bucket_settings.OBS_ENDPOINT_FORM))
    return asked


def test_a_pass_with_no_bucket_configured_takes_them_from_the_sync_task(stand):
    oms, cos, obs, monkeypatch, configure = stand
    configure(SOURCE_BUCKET=None, OBS_BUCKET=None, OBS_ENDPOINT=None)
    asked = loopback_endpoint_for_the_task_region(monkeypatch, obs)
    needed = seed(cos, obs)
    outcome = Invoker()()
    assert outcome["outcome"] == audit.PASS_DONE and outcome["complete"] is True
    assert outcome["counts"]["source"] == 12 and outcome["counts"]["missing_unmarked"] == 2
    assert asked == [DST_REGION]  # OBS's endpoint for the task's dst_region
    assert oms.received_keys() == needed  # the task's source bucket's event keys
    assert oms_methods(oms) == ["GET", "POST", "POST"]  # ShowSyncTask once, then each page's resubmission
    assert state(cos)["last"]["complete"] is True


def test_each_working_firing_asks_once_and_a_firing_between_passes_asks_nothing(stand):
    oms, cos, obs, monkeypatch, configure = stand
    clock = [time.time()]
    monkeypatch.setattr(audit, "wall_clock", lambda: clock[0])
    seed(cos, obs, n=12, missing=())
    invoke = Invoker()
    # a pass of 3 pages over 3 firings, each firing with time for one page only
    monkeypatch.setattr(audit.Auditor, "_time_for_a_page", lambda self: self.pages == 0)
    outcomes = [invoke()["outcome"] for _ in range(3)]
    assert outcomes == [audit.OUT_OF_TIME, audit.OUT_OF_TIME, audit.PASS_DONE]
    assert oms_methods(oms) == ["GET"] * 3  # ShowSyncTask, once a firing; nothing to resubmit
    assert state(cos)["last"]["invocations"] == 3

    # between passes: one GET of the state, nothing asked of OMS, nothing of OBS
    oms.clear()
    cos.clear()
    obs.clear()
    assert invoke()["outcome"] == audit.NOT_DUE
    assert (oms.request_count, obs_requests(obs)) == (0, 0)
    assert {k: v for k, v in cos.counts.items() if v} == {"get": 1}


def test_a_firing_that_finds_the_lease_taken_asks_nothing(stand):
    oms, cos, obs, monkeypatch, configure = stand
    seed(cos, obs)
    other = audit_state.take_lease(audit_state.empty(), "someone-else", time.time() + 30)
    other["pass"] = audit_state.new_pass(time.time(), audit.PassCounts().as_dict())
    put_object(cos, LOG_BUCKET, STATE, audit_state.dump(other))
    cos.clear()
    assert Invoker()()["outcome"] == audit.BUSY
    assert (oms.request_count, obs_requests(obs)) == (0, 0)
    assert {k: v for k, v in cos.counts.items() if v} == {"get": 1}
    assert state(cos) == other


@pytest.mark.parametrize("variable, configured, task_value", [
    ("OBS_BUCKET", "typo-bucket", OBS_BUCKET),
    ("SOURCE_BUCKET", "other-1253970026", SOURCE_BUCKET),
    ("OBS_ENDPOINT", "https://obs.cn-east-3.myhuaweicloud.com", DST_REGION),
])
def test_a_contradiction_ends_the_firing_before_the_lease_naming_both(stand, caplog, variable, configured,
                                                                      task_value):
    oms, cos, obs, monkeypatch, configure = stand
    configure(**{variable: configured})
    seed(cos, obs)
    caplog.set_level(logging.INFO, logger="cos2oms")
    with pytest.raises(ConfigError) as raised:
        Invoker()()
    assert raised.value.variable == variable
    assert repr(task_value) in str(raised.value) and "--force" not in str(raised.value)
    assert repr(configured if variable != "OBS_ENDPOINT" else "cn-east-3") in str(raised.value)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(":")[0] for r in errors] == ["audit configuration error"]
    assert variable in errors[0].getMessage()
    assert state(cos) is None  # no lease taken, no pass started
    assert oms_methods(oms) == ["GET"] and obs_requests(obs) == 0


def test_without_synctask_get_the_configured_values_are_used_with_a_warning(stand, caplog):
    oms, cos, obs, monkeypatch, configure = stand
    needed = seed(cos, obs)
    oms.script(403)  # ShowSyncTask refused; the resubmissions accepted
    caplog.set_level(logging.WARNING, logger="cos2oms")
    outcome = Invoker()()
    assert outcome["outcome"] == audit.PASS_DONE and outcome["complete"] is True
    assert oms.received_keys() == needed
    assert "configured values are used" in caplog.text and "oms:synctask:get" in caplog.text


def test_without_synctask_get_and_nothing_configured_the_firing_names_the_variable(stand):
    oms, cos, obs, monkeypatch, configure = stand
    configure(OBS_BUCKET=None)
    seed(cos, obs)
    oms.script(403)
    with pytest.raises(ConfigError) as raised:
        Invoker()()
    assert raised.value.variable == "OBS_BUCKET"
    assert state(cos) is None and obs_requests(obs) == 0


def test_a_pass_whose_destination_changes_is_started_over_never_mixed(stand, caplog):
    oms, cos, obs, monkeypatch, configure = stand
    seed(cos, obs, n=12, missing=())
    clock = [time.time()]
    monkeypatch.setattr(audit, "wall_clock", lambda: clock[0])
    monkeypatch.setattr(audit.Auditor, "_time_for_a_page", lambda self: self.pages == 0)
    invoke = Invoker()
    assert invoke()["outcome"] == audit.OUT_OF_TIME
    first = state(cos)["pass"]
    assert first["buckets"] == {"source": SOURCE_BUCKET, "destination": OBS_BUCKET, "prefix": ""}
    assert first["cursor"] == "k04"
    # OBS_PREFIX changed between two firings: the pass judged so far compared other keys
    configure(OBS_PREFIX="copies/")
    for i in range(12):
        world.destination(obs, "k%02d" % i, prefix="copies/")
    caplog.set_level(logging.WARNING, logger="cos2oms")
    clock[0] += 60
    assert invoke()["outcome"] == audit.OUT_OF_TIME
    again = state(cos)["pass"]
    assert "audit pass started over" in caplog.text
    assert again["buckets"]["prefix"] == "copies/" and again["started"] == first["started"] + 60
    assert (again["cursor"], again["pages"], again["invocations"]) == ("k04", 1, 1)  # from the start again
    monkeypatch.setattr(audit.Auditor, "_time_for_a_page", lambda self: True)
    done = invoke()
    assert done["outcome"] == audit.PASS_DONE
    assert state(cos)["last"]["matched"] == 12 and state(cos)["last"]["invocations"] == 2


def run_command(environ, *argv):
    parser = argparse.ArgumentParser()
    audit_command.add_arguments(parser)
    out = io.StringIO()
    return audit_command.run(parser.parse_args(list(argv)), environ=environ, out=out), out.getvalue()


def test_the_command_takes_the_buckets_from_the_task_and_exits_2_on_a_contradiction(oms_server, cos_server,
                                                                                    obs_server, capsys):
    seed(cos_server, obs_server, n=4, missing=())
    unset = world.environ(oms_server, cos_server, obs_server, SOURCE_BUCKET=None, OBS_BUCKET=None)
    status, out = run_command(unset, "--once")
    last = json.loads(out.splitlines()[-1])
    assert (status, last["outcome"], last["matched"]) == (0, "pass_done", 4)
    assert [r.method for r in oms_server.requests] == ["GET"]

    # --force starts a pass now; it does not override the sync task
    contradicting = world.environ(oms_server, cos_server, obs_server, OBS_BUCKET="typo-bucket")
    oms_server.clear()
    status, out = run_command(contradicting, "--once", "--force")
    err = capsys.readouterr().err
    assert (status, out) == (2, "")
    assert "OBS_BUCKET" in err and "'typo-bucket'" in err and repr(OBS_BUCKET) in err
    assert state(cos_server)["pass"] is None and state(cos_server)["lease"] is None  # the last pass, untouched

    # a firing between passes: no pass due, nothing asked of OMS (the contradiction goes unseen until one works)
    status, out = run_command(contradicting, "--once")
    assert (status, json.loads(out.splitlines()[-1])["outcome"]) == (0, "not_due")
    assert [r.method for r in oms_server.requests] == ["GET"]  # the --force run's ShowSyncTask alone
