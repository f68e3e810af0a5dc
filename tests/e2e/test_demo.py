"""``make demo`` (``python -m local.demo [EVENT.json]``) on a fresh process: what a newcomer runs first."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def demo(*args, **environ):
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "LOG_LEVEL")}
    env.update(environ)
    return subprocess.run([sys.executable, "-m", "local.demo", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, env=env)


def test_demo_shows_the_verified_request_the_marker_and_true():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature verified  -> HTTP 200" in done.stdout
    assert "oms_source_record/demo-task/success_object//1253970026/testpic/testfile" in done.stdout
    assert 'object accepted key="/1253970026/testpic/testfile"' in done.stdout  # the function's own log
    assert "main_handler returned True" in done.stdout


def test_demo_shows_oms_copying_verify_clean_then_a_lost_object_found_and_repaired():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "/1253970026/testpic/testfile -> demo-obs-destination/testfile" in out  # OMS copied it
    reports = [json.loads(line) for line in out.splitlines() if line.strip().startswith('{"source"')]
    clean, lost, resubmitted, repaired, audited = reports[:5]  # then the backfill scene's
    assert clean["matched"] == 1 and clean["missing"] == 0
    assert lost["missing"] == 1 and lost["missing_accepted"] == 1
    assert 'missing "photos/lost.jpg": success marker: OMS accepted it and did not copy it' in out
    assert resubmitted["resubmitted"] == 1
    assert repaired == dict(clean, source=2, matched=2)
    verify_part, status_part = out.split("cos2oms status (", 1)
    assert verify_part.rstrip().endswith("exit status 0")
    # status ends the demo: OMS's figures are what the loopback OMS received and copied (4 requested keys: the
    # event's, the lost one, its resubmission, the audit's resubmission; the lost one's first copy failed)
    assert "SYNCHRONIZING" in status_part
    assert re.search(r"this month\s+4\s+3\s+1\s+0", status_part), status_part
    assert "failed markers  0" in status_part
    assert re.search(r"Audit +last pass .*: complete", status_part), status_part
    assert "judged          1: 1 missing (1 unmarked, 0 accepted, 0 failed), 0 differ" in status_part
    assert audited == dict(clean, source=3, matched=3)


def test_demo_shows_an_audit_pass_finding_and_repairing_an_object_whose_event_never_came():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.split("audit.main_handler(timer event, context)", 1)[1].split("cos2oms status (", 1)[0]
    assert 'audit finding key="photos/no-event.jpg" finding=missing cause="unmarked"' in out
    assert 'object accepted key="/1253970026/testpic/photos/no-event.jpg"' in out
    assert re.search(r"ERROR audit pass done source=1 .*missing_unmarked=1 .*resubmitted=1 recent=2 "
                     r"resubmit_capped=0 complete=true", out), out
    returned = json.loads(out.split("audit.main_handler returned ", 1)[1].splitlines()[0])
    assert returned["outcome"] == "pass_done" and returned["complete"] is True
    assert "/1253970026/testpic/photos/no-event.jpg -> demo-obs-destination/photos/no-event.jpg" in out
    assert "NoSuchKey" not in done.stdout + done.stderr  # no pass yet is no error


def test_demo_shows_a_backfill_through_a_migration_task_restarted_once_and_verify_agreeing():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.split("cos2oms backfill --since 2024-04-28T00:00:00Z --prefix scans/ --via-task", 1)[1]
    out = out.split("cos2oms status (", 1)[0]
    lines = [line.strip() for line in out.splitlines()]
    assert "migration task 1 created (prefix); follow it elsewhere with python -m cos2oms task 1" in lines
    restart = lines.index("migration task 1 ended with 1 failed object(s): restarting it once for them")
    report = json.loads(next(line for line in lines if line.startswith('{"oms_task_id"')))
    assert lines.index(next(line for line in lines if line.startswith('{"oms_task_id"'))) > restart
    assert {k: report[k] for k in ("oms_task_id", "task_type", "status", "total", "succeeded", "failed")} == {
        "oms_task_id": 1, "task_type": "prefix", "status": "succeeded", "total": 3, "succeeded": 3, "failed": 0}
    assert ('CreateTask\'s body, its key fields: task_type "prefix", src_node.object_key ["scans/"], '
            'migrate_since 1714262400 (2024-04-28T00:00:00Z)') in lines
    assert "scans/ in demo-obs-destination: scans/2024-04-28.pdf, scans/2024-04-29.pdf, scans/2024-04-30.pdf" in lines
    assert "left out (modified before --since): scans/2024-04-27.pdf" in lines
    window = lines[lines.index("cos2oms verify --since 2024-04-28T00:00:00Z --prefix scans/ (the backfill's window):"):]
    verified = json.loads(next(line for line in window if line.startswith('{"source"')))
    assert (verified["source"], verified["matched"], verified["missing"]) == (3, 3, 0)


def test_demo_shows_verify_resubmitting_what_the_backfill_left_out_as_a_list_task():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.split("cos2oms verify --prefix scans/ (all time", 1)[1].split("cos2oms status (", 1)[0]
    lines = [line.strip() for line in out.splitlines()]
    assert 'missing "scans/2024-04-27.pdf": no marker: the event never reached the function' in lines
    reports = [json.loads(line) for line in lines if line.startswith('{"source"')]
    assert [(r["source"], r["matched"], r["missing"], r["resubmitted"]) for r in reports] == [
        (4, 3, 1, 0), (4, 3, 1, 1), (4, 4, 0, 0)]  # found, resubmitted, copied
    assert "migration task 2 created (list); follow it elsewhere with python -m cos2oms task 2" in lines
    task = json.loads(next(line for line in lines if line.startswith('{"oms_task_id"')))
    assert (task["task_type"], task["status"], task["succeeded"], task["failed"]) == ("list", "succeeded", 1, 0)
    assert 'CreateTask\'s body: task_type "list", its list file in demo-obs-destination under oms-list-files/' in lines
    assert "list files left in demo-obs-destination under oms-list-files/: 0" in lines


def test_demo_exits_1_when_the_handler_does_not_return_true(tmp_path):
    event = tmp_path / "not-an-event.json"
    event.write_text(json.dumps(["not", "a", "COS", "event"]))
    done = demo(str(event))
    assert done.returncode == 1
    assert "main_handler raised ValueError" in done.stdout


def test_with_log_format_json_every_log_line_of_the_demo_is_a_json_object():
    done = demo(LOG_FORMAT="json")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines() + done.stderr.splitlines()  # the function's on stdout, the commands' on stderr
    assert not [line for line in lines if line.startswith("  | ")]  # no text log line
    logged = [json.loads(line) for line in lines if line.startswith('{"time"')]
    assert len(logged) >= 8  # two invocations: three lines each; verify --resubmit: two
    assert all({"time", "level", "message", "logger", "request_id"} <= set(line) for line in logged)
    assert sorted(line["key"] for line in logged if line["message"] == "object accepted") == [
        "/1253970026/testpic/photos/lost.jpg", "/1253970026/testpic/photos/lost.jpg",
        "/1253970026/testpic/photos/no-event.jpg", "/1253970026/testpic/testfile"]  # the commands' on stderr
    assert [line["level"] for line in logged if line["message"] == "audit pass done"] == ["ERROR"]
