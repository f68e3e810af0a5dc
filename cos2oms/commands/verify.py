# -*- coding: utf-8 -*-
"""``python -m cos2oms verify``: is everything there? (``cos2oms.verify``: the comparison.)"""
import json
import logging
import os
import sys
import tempfile

from cos2oms import bulk, logs, migration, obs
from cos2oms.commands import base, migrate
from cos2oms.commands.buckets import Setup, add_force_argument, parse_when
from cos2oms.comparison import Comparison
from cos2oms.report import INTERRUPTED, combined_line
from cos2oms.settings import ConfigError
from cos2oms.verify import logger, verify
from cos2oms.verify_merge import ERROR, Result, Summary

DESCRIPTION = "Compare the source COS bucket with the destination OBS bucket; say why each missing object is missing."
DEFAULT_WORKERS = bulk.DEFAULT_WORKERS


def add_arguments(parser):
    parser.add_argument("--source-bucket", metavar="NAME-APPID",
                        help="the source COS bucket (default: SOURCE_BUCKET; region SOURCE_REGION, else COS_REGION)")
    parser.add_argument("--prefix", default="", help="only source keys under this prefix")
    parser.add_argument("--since", type=parse_when, metavar="T",
                        help="only source objects last modified at or after T (ISO 8601, UTC without an offset; or "
                             "a time ago: 30m, 24h, 7d)")
    parser.add_argument("--until", type=parse_when, metavar="T", help="only source objects last modified before T")
    parser.add_argument("--checksum", action="store_true",
                        help="also compare ETags where both are plain MD5s (not multipart uploads)")
    parser.add_argument("--combined", metavar="FILE",
                        help="write rclone check's combined report: '= key' same, '+ key' missing on the destination, "
                             "'* key' differs, '- key' only on the destination, '! key' error; a key that holds a "
                             "line break or starts with '\"' is written as a JSON string, and '! \"...\"' is an error "
                             "about no key (a listing that failed)")
    parser.add_argument("--resubmit", action="store_true",
                        help="send every missing or differing key to OMS (10 a request), with markers; not a "
                             "difference the sync task's overwrite mode would keep")
    parser.add_argument("--via-task", action="store_true",
                        help="with --resubmit: let OMS copy the keys itself, as one migration task (list) whose list "
                             "files are written in --list-bucket under oms-list-files/ and removed once it has ended")
    parser.add_argument("--list-bucket", metavar="BUCKET",
                        help="with --via-task: the OBS bucket for the list files, in the destination's region "
                             "(default: the destination bucket, OBS_BUCKET)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --resubmit --via-task: print the request bodies; write and send nothing")
    migrate.add_following_arguments(parser)
    base.add_sending_arguments(parser, " for --resubmit", DEFAULT_WORKERS)
    add_force_argument(parser)
    base.add_arguments(parser)


def _read_keys(stream):
    stream.seek(0)
    for line in stream:
        yield json.loads(line)


def run(args, environ=None, out=None, prog="cos2oms verify"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    try:
        if args.via_task and not args.resubmit:
            raise ConfigError("--via-task", "goes with --resubmit")
        for name in ("list_bucket", "dry_run"):
            if getattr(args, name) and not args.via_task:
                raise ConfigError("--" + name.replace("_", "-"), "goes with --resubmit --via-task")
        setup = Setup(args, environ)
    except ConfigError as exc:
        return base.config_error(prog, exc)
    try:
        obs_client = obs.build_obs_client(setup.obs)
    except ImportError:
        print("%s: the OBS SDK is not installed: pip install esdk-obs-python" % prog, file=sys.stderr)
        return base.EXIT_CONFIG
    combined = None
    if args.combined:
        try:  # now, not after the comparison has done its work
            combined = open(args.combined, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            obs_client.close()
            print("%s: --combined: cannot write %s: %s" % (prog, args.combined, exc.strerror or exc), file=sys.stderr)
            return base.EXIT_CONFIG
    try:
        return _run(args, setup, obs_client, combined, environ, out, prog)
    finally:
        if combined is not None:
            combined.close()  # once more, harmlessly, unless the run never got to it
        obs_client.close()


def say_comparison(comparison):
    """The line naming the sync task's consistency check and overwrite mode, and the comparison chosen from them
    (WARNING when ShowSyncTask did not answer: OMS's defaults are used)."""
    message, fields = comparison.describe()
    logs.log(logger, logging.INFO if comparison.told else logging.WARNING, message, **fields)


def _run(args, setup, obs_client, combined, environ, out, prog):
    summary = Summary()
    via_task = []  # --via-task: the source keys to give OMS as a list task
    comparison = Comparison.for_task(setup.task, args.checksum)

    def work(output, stopping):
        say_comparison(comparison)
        pending = tempfile.TemporaryFile("w+", encoding="utf-8") if args.resubmit else None
        try:
            if not _compare(setup, obs_client, comparison, combined, out, summary, output, stopping, pending):
                return True
            if pending is not None and pending.tell():
                if args.via_task:
                    cut = len(setup.source.event_prefix)
                    via_task.extend(key[cut:] for key in _read_keys(pending))
                    summary.resubmitted = len(via_task)
                else:
                    _resubmit(args, setup, summary, output, stopping, pending)
        finally:
            if pending is not None:
                pending.close()

    status = base.run_counted(args, setup.settings, environ, out, logger, summary, work, describe=summary.describe,
                              exit_status=lambda: summary.exit_status)
    if not via_task:
        return status
    text = "cos2oms verify --resubmit: %d missing or differing object(s)" % len(via_task)
    task_status = migrate.run_new_task(args, setup, prog, environ, out, task_type=migration.LIST,
                                       list_keys=via_task, text=text)
    return task_status if task_status or not summary.errors else base.EXIT_FAILED


def _compare(setup, obs_client, comparison, combined, out, summary, output, stopping, pending):
    """The comparison, into ``summary`` and the reports; False when it was interrupted."""
    progress = base.Progress(output.progress("verify", "obj"))
    interrupted = False
    try:
        verify(setup, obs_client, out, summary, combined, comparison, pending, progress, stopping)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        interrupted = interrupted or stopping.is_set()
        if combined is not None:
            if interrupted:  # a partial report must not read as a whole one
                combined.write(combined_line(Result(ERROR, None, None, None, INTERRUPTED)))
            combined.close()
    if interrupted:
        logs.log(logger, logging.WARNING, "verify interrupted: the counts cover only what was compared, and "
                                          "nothing was resubmitted")
    return not interrupted


def _resubmit(args, setup, summary, output, stopping, pending):
    """``--resubmit``: send the keys found missing or differing (``pending``; not the differences the task keeps)
    to OMS, with markers."""
    bar = base.Progress(output.progress("resubmit", "key"), chunk=1)
    try:
        sent = bulk.send_keys(setup.submitter(), _read_keys(pending), args.workers, bar, stopping,
                              args.processes, setup.settings, output.child_logging())
    finally:
        bar.close()
    summary.resubmitted = sent.accepted
    summary.errors += sent.failed + sent.errors
