"""LOG_FORMAT=json: every line the function and replay log is one JSON object with the structured fields as
first-level keys (what CLS indexes), the same escaping and caps as text lines, and no secret at any level."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import index
from cos2oms import handler, logs, retry
from local.hostile import Answer, HostileServer
from local.world import World
from tests import support

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_FIELDS = {"time", "level", "message", "logger", "request_id"}
OUTCOME_FIELDS = {"key", "task", "status", "error_code", "error_msg", "attempts", "oms_request_id"}


@pytest.fixture(autouse=True)
def _text_logging_afterwards():
    yield
    logs.configure(logging.NOTSET, "text")
    for name in ("cos2oms",) + logs.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def environment(loopback, **overrides):
    """This process's environment pointed at ``loopback`` (COS_TOKEN when its COS wants one), logging JSON."""
    return loopback.environ(base=os.environ, LOG_FORMAT="json", **overrides)


def parse(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing logged"
    return [json.loads(line) for line in lines]


def secrets_of(oms_srv, cos_srv):
    oms_auth = [r.headers["authorization"] for r in oms_srv.requests]
    cos_auth = [r.headers["authorization"] for r in cos_srv.requests]
    return ([support.HW_SK, support.COS_KEY, support.COS_TOKEN, "Signature=", "q-signature"] + oms_auth + cos_auth
            + [a.rsplit("Signature=", 1)[1] for a in oms_auth] + [a.rsplit("q-signature=", 1)[1] for a in cos_auth])


def test_the_function_logs_one_json_object_a_line_with_its_fields(monkeypatch, capsys):
    names = ["a b.txt", "tab\tx 中文+%41.txt"] + ["k%02d" % i for i in range(10)]
    with World(cos={"token": support.COS_TOKEN}) as loopback:
        oms_srv, cos_srv = loopback.oms, loopback.cos
        env = environment(loopback, LOG_LEVEL="DEBUG")
        monkeypatch.setattr(os, "environ", env)
        monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
        monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)
        oms_srv.script(500, (400, {"error_code": "OMS.0400\nforged", "error_msg": "m" * 5000}))
        cos_srv.fail_next(1, 500, kind="put")  # a marker write retried: the SDK's own error line, as JSON
        event = support.event(*[support.record(n) for n in names])
        assert index.main_handler(event, {"request_id": "json-1"}) is False
        secrets = secrets_of(oms_srv, cos_srv)

    out = capsys.readouterr().out
    lines = parse(out)
    assert all(BASE_FIELDS <= set(line) for line in lines)
    assert all(line["request_id"] == "json-1" for line in lines)
    objects = [line for line in lines if line["message"] in ("object accepted", "object failed")]
    assert len(objects) == len(names)
    assert all(OUTCOME_FIELDS <= set(line) for line in objects)
    failed = [line for line in objects if line["message"] == "object failed"]
    assert {line["key"] for line in failed} == {support.event_key(n) for n in names[:10]}
    assert all(line["status"] == 400 and line["error_code"] == "OMS.0400\nforged" and
               len(line["error_msg"]) == logs.TEXT_CAP and line["level"] == "ERROR" for line in failed)
    assert any(line["logger"].startswith("qcloud_cos") for line in lines)  # the SDK's lines are JSON too
    done = [line for line in lines if line["message"] == "invocation done"]
    assert len(done) == 1 and (done[0]["accepted"], done[0]["failed"], done[0]["oms_requests"]) == (2, 10, 3)
    assert isinstance(done[0]["elapsed_ms"], int)
    assert any(line["message"].startswith("canonical request") for line in lines)  # DEBUG was on
    assert [s for s in secrets if s in out] == []


def test_a_replay_run_logs_json_and_ends_with_its_summary(tmp_path):
    keys = [support.event_key("r%03d" % i) for i in range(25)]
    with World() as loopback:
        oms_srv, cos_srv = loopback.oms, loopback.cos
        cos_srv.put_keys(support.LOG_BUCKET, [support.marker("failed_object", k) for k in keys])
        oms_srv.script(403)
        done = subprocess.run([sys.executable, "replay.py"], cwd=REPO_ROOT,
                              env=environment(loopback, LOG_LEVEL="DEBUG"), capture_output=True, text=True,
                              timeout=60)
        secrets = secrets_of(oms_srv, cos_srv)

    assert done.returncode == 1, done.stderr
    assert parse(done.stdout) == [{"listed": 25, "replayed": 0, "still_failed": 25, "errors": 0}]  # nothing else
    log_lines = parse(done.stderr)
    assert any(line["level"] == "DEBUG" for line in log_lines)  # at every level
    assert all(BASE_FIELDS <= set(line) for line in log_lines)
    refused = [line for line in log_lines if line["message"] == "oms request failed"]
    assert len(refused) == 1 and refused[0]["status"] == 403 and refused[0]["keys"] == 10
    assert [s for s in secrets if s in done.stdout + done.stderr] == []


FAULTS = {
    "401": Answer(401, headers={"Content-Type": "application/json"},
                  body=b'{"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication information"}'),
    "hang": Answer(200, hang=30),
    "cut-short": Answer(200, headers={"Content-Length": "100"}, body=b"{}", cut=True),
    "redirect": Answer(302, headers={"Location": "http://elsewhere.invalid/" + "x" * 5000}),
    "trickle": Answer(200, body=b"{}" * 200, trickle=0.05),
    "interim": Answer(200, interim=(103,)),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_line_is_json_through_the_network_faults_at_debug(monkeypatch, capsys, fault):
    names = ["a b.txt", "ctl\x01\u2028x"]
    with HostileServer() as oms_srv, World(oms=oms_srv, cos={"token": support.COS_TOKEN}) as loopback:
        cos_srv = loopback.cos
        oms_srv.script(FAULTS[fault])
        env = environment(loopback, LOG_LEVEL="DEBUG", OMS_TIMEOUT="1", OMS_MAX_ATTEMPTS="2")
        monkeypatch.setattr(os, "environ", env)
        monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
        monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)
        event = support.event(*[support.record(n) for n in names])
        assert index.main_handler(event, {"request_id": "json-fault", "time_limit_in_ms": 3000}) is False
        oms_auth = [r.headers.get("authorization", "") for r in oms_srv.requests]
        cos_auth = [r.headers["authorization"] for r in cos_srv.requests]

    out = capsys.readouterr().out
    lines = [json.loads(line, parse_constant=_not_json) for line in out.splitlines()]
    assert all(BASE_FIELDS <= set(line) and line["request_id"] == "json-fault" for line in lines)
    failed = [line for line in lines if line["message"] == "object failed"]
    assert sorted(line["key"] for line in failed) == sorted(support.event_key(n) for n in names)
    assert all(len(json.dumps(line.get("reason") or "")) < 1000 for line in lines)  # capped, the Location too
    assert any(line["level"] == "DEBUG" for line in lines)
    secrets = [support.HW_SK, support.COS_KEY, support.COS_TOKEN] + [a for a in oms_auth + cos_auth if a] + \
        [a.rsplit("Signature=", 1)[1] for a in oms_auth if "Signature=" in a]
    assert [s for s in secrets if s in out] == []


def _not_json(constant):
    raise ValueError("not JSON: %s" % constant)
