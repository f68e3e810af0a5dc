"""``backfill --via-task``, ``verify --resubmit --via-task`` and ``task TASK_ID`` against a scripted OMS on
127.0.0.1 (``scripted_oms``), with the loopback COS and OBS where the command reads or writes them."""

import json
import os
import signal
import subprocess
import sys
from urllib.parse import unquote

import pytest

from cos2oms import migration
from cos2oms.commands import backfill, task, verify
from local import fake_credentials
from local.obs_server import objects, read_object
from tests.e2e.migration import OBS_BUCKET, SOURCE_BUCKET, T0, TRICKY, destination, environ, run, source
from tests.e2e.scripted_oms import TASK_ID, ScriptedOms, state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAST = ("--poll-interval", "0.01")
OFFLINE_OBS = dict(OBS_BUCKET=OBS_BUCKET, OBS_ENDPOINT="https://obs.cn-north-4.myhuaweicloud.com",
                   OBS_AK=fake_credentials.OBS_AK, OBS_SK=fake_credentials.OBS_SK)
REPORT_FIELDS = ["oms_task_id", "task_type", "status", "total", "succeeded", "failed", "skipped", "bytes",
                 "failed_list"]


def backfill_environ(oms, **overrides):
    """A prefix task reads neither COS nor OBS: only their settings."""
    from local.world import environment

    return environment(oms, None, None, SOURCE_BUCKET=SOURCE_BUCKET, LOG_BUCKET="logs-1250000000",
                       COS_SECRET_ID=fake_credentials.COS_SECRET_ID, COS_SECRET_KEY=fake_credentials.COS_SECRET_KEY,
                       COS_REGION="ap-guangzhou", **dict(OFFLINE_OBS, **overrides))


def sdk_problems(model, body):
    models = migration.sdk_models()
    if models is None:
        pytest.skip("huaweicloudsdkoms is not installed here")
    return migration.body_problems(models, model, body)


def test_backfill_via_task_creates_one_prefix_task_and_follows_it(capsys):
    states = [state(1), state(2, 3, 1, size=5), state(5, 3, 2, skipped=1, size=9)]
    with ScriptedOms(states) as oms:
        status, lines, report = run(backfill, backfill_environ(oms, OBS_PREFIX="cos/"), "--since",
                                    "2024-05-01T08:00:00+08:00", "--prefix", "a/", "--prefix", "b c/", "--via-task",
                                    *FAST)
    assert (status, lines) == (0, [])
    assert list(report) == REPORT_FIELDS
    assert report == {"oms_task_id": TASK_ID, "task_type": "prefix", "status": "succeeded", "total": 3,
                      "succeeded": 2, "failed": 0, "skipped": 1, "bytes": 9, "failed_list": None}
    assert oms.calls() == ["show_sync_task", "create_task", "show_task", "show_task", "show_task"]
    assert len(set(oms.ports)) == 1  # one OMS session for the run: ShowSyncTask's connection serves the task calls
    body = oms.bodies("create_task")[0]
    assert sdk_problems("CreateTaskReq", body) == []
    assert body["task_type"] == "prefix" and body["migrate_since"] == 1714521600  # 2024-05-01T00:00:00Z, seconds
    assert body["src_node"]["object_key"] == ["a/", "b c/"]
    assert body["src_node"]["cloud_type"] == "Tencent" and body["src_node"]["app_id"] == "1253970026"
    assert body["dst_node"]["save_prefix"] == "cos/" and body["dst_node"]["region"] == "cn-north-4"
    assert (body["object_overwrite_mode"], body["consistency_check"]) == ("CRC64_COMPARISON_OVERWRITE", "crc64")
    err = capsys.readouterr().err
    assert "--until" not in err


def test_backfill_via_task_whole_bucket_and_the_until_caveat(capsys):
    with ScriptedOms() as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "2024-05-01", "--until", "2024-05-02",
                                "--via-task", *FAST)
    assert status == 0 and report["status"] == "succeeded"
    assert oms.bodies("create_task")[0]["src_node"]["object_key"] == [""]
    assert "objects modified after --until are included too" in capsys.readouterr().err


