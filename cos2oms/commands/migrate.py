# -*- coding: utf-8 -*-
"""What ``backfill --via-task``, ``verify --resubmit --via-task`` and ``task TASK_ID`` share: one OMS migration
task created (``cos2oms.migration``: its bodies), followed with a progress bar until it ends, restarted once for
its failed objects, its list files removed once it has ended, and the report.

The JSON last line: ``{"oms_task_id", "task_type", "status", "total", "succeeded", "failed", "skipped",
"bytes", "failed_list"}``. Exit status 0 when the task succeeded with nothing failed, 1 when objects failed or
the task did not finish (Ctrl-C included: the task keeps running in OMS), 2 on bad configuration or refused
credentials.
"""
import argparse
import json
import logging
import sys
import time
import uuid

from cos2oms import logs, migration, obs
from cos2oms.commands import base

logger = migration.logger
NO_MARKERS = ("a migration task writes no markers: the next verify (or audit) judges the objects by the "
              "destination itself")


def poll_interval(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be seconds from 0.01 to 3600, got %r" % text)
    return value


def add_following_arguments(parser):
    parser.add_argument("--poll-interval", type=poll_interval, default=5.0, metavar="SECONDS",
                        help="with a migration task: seconds between ShowTask requests while following it "
                             "(default 5)")


def follow_hint(task_id):
    return "python -m cos2oms task %s" % task_id


def say(text):
    """A line for the person running the command, on standard error (standard output: the report only)."""
    print(text, file=sys.stderr)


class Report(base.Counts):
    """The JSON last line of a migration task's run."""

    FIELDS = ("oms_task_id", "task_type", "status", "total", "succeeded", "failed", "skipped", "bytes",
              "failed_list")

    def __init__(self, task_type=None, status="not_created"):
        base.Counts.__init__(self)
        self.oms_task_id = None
        self.task_type = task_type
        self.status = status
        self.failed_list = None
        self.config_problem = False  # refused credentials, or a body OMS's model refuses: exit 2
        self.restarted = False

    def take(self, state):
        self.oms_task_id = state.task_id if self.oms_task_id is None else self.oms_task_id
        if state.body:
            self.task_type = state.body.get("task_type") or self.task_type
            self.status = state.status_name
            self.total, self.succeeded, self.failed = state.total, state.succeeded, state.failed
            self.skipped, self.bytes, self.failed_list = state.skipped, state.bytes, state.failed_list

    def describe(self, interrupted=False):
        text = "migration task %s (%s): %s: %d objects, %d succeeded, %d failed, %d skipped, %d bytes copied" % (
            self.oms_task_id if self.oms_task_id is not None else "-", self.task_type or "-", self.status,
            self.total, self.succeeded, self.failed, self.skipped, self.bytes)
        if self.restarted:
            text += " (restarted once for its failed objects)"
        if self.failed_list:
            text += "; failed objects listed in %s" % self.failed_list
        if interrupted and self.oms_task_id is not None:
            text += "\nthe task keeps running in OMS: follow it with %s" % follow_hint(self.oms_task_id)
        return text + "\n" + NO_MARKERS

    def exit_status(self):
        if self.config_problem:
            return base.EXIT_CONFIG
        if self.status == "dry_run":
            return base.EXIT_OK
        return base.EXIT_OK if self.status == migration.STATUS_NAMES[migration.SUCCEEDED] and self.failed == 0 \
            else base.EXIT_FAILED


class Bars(object):
    """The progress bars of a task being followed: objects and bytes (nothing off a terminal)."""

    def __init__(self, output):
        self.objects = output.progress("migration", "obj")
        self.bytes = output.progress("copied", "B")
        self._seen = (0, 0)

    def __call__(self, state):
        for bar, total in ((self.objects, state.total), (self.bytes, state.total_bytes)):
            if total and getattr(bar, "total", None) != total and hasattr(bar, "refresh"):
                bar.total = total
                bar.refresh()
        done, copied = state.done, state.bytes
        if done > self._seen[0]:
            self.objects.update(done - self._seen[0])
        if copied > self._seen[1]:
            self.bytes.update(copied - self._seen[1])
        self._seen = (max(done, self._seen[0]), max(copied, self._seen[1]))

    def close(self):
        self.objects.close()
        self.bytes.close()


def destination_region(sync_task, obs_settings):
    """The destination's region: the sync task's ``dst_region``, else the one in the OBS endpoint's host name
    (``obs.cn-north-4.myhuaweicloud.com``); None when neither says."""
    region = sync_task.get("dst_region")
    if isinstance(region, str) and region:
        return region
    parts = obs_settings.host.split(".") if obs_settings is not None else []
    return parts[1] if len(parts) > 3 and parts[0] == "obs" else None


class ListFiles(object):
    """A list task's list files in OBS: written (``write``) before the task is created, removed (``remove``)
    once it has ended, or at once when no task was created."""

    def __init__(self, client, bucket, folder):
        self.client = client
        self.bucket = bucket
        self.folder = folder
        self.keys = []

    def write(self, contents):
        for number, content in enumerate(contents, 1):
            key = migration.list_file_name(self.folder, number)
            obs.put_text(self.client, self.bucket, key, content)
            self.keys.append(key)
        return self.keys

    def remove(self):
        remove_list_files(self.client, self.bucket, self.keys)
        self.keys = []


def remove_list_files(client, bucket, keys):
    """Delete ``keys`` (only those under ``oms-list-files/``); a failure is logged, never raised."""
    for key in keys:
        if not key.startswith(migration.LIST_FILE_FOLDER):
            continue
        try:
            obs.delete_object(client, bucket, key)
        except obs.ObsWriteError as exc:
            logs.log(logger, logging.WARNING, "list file not removed", bucket=bucket, key=key, cause=exc.cause)


def follow_to_end(client, task_id, report, output, stopping, interval, restart_body=None, shown=None):
    """Follow the task until it ends into ``report``; restart it once for its failed objects when
    ``restart_body`` is given; ``shown(state)`` at the first answer. Returns the ``Follow`` that ended the run."""
    bars = Bars(output)

    def on_state(state):
        if report.status in ("not_created", "created") and shown is not None:
            shown(state)
        report.take(state)
        bars(state)

    try:
        follow = migration.Follow(client, task_id, stopping, on_state, interval)
        state = follow.run()
        if follow.outcome == "finished" and state.failed and restart_body is not None:
            say("migration task %s ended with %d failed object(s): restarting it once for them" % (task_id,
                                                                                                 state.failed))
            answer = client.start_task(task_id, restart_body)
            if answer.ok:
                report.restarted = True
                follow = migration.Follow(client, task_id, stopping, follow.on_state, interval)
                follow.run(wait_first=True, stale=state)
            else:
                follow.answer, follow.outcome = answer, "refused" if answer.refused else "restart_failed"
                # a StartTask OMS rejects (e.g. the task is running again) is not bad configuration: exit 1
    finally:
        bars.close()
    if follow.outcome == "refused":
        report.config_problem = True
        say("OMS refused the credentials (%s): nothing more sent" % follow.answer.describe())
    elif follow.outcome == "rejected":
        report.config_problem = True
        say("OMS rejected ShowTask for task %s (%s): is it a task of this project?" % (task_id,
                                                                                      follow.answer.describe()))
    elif follow.outcome == "restart_failed":
        say("the restart for failed objects failed: %s" % follow.answer.describe())
    elif follow.outcome == "lost":
        say("ShowTask failed (%s): the task was not followed to its end; follow it with %s"
            % (follow.answer.describe(), follow_hint(task_id)))
    elif follow.outcome == "interrupted":
        say("interrupted: migration task %s keeps running in OMS; follow it with %s" % (task_id, follow_hint(task_id)))
    elif report.status == migration.STATUS_NAMES[migration.FAILED] and follow.state.error:
        say("migration task %s failed: %s" % (task_id, follow.state.error))
    return follow


class TaskRun(object):
    """One new migration task for ``backfill``/``verify``: ``setup`` (``commands.buckets.Setup``, with OBS),
    ``args`` (``dry_run``, ``poll_interval``, ``list_bucket``)."""

    def __init__(self, args, setup, prog):
        self.args = args
        self.setup = setup
        self.prog = prog
        self.client = setup.oms_client()  # the session that asked ShowSyncTask

    def run(self, environ, out, task_type, object_key=None, list_keys=None, text="", migrate_since=None):
        """A ``prefix`` task (``object_key``: the prefixes) or a ``list`` task (``list_keys``: source keys);
        returns the exit status."""
        report = Report(task_type, "dry_run" if self.args.dry_run else "not_created")

        def work(output, stopping):
            sync_task = self._sync_task(report)
            if sync_task is None:
                return
            plan = self._plan(report, sync_task, task_type, object_key, list_keys, text, migrate_since)
            if plan is None:
                return
            if self.args.dry_run:
                self._print(plan, out)
            else:
                self._send(report, output, stopping, plan)

        return base.run_counted(self.args, self.setup.settings, environ, out, logger, report, work,
                                describe=report.describe, exit_status=report.exit_status)

    def _sync_task(self, report):
        """ShowSyncTask's answer (a dict: the one ``Setup`` asked for, else asked now), {} in a dry run without
        one; None when it failed (said, and counted)."""
        answer = self.setup.task_answer or self.client.show_sync_task(time.time() * 1000)
        if answer.ok:
            return answer.body.get("task") if isinstance(answer.body.get("task"), dict) else answer.body
        if self.args.dry_run:
            return {}
        report.config_problem = answer.refused
        say("%s: the sync task's settings could not be read (ShowSyncTask: %s): no migration task created"
            % (self.prog, answer.describe()))
        return None

    def _plan(self, report, sync_task, task_type, object_key, list_keys, text, migrate_since):
        """The bodies, checked, and the list files to write: a ``Plan``, or None (said, and counted)."""
        region = destination_region(sync_task, self.setup.obs)
        if region is None and not self.args.dry_run:
            say("%s: the destination's region is unknown: the sync task does not say it and OBS_ENDPOINT is not "
                "obs.REGION.myhuaweicloud.com" % self.prog)
            report.config_problem = True
            return None
        dst = migration.destination_node(self.setup.obs, region or "<dst_region from ShowSyncTask>")
        plan = Plan()
        if list_keys is not None:
            plan.bucket = getattr(self.args, "list_bucket", None) or self.setup.obs.bucket
            plan.contents = list(migration.split_list(list_keys))
            plan.folder = migration.list_folder(unique=uuid.uuid4().hex[:8])
            plan.names = [migration.list_file_name(plan.folder, n) for n in range(1, len(plan.contents) + 1)]
            src = migration.source_node(self.setup.settings, self.setup.source,
                                        list_file=migration.list_file(plan.bucket, plan.names))
        else:
            src = migration.source_node(self.setup.settings, self.setup.source, object_key=object_key)
        plan.body = migration.create_body(task_type, src, dst, text, sync_task, migrate_since)
        plan.restart = migration.start_body(src, dst)
        try:
            migration.check_body("CreateTaskReq", plan.body)
            migration.check_body("StartTaskReq", plan.restart)
        except migration.BodyError as exc:
            say("%s: %s: nothing sent" % (self.prog, exc))
            report.config_problem = True
            return None
        return plan

    def _print(self, plan, out):
        """``--dry-run``: the requests it would send, secrets redacted."""
        print("CreateTask POST %s" % self.client.tasks_url(), file=out)
        print(json.dumps(migration.redacted(plan.body), ensure_ascii=False, indent=2), file=out)
        if plan.names:
            print("list files (%d) to write in %s: %s" % (len(plan.names), plan.bucket, ", ".join(plan.names)),
                  file=out)
        print("StartTask (once, for failed objects) body:", file=out)
        print(json.dumps(migration.redacted(plan.restart), ensure_ascii=False, indent=2), file=out)

    def _send(self, report, output, stopping, plan):
        files = ListFiles(obs.build_obs_client(self.setup.obs), plan.bucket, plan.folder) if plan.names else None
        try:
            if files is not None:
                try:
                    files.write(plan.contents)
                except obs.ObsWriteError as exc:
                    say("%s: list file not written (%s): no migration task created" % (self.prog, exc.cause))
                    files.remove()
                    return
            if stopping.is_set():  # Ctrl-C before anything was created
                if files is not None:
                    files.remove()
                return
            self._create_and_follow(report, output, stopping, plan, files)
        finally:
            if files is not None:
                files.client.close()

    def _create_and_follow(self, report, output, stopping, plan, files):
        answer = self.client.create_task(plan.body)
        task_id = answer.body.get("id") if answer.ok else None
        if task_id is None:
            report.config_problem = answer.refused or answer.rejected  # what we sent is wrong: nothing was created
            say("%s: CreateTask failed: %s" % (self.prog, answer.describe() if not answer.ok
                                                else "no task id in the answer"))
            if files is not None:
                files.remove()
            return
        report.oms_task_id = task_id
        report.status = "created"
        say("migration task %s created (%s); follow it elsewhere with %s" % (task_id, plan.body["task_type"],
                                                                          follow_hint(task_id)))
        follow = follow_to_end(self.client, task_id, report, output, stopping, self.args.poll_interval,
                               plan.restart)
        say(NO_MARKERS)
        if follow.outcome == "finished" and files is not None:
            files.remove()
        elif files is not None and files.keys:
            say("list files kept while the task may still read them: %s in %s (%s removes them once the task "
                "has ended)" % (files.folder, files.bucket, follow_hint(task_id)))


class Plan(object):
    """A new task's requests: ``body`` (CreateTaskReq), ``restart`` (StartTaskReq); for a list task its list
    files (``contents``, their ``names`` in ``folder`` of ``bucket``)."""

    def __init__(self):
        self.body = self.restart = self.bucket = self.folder = None
        self.contents, self.names = [], []


def run_new_task(args, setup, prog, environ, out, **plan):
    """``TaskRun(args, setup, prog).run(environ, out, **plan)``: its exit status."""
    return TaskRun(args, setup, prog).run(environ, out, **plan)
