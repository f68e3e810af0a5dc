"""Run the function once on your machine: ``python -m local.demo [EVENT.json]`` (``make demo``).

Starts loopback stand-ins for OMS (it checks every request's signature, as API Gateway does), for COS (the
source bucket and the log bucket) and for the destination OBS bucket, points the function at them with fake
credentials, calls ``index.main_handler`` on a COS event (default: the SCF console's COS PUT test event) and
shows what happened. The loopback OMS then does what OMS does: it copies each accepted object into the OBS
bucket, and ``cos2oms verify`` checks that everything is there. Then an object OMS accepts and never copies:
``verify`` reports it as missing with a success marker, and ``verify --resubmit`` repairs it. Then an object
whose event never reached the function: the audit's timer function (``audit.main_handler``) finds it and
resubmits it. Then objects written while the trigger was broken for days: ``backfill --via-task`` has OMS copy
them with one migration task (restarted once for a scripted failed copy; those modified before ``--since`` left
out), and ``verify`` over that window agrees; ``verify`` over all time finds the one left out and ``verify
--resubmit --via-task`` copies it with a list task. Last, ``status`` shows the audit's report. No cloud account needed.
Exit status 0 when the handler returned True (and the verifications, the audit and the backfill came out as
shown), 1 otherwise.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import contextlib
import copy
import io
import time

import audit  # the audit's SCF entry point, beside index.py
import index  # the SCF entry point, at the repository root (the current directory of `python -m`)
from local.obs_server import objects, put_object
from local.world import World
from cos2oms.migration import LIST_FILE_FOLDER
from cos2oms.commands import backfill as backfill_command, status as status_command, verify as verify_command

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVENT = REPO_ROOT / "tests" / "events" / "cos_put_console.json"
PROJECT, TASK = "demo-project", "demo-task"
LOG_BUCKET = "demo-oms-log-1250000000"
OBS_BUCKET = "demo-obs-destination"
LOST_KEY = "photos/lost.jpg"  # OMS accepts it and does not copy it
NO_EVENT_KEY = "photos/no-event.jpg"  # written two hours ago; its event never reached the function
# The trigger was broken from 2024-04-28 to 2024-05-01: the scans written then never reached the function; the
# one written before (2024-04-27) is outside the backfill's window and stays out.
BROKEN_SINCE = "2024-04-28T00:00:00Z"
SCANS = {"scans/2024-04-27.pdf": 1714176000, "scans/2024-04-28.pdf": 1714262400,
         "scans/2024-04-29.pdf": 1714348800, "scans/2024-04-30.pdf": 1714435200}  # key: last modified (UTC noon)
FAILING_SCAN = "scans/2024-04-29.pdf"  # its first copy fails: the command restarts the task for it
TIMER_EVENT = {"Type": "Timer", "TriggerName": "audit-timer", "Time": "2024-05-01T12:00:00Z", "Message": ""}


def created_objects(event):
    """(bucket, key) of each created object of a COS event (``/{appid}/{name}/{key}`` -> ``name-appid``)."""
    found = []
    for record in (event.get("Records") if isinstance(event, dict) else None) or []:
        try:
            if not record["event"]["eventName"].startswith("cos:ObjectCreated:"):
                continue
            _, appid, name, key = record["cos"]["cosObject"]["key"].split("/", 3)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        found.append(("%s-%s" % (name, appid), key))
    return found


def run_verify(*argv):
    """``cos2oms verify ARGV`` with the demo's environment; prints its report, indented."""
    return run_command(verify_command, *argv)


class Indented(io.TextIOBase):
    """Standard output with each line indented: what a command says on standard error, in the demo's output."""

    def __init__(self):
        self.at_start = True

    def write(self, text):
        for piece in text.splitlines(keepends=True):
            sys.stdout.write(("  " if self.at_start else "") + piece)
            self.at_start = piece.endswith("\n")
        return len(text)