def test_failed_objects_restart_the_task_once_for_them():
    states = [state(2, 4, 2), state(4, 4, 3, failed=1, size=3), state(6, 4, 3, failed=1),
              state(5, 4, 4, size=4)]
    with ScriptedOms(states) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert oms.calls() == ["show_sync_task", "create_task", "show_task", "show_task", "start_task", "show_task",
                           "show_task"]
    start = oms.bodies("start_task")[0]
    assert start["migrate_failed_object"] is True and sdk_problems("StartTaskReq", start) == []
    assert (start["src_ak"], start["dst_ak"]) == (fake_credentials.COS_SECRET_ID, fake_credentials.OBS_AK)
    assert (status, report["status"], report["failed"], report["succeeded"]) == (0, "succeeded", 0, 4)


def test_objects_that_fail_again_are_reported_and_the_task_restarted_once_only():
    failed = state(5, 4, 3, failed=1, failed_object_record={"result": True, "list_file_key": "failed/4242.txt"})
    with ScriptedOms([failed]) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert oms.calls().count("start_task") == 1
    assert (status, report["failed"], report["failed_list"]) == (1, 1, "failed/4242.txt")


def test_a_task_that_fails_exits_1_and_says_why(capsys):
    failing = state(4, error_reason={"error_code": "OMS.0063", "error_msg": "source bucket not found"})
    with ScriptedOms([state(2), failing]) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert (status, report["status"], report["oms_task_id"]) == (1, "failed", TASK_ID)
    assert "start_task" not in oms.calls()  # nothing failed object by object: no restart
    assert "OMS.0063" in capsys.readouterr().err


@pytest.mark.parametrize("call, expected_calls", [
    ("show_sync_task", ["show_sync_task"]),
    ("create_task", ["show_sync_task", "create_task"]),
    ("show_task", ["show_sync_task", "create_task", "show_task"]),
])
@pytest.mark.parametrize("refusal", [401, 403])
def test_refused_credentials_exit_2_and_nothing_more_is_sent(call, expected_calls, refusal):
    answers = {call: (refusal, {"error_code": "APIG.0301", "error_msg": "Incorrect IAM authentication"})}
    with ScriptedOms(answers=answers) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert status == 2
    assert oms.calls() == expected_calls
    assert report["status"] == "not_created" if call != "show_task" else report["oms_task_id"] == TASK_ID


def test_create_task_failing_is_exit_1_and_not_retried():
    with ScriptedOms(answers={"create_task": (500, {"error_code": "OMS.0000", "error_msg": "busy"})}) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert (status, report["oms_task_id"], report["status"]) == (1, None, "not_created")
    assert oms.calls() == ["show_sync_task", "create_task"]  # a retried CreateTask could copy twice


def test_create_task_rejected_with_400_is_bad_configuration_exit_2_and_not_retried(capsys):
    """OMS answers 400 to a body or a node's credentials it does not take: what was sent is wrong, and sending
    it again changes nothing."""
    rejected = {"create_task": (400, {"error_code": "OMS.1007", "error_msg": "The source AK/SK is invalid"})}
    with ScriptedOms(answers=rejected) as oms:
        status, _, report = run(backfill, backfill_environ(oms), "--since", "7d", "--via-task", *FAST)
    assert (status, report["oms_task_id"], report["status"]) == (2, None, "not_created")
    assert oms.calls() == ["show_sync_task", "create_task"]
    assert "OMS.1007" in capsys.readouterr().err


def test_dry_run_prints_the_bodies_redacted_and_sends_nothing():
    with ScriptedOms() as oms:
        status, lines, report = run(backfill, backfill_environ(oms, OBS_PREFIX="p/"), "--since", "2024-05-01",
                                    "--via-task", "--dry-run")
    assert oms.calls() == ["show_sync_task"]  # the task's settings read (the bodies use them); nothing sent
    assert status == 0 and report["status"] == "dry_run"
    text = "\n".join(lines)
    for secret in (fake_credentials.COS_SECRET_KEY, fake_credentials.COS_SECRET_ID, fake_credentials.OBS_SK,
                   fake_credentials.OBS_AK):
        assert secret not in text
    create = json.loads(text[text.index("{"):text.index("StartTask")])
    assert create["src_node"]["sk"] == "<redacted>" and create["migrate_since"] == 1714521600
    assert create["dst_node"]["save_prefix"] == "p/"


def test_big_window_without_via_task_suggests_it(cos_server, monkeypatch, capsys):
    monkeypatch.setattr(backfill, "SUGGEST_TASK_ABOVE", 2)
    for name in ("a", "b", "c"):
        source(cos_server, name)
    status, _, report = run(backfill, environ("http://127.0.0.1:9", cos_server, None), "--since", "2024-01-01",
                            "--dry-run")
    assert (status, report["in_window"]) == (0, 3)
    assert "--via-task" in capsys.readouterr().err


def test_ctrl_c_leaves_the_task_running_and_says_how_to_follow_it():
    with ScriptedOms([state(2, 10, 3, size=30)]) as oms:
        env = dict(os.environ, **backfill_environ(oms), PYTHONPATH=ROOT)
        child = subprocess.Popen([sys.executable, "-m", "cos2oms", "backfill", "--since", "7d", "--via-task",
                                  "--poll-interval", "0.05"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            assert oms.shown.wait(30), "the task was never shown"
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=30)
        finally:
            child.kill()
        calls = oms.calls()
    assert child.returncode == 1
    report = json.loads(out.splitlines()[-1])
    assert (report["oms_task_id"], report["status"], report["succeeded"]) == (TASK_ID, "running", 3)
    assert "python -m cos2oms task %d" % TASK_ID in err
    assert "start_task" not in calls and calls[:2] == ["show_sync_task", "create_task"]


# ----------------------------------------------------------------------------- verify --resubmit --via-task

def read_list(obs_server, key):
    return [unquote(line) for line in read_object(obs_server, OBS_BUCKET, key).decode("ascii").splitlines()]


def test_verify_resubmits_missing_objects_as_a_list_task(cos_server, obs_server):
    for key in TRICKY + ["cr\rlf.jpg", "here.jpg"]:
        source(cos_server, key)
    destination(obs_server, "here.jpg")
    listed = {}

    def on_create(body):
        list_file = body["src_node"]["list_file"]
        listed["file"] = list_file
        listed["lines"] = read_list(obs_server, list_file["list_file_key"])
        listed["objects"] = sorted(objects(obs_server, OBS_BUCKET, migration.LIST_FILE_FOLDER))

    with ScriptedOms([state(2, 9, 3, task_type="list"), state(5, 9, 9, size=36, task_type="list")],
                     on_create=on_create) as oms:
        status, lines, report = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task", *FAST)
    assert (status, report["status"], report["task_type"], report["succeeded"]) == (0, "succeeded", "list", 9)
    summary = json.loads(lines[-1])  # verify's own line comes before the task's
    assert (summary["missing"], summary["resubmitted"]) == (9, 9)
    body = oms.bodies("create_task")[0]
    assert sdk_problems("CreateTaskReq", body) == [] and body["task_type"] == "list"
    assert listed["file"]["obs_bucket"] == OBS_BUCKET and listed["file"]["list_file_key"].startswith("oms-list-files/")
    assert sorted(listed["lines"]) == sorted(TRICKY + ["cr\rlf.jpg"])  # one name a line, whatever it holds
    assert len(listed["objects"]) == 1
    assert objects(obs_server, OBS_BUCKET, migration.LIST_FILE_FOLDER) == {}  # removed once the task has ended


def test_verify_via_task_lists_no_difference_the_sync_task_would_keep(cos_server, obs_server):
    for key in ("differs.jpg", "gone.jpg"):
        source(cos_server, key)
    destination(obs_server, "differs.jpg", b"another size")
    listed = {}

    def on_create(body):
        listed["lines"] = read_list(obs_server, body["src_node"]["list_file"]["list_file_key"])

    with ScriptedOms([state(5, 1, 1, size=4, task_type="list")], sync_task={"object_overwrite_mode": "NO_OVERWRITE"},
                     on_create=on_create) as oms:
        status, lines, report = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task", *FAST)
    summary = json.loads(lines[-1])
    assert (summary["differ"], summary["differ_kept"], summary["missing"], summary["resubmitted"]) == (1, 1, 1, 1)
    assert listed["lines"] == ["gone.jpg"]


def test_list_files_split_and_go_to_the_list_bucket(cos_server, obs_server, monkeypatch):
    monkeypatch.setattr(migration, "LIST_FILE_MAX_LINES", 2)
    monkeypatch.setattr(migration.split_list, "__defaults__", (2, migration.LIST_FILE_MAX_BYTES))
    keys = ["k%d" % i for i in range(5)]
    for key in keys:
        source(cos_server, key)
    destination(obs_server, "unrelated")  # makes the bucket; an extra object
    from local.obs_server import put_object
    put_object(obs_server, "list-bucket", "keep.txt", b"x")
    seen = {}

    def on_create(body):
        list_file = body["src_node"]["list_file"]
        seen["file"] = list_file
        folder = list_file["list_file_key"]
        seen["lines"] = [unquote(line) for key in sorted(objects(obs_server, "list-bucket", folder))
                         for line in read_object(obs_server, "list-bucket", key).decode().splitlines()]
        from local.obs_server import InProcess
        seen["types"] = {InProcess(obs_server).content_type("list-bucket", key)
                         for key in objects(obs_server, "list-bucket", folder)}

    with ScriptedOms(on_create=on_create) as oms:
        status, _, report = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task",
                                "--list-bucket", "list-bucket", *FAST)
    assert status == 0
    assert seen["file"]["list_file_num"] == "3" and seen["file"]["list_file_key"].endswith("/")
    assert seen["file"]["obs_bucket"] == "list-bucket"
    assert seen["lines"] == keys
    assert seen["types"] == {"text/plain"}  # OMS reads no list file of another Content-Type
    assert sorted(objects(obs_server, "list-bucket")) == ["keep.txt"]