def run_command(command, *argv, stderr=False):
    """``cos2oms COMMAND ARGV`` with the demo's environment; prints its report (with ``stderr``: also what it
    says on standard error, its lines for the person running it, as it says them), indented. Returns its exit
    status."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stderr(Indented()) if stderr else contextlib.nullcontext():
        status = command.run(parser.parse_args(list(argv)), out=out)
    for line in out.getvalue().splitlines():
        print("  " + line)
    print("  exit status %d" % status)
    return status


def show_copies(oms, start=0):
    for record in oms.copies[start:]:
        if record.ok:
            print("  %s -> %s/%s (%d bytes)" % (record.event_key, OBS_BUCKET, record.destination_key, record.size))
        else:
            print("  %s: not copied (%s)" % (record.event_key, record.reason))


def lost_object_demo(event, oms, cos, migration):
    """An object OMS accepts and never copies: verify finds it, verify --resubmit repairs it."""
    source_bucket = os.environ["SOURCE_BUCKET"]
    name, _, appid = source_bucket.rpartition("-")
    event_key = "/%s/%s/%s" % (appid, name, LOST_KEY)
    put_object(cos, source_bucket, LOST_KEY, b"a photo OMS will lose")
    migration.no_copy.add(event_key)
    lost = copy.deepcopy(event)
    lost["Records"] = lost["Records"][:1]
    lost["Records"][0]["cos"]["cosObject"]["key"] = event_key
    print("\nAn object OMS accepts and does not copy: %s" % event_key)
    before = len(oms.copies)
    result = index.main_handler(lost, {"request_id": "demo-lost", "time_limit_in_ms": 3000})
    migration.wait()
    print("main_handler returned %r; OMS:" % result)
    show_copies(oms, before)
    print("\ncos2oms verify (a success marker, and no object: OMS accepted it and did not copy it):")
    found = run_verify()
    print("\ncos2oms verify --resubmit (sends the missing key to OMS again, with markers):")
    run_verify("--resubmit")
    migration.wait()
    show_copies(oms, before + 1)
    print("\ncos2oms verify, once OMS has copied it:")
    return found == 1 and run_verify() == 0


def audit_demo(oms, cos, migration):
    """An object whose event never reached the function: the audit's timer function finds it and resubmits it."""
    source_bucket = os.environ["SOURCE_BUCKET"]
    put_object(cos, source_bucket, NO_EVENT_KEY, b"a photo written while the trigger was off", time.time() - 7200)
    print("\nAn object written two hours ago whose event never reached the function: %s" % NO_EVENT_KEY)
    print("\naudit.main_handler(timer event, context) - the audit's log (objects written within AUDIT_GRACE, 1 h, "
          "are not judged yet):")
    before = len(oms.copies)
    outcome = audit.main_handler(TIMER_EVENT, {"request_id": "demo-audit", "time_limit_in_ms": 30000})
    counts = outcome.get("counts") or {}
    print("audit.main_handler returned %s" % json.dumps({k: outcome.get(k) for k in (
        "outcome", "complete", "pages", "report")}))
    print("  the pass's counts: %s" % json.dumps(counts))
    migration.wait()
    show_copies(oms, before)
    print("\ncos2oms verify, once OMS has copied it:")
    return counts.get("missing_unmarked") == 1 and counts.get("resubmitted") == 1 and run_verify() == 0


def backfill_demo(oms, cos, obs):
    """Objects whose events never came, over days: ``backfill --via-task`` has OMS copy them with one migration
    task (objects modified before ``--since`` left out), restarted once for the object that failed."""
    source_bucket = os.environ["SOURCE_BUCKET"]
    for key, modified in SCANS.items():
        put_object(cos, source_bucket, key, b"a scan written while the trigger was broken", modified)
    oms.tasks.steps = 2
    oms.tasks.fail_objects([FAILING_SCAN])
    print("\nThe trigger was broken from 2024-04-28 to 2024-05-01: %d objects under scans/ never reached the "
          "function, one of them written before the breakage: %s" % (len(SCANS), ", ".join(SCANS)))
    print("(the loopback OMS fails the first copy of %s)" % FAILING_SCAN)
    argv = ["--since", BROKEN_SINCE, "--prefix", "scans/", "--via-task", "--poll-interval", "0.05"]
    print("\ncos2oms backfill %s:" % " ".join(argv))
    status = run_command(backfill_command, *argv, stderr=True)
    body = [body for operation, body in oms.tasks.bodies if operation == "CreateTask"][-1]
    print("  CreateTask's body, its key fields: task_type %s, src_node.object_key %s, migrate_since %d (%s)"
          % (json.dumps(body["task_type"]), json.dumps(body["src_node"]["object_key"]), body["migrate_since"],
             BROKEN_SINCE))
    copied = sorted(key for key in objects(obs, OBS_BUCKET, "scans/"))
    print("  scans/ in %s: %s" % (OBS_BUCKET, ", ".join(copied)))
    left_out = sorted(set(SCANS) - set(copied))
    print("  left out (modified before --since): %s" % (", ".join(left_out) or "none"))
    print("\ncos2oms verify --since %s --prefix scans/ (the backfill's window):" % BROKEN_SINCE)
    agreed = run_verify("--since", BROKEN_SINCE, "--prefix", "scans/") == 0
    return status == 0 and agreed and left_out == [min(SCANS)]