def test_list_files_stay_while_the_task_may_read_them_then_task_removes_them(cos_server, obs_server):
    source(cos_server, "lost one.jpg")
    created = {}
    with ScriptedOms([state(2, 1, 0)], answers={"show_task": (500, {"error_code": "OMS.0000"})},
                     on_create=created.update) as oms:
        status, _, report = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task", *FAST)
    assert status == 1 and report["oms_task_id"] == TASK_ID  # not followed to its end
    kept = sorted(objects(obs_server, OBS_BUCKET, migration.LIST_FILE_FOLDER))
    assert len(kept) == 1
    ended = state(5, 1, 1, task_type="list", src_node={"list_file": created["src_node"]["list_file"]})
    with ScriptedOms([ended]) as oms:
        status, _, report = run(task, environ(oms, cos_server, obs_server), str(TASK_ID), *FAST)
    assert (status, report["status"], report["task_type"]) == (0, "succeeded", "list")
    assert objects(obs_server, OBS_BUCKET, migration.LIST_FILE_FOLDER) == {}


def test_task_command_follows_until_the_end_and_reports(cos_server, obs_server):
    first = state(1, description="cos2oms backfill\nsince", src_node={"cloud_type": "Tencent", "bucket": "b-1"},
                  dst_node={"bucket": "d", "region": "cn-north-4", "save_prefix": "p/"})
    with ScriptedOms([first, state(2, 2, 1), state(3, 2, 1, failed=1)]) as oms:
        status, lines, report = run(task, environ(oms, cos_server, obs_server), str(TASK_ID), *FAST)
    assert lines == ['migration task "4242" ("prefix"), "waiting": "cos2oms backfill\\nsince"; from "Tencent" -/"b-1" '
                     'to "cn-north-4"/"d""/p/"']  # what OMS said, quoted and escaped
    assert oms.calls() == ["show_task"] * 3
    assert (status, report["status"], report["failed"]) == (1, "stopped", 1)