def resubmit_via_task_demo(oms, obs):
    """What the backfill left out, found by ``verify`` over all time and copied with ``verify --resubmit
    --via-task``: a ``list`` migration task reading a list file the command writes in the OBS bucket and removes
    once the task has ended."""
    print("\ncos2oms verify --prefix scans/ (all time: the scan modified before the backfill's --since is missing):")
    found = run_verify("--prefix", "scans/")
    argv = ["--prefix", "scans/", "--resubmit", "--via-task", "--poll-interval", "0.05"]
    print("\ncos2oms verify %s (the missing keys in a list file, one list task):" % " ".join(argv))
    before = len(oms.tasks.bodies)
    run_command(verify_command, *argv, stderr=True)
    body = [body for operation, body in oms.tasks.bodies[before:] if operation == "CreateTask"][-1]
    list_file = body["src_node"]["list_file"]
    print("  CreateTask's body: task_type %s, its list file in %s under %s"
          % (json.dumps(body["task_type"]), list_file["obs_bucket"], LIST_FILE_FOLDER))
    left = objects(obs, OBS_BUCKET, LIST_FILE_FOLDER)
    print("  list files left in %s under %s: %d" % (OBS_BUCKET, LIST_FILE_FOLDER, len(left)))
    print("\ncos2oms verify --prefix scans/, once the task has copied it:")
    return found == 1 and not left and body["task_type"] == "list" and run_verify("--prefix", "scans/") == 0


def show_oms_requests(oms):
    print("\nOMS received %d request(s):" % oms.request_count)
    for i, request in enumerate(oms.requests, 1):
        verdict = "signature verified" if request.verified else "signature NOT verified: %s" % request.reason
        print("  #%d %s %s  %s  -> HTTP %s" % (i, request.method, request.path, verdict, request.status or "none"))
        print("     object_keys, as OMS decodes them:")
        for sent, decoded in zip(request.raw_keys, request.keys_unquote):
            print("       %s" % decoded + ("   (sent URL-encoded: %s)" % sent if sent != decoded else ""))


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    event_path = Path(args[0]) if args else Path(os.path.relpath(DEFAULT_EVENT))
    event = json.loads(event_path.read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="  | %(levelname)-5s %(message)s")

    created = created_objects(event)
    # The function's and the commands' environment variables, as they would be set in the SCF console (the
    # caller's LOG_LEVEL and LOG_FORMAT kept); the source bucket is the event's.
    with World(obs=True, project=PROJECT, task=TASK, log_bucket=LOG_BUCKET, obs_bucket=OBS_BUCKET,
               source_bucket=created[0][0] if created else None) as world:
        world.install(LOG_LEVEL=os.environ.get("LOG_LEVEL"), LOG_FORMAT=os.environ.get("LOG_FORMAT"))
        oms, cos, obs = world.oms, world.cos, world.obs
        print("Loopback OMS:        %s" % world.sync_url)
        print("Loopback COS bucket: %s at %s" % (LOG_BUCKET, cos.address))
        records = event.get("Records") if isinstance(event, dict) else None
        print("Event:               %s (%s)" % (event_path, "%d record(s)" % len(records)
                                                   if isinstance(records, list) else "no 'Records' list"))
        migration = None
        if created:  # the event's objects exist in the source bucket, for OMS to copy (into the OBS bucket)
            for bucket, key in created:
                put_object(cos, bucket, key, b"the object the event is about")
            migration = oms.migrate(cos, created[0][0], obs, OBS_BUCKET)
            print("Loopback OBS bucket: %s at %s (the sync task's destination)" % (OBS_BUCKET, obs.endpoint))
        print("\nindex.main_handler(event, context) - the function's log:")
        try:
            result = index.main_handler(event, {"request_id": "demo", "time_limit_in_ms": 3000})
            outcome = "returned %r (the SCF console shows %s)" % (result, json.dumps(result))
        except Exception as exc:  # show it, with what the servers saw
            result, outcome = None, "raised %s: %s" % (type(exc).__name__, exc)

        show_oms_requests(oms)
        markers = cos.keys(LOG_BUCKET)
        print("\nMarkers in the log bucket %s (%d):" % (LOG_BUCKET, len(markers)))
        for key in markers:
            print("  " + key)
        print("\nmain_handler " + outcome)
        if migration is None or result is not True:
            return 0 if result is True else 1
        migration.wait()
        print("\nOMS copied what it accepted into the OBS bucket:")
        show_copies(oms)
        print("  objects in %s: %d" % (OBS_BUCKET, len(objects(obs, OBS_BUCKET))))
        print("\ncos2oms verify (source bucket, OBS bucket and markers compared):")
        clean = run_verify() == 0
        repaired = lost_object_demo(event, oms, cos, migration)
        audited = audit_demo(oms, cos, migration)
        backfilled = backfill_demo(oms, cos, obs) and resubmit_via_task_demo(oms, obs)
        print("\ncos2oms status (OMS's figures for the task, beside the failed markers and the last audit):")
        out = io.StringIO()
        status_command.main(["--hours", "1"], out=out)
        for line in out.getvalue().splitlines():
            print("  " + line)
    return 0 if clean and repaired and audited and backfilled else 1


if __name__ == "__main__":
    sys.exit(main())