def test_task_command_refused_credentials_exit_2(cos_server, obs_server):
    with ScriptedOms(answers={"show_task": (403, {"error_code": "APIG.0302"})}) as oms:
        status, _, report = run(task, environ(oms, cos_server, obs_server), str(TASK_ID), *FAST)
    assert status == 2 and oms.calls() == ["show_task"]


def test_task_command_unknown_task_id_exit_2(cos_server, obs_server, capsys):
    unknown = {"show_task": (400, {"error_code": "OMS.0054", "error_msg": "Invalid task ID. Enter a valid task ID."})}
    with ScriptedOms(answers=unknown) as oms:
        status, _, report = run(task, environ(oms, cos_server, obs_server), "999", *FAST)
    assert status == 2 and oms.calls() == ["show_task"]  # asked once: a wrong id stays wrong
    assert "OMS.0054" in capsys.readouterr().err


def test_markers_are_not_written_and_the_report_says_so(cos_server, obs_server, capsys):
    source(cos_server, "x.jpg", mtime=T0)
    with ScriptedOms() as oms:
        status, _, _ = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task", *FAST)
    assert status == 0
    assert cos_server.keys("logs-1250000000") == []
    assert "a migration task writes no markers" in capsys.readouterr().err


def test_verify_dry_run_via_task_writes_and_sends_nothing(cos_server, obs_server):
    source(cos_server, "gone.jpg")
    with ScriptedOms() as oms:
        status, lines, report = run(verify, environ(oms, cos_server, obs_server), "--resubmit", "--via-task",
                                    "--dry-run")
    assert oms.calls() == ["show_sync_task"] and objects(obs_server, OBS_BUCKET) == {}  # read, nothing sent
    assert (status, report["status"], report["task_type"]) == (0, "dry_run", "list")
    assert any(line.startswith("list files (1) to write in %s: oms-list-files/" % OBS_BUCKET) for line in lines)


@pytest.mark.parametrize("argv", [["--via-task"], ["--resubmit", "--list-bucket", "b"], ["--resubmit", "--dry-run"]])
def test_verify_via_task_options_go_together(cos_server, obs_server, argv, capsys):
    with ScriptedOms() as oms:
        status = verify.run(verify_args(argv), environ=environ(oms, cos_server, obs_server))
    assert status == 2 and oms.received == []
    assert "configuration error" in capsys.readouterr().err


def verify_args(argv):
    import argparse

    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- the loopback world, end to end

def test_both_commands_end_to_end_on_the_loopback_world_and_verify_agrees():
    from local.world import World

    with World(oms=True, cos=True, obs=True, source_bucket=SOURCE_BUCKET, obs_bucket=OBS_BUCKET) as world:
        world.obs.create_bucket(OBS_BUCKET)
        env = world.environ(COS_REGION="ap-guangzhou")
        for key in ("old.jpg", "a/in window.jpg", "b/also+here.jpg"):
            source(world.cos, key, mtime=T0 if key != "old.jpg" else T0 - 86400)
        status, _, report = run(backfill, env, "--since", "2024-05-01T00:00:00", "--via-task", *FAST)
        assert (status, report["status"], report["task_type"]) == (0, "succeeded", "prefix")
        assert sorted(objects(world.obs, OBS_BUCKET)) == ["a/in window.jpg", "b/also+here.jpg"]
        for key in TRICKY:
            source(world.cos, key)
        status, _, report = run(verify, env, "--resubmit", "--via-task", *FAST)
        assert (status, report["status"], report["task_type"], report["failed"]) == (0, "succeeded", "list", 0)
        assert objects(world.obs, OBS_BUCKET, migration.LIST_FILE_FOLDER) == {}
        status, _, summary = run(verify, env)
        assert (status, summary["source"], summary["matched"], summary["missing"]) == (0, 3 + len(TRICKY),
                                                                                      3 + len(TRICKY), 0)
