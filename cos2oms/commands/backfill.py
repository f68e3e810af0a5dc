# -*- coding: utf-8 -*-
"""``python -m cos2oms backfill --since T [--until T] [--prefix P] [--dry-run] [--via-task]``
(``cos2oms.backfill``: what it counts and sends; ``commands.migrate``: ``--via-task``, one OMS migration task)."""
import logging
import os
import time

from cos2oms import bulk, listings, logs, migration
from cos2oms.backfill import Summary, in_window_keys, logger
from cos2oms.commands import base, migrate
from cos2oms.commands.buckets import Setup, add_force_argument, parse_when
from cos2oms.settings import ConfigError

#: A window holding more objects than this ends with a line suggesting ``--via-task``.
SUGGEST_TASK_ABOVE = 100000
DESCRIPTION = "Send OMS every source object last modified in a time window (with markers, as the function does)."


def add_arguments(parser):
    parser.add_argument("--since", type=parse_when, required=True, metavar="T",
                        help="send source objects last modified at or after T (ISO 8601, UTC without an offset; "
                             "or a time ago: 30m, 24h, 7d)")
    parser.add_argument("--until", type=parse_when, metavar="T",
                        help="and before T (default: no end)")
    parser.add_argument("--prefix", action="append", metavar="P",
                        help="only source keys under this prefix (with --via-task: repeat it for several prefixes)")
    parser.add_argument("--source-bucket", metavar="NAME-APPID",
                        help="the source COS bucket (default: SOURCE_BUCKET; region SOURCE_REGION, else COS_REGION)")
    parser.add_argument("--dry-run", action="store_true", help="list and count; send nothing, write no marker "
                                                               "(with --via-task: print the request bodies)")
    parser.add_argument("--via-task", action="store_true",
                        help="let OMS copy the window itself: one migration task (prefix, migrate_since = --since), "
                             "followed until it ends; no listing here, no markers")
    migrate.add_following_arguments(parser)
    base.add_sending_arguments(parser, default_workers=bulk.DEFAULT_WORKERS)
    add_force_argument(parser)
    base.add_arguments(parser)


def run(args, environ=None, out=None, prog="cos2oms backfill"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    prefixes = args.prefix or []
    args.prefix = prefixes[0] if prefixes else ""
    try:
        if len(prefixes) > 1 and not args.via_task:
            raise ConfigError("--prefix", "can be given once only, unless with --via-task")
        setup = Setup(args, environ, need_obs=args.via_task)
    except ConfigError as exc:
        return base.config_error(prog, exc)
    if args.via_task:
        return _via_task(args, setup, prefixes, environ, out, prog)
    summary = Summary()

    def work(output, stopping):
        progress = base.Progress(output.progress("backfill", "obj"))
        listed = listings.Prefetch(setup.source_pages(), name="source")
        try:
            keys = in_window_keys(listed, setup.window, setup.source.event_prefix, summary, progress, stopping)
            if args.dry_run:
                for _ in keys:
                    pass
            else:
                sent = bulk.send_keys(setup.submitter(), keys, args.workers, stopping=stopping,
                                      processes=args.processes, settings=setup.settings,
                                      logging_config=output.child_logging())
                summary.accepted, summary.failed = sent.accepted, sent.failed
                summary.errors += sent.errors
        finally:
            listed.close()
            progress.close()
        if summary.in_window > SUGGEST_TASK_ABOVE:
            migrate.say("%d objects in the window: for a window this big, --via-task lets OMS copy them with its "
                        "own workers (one migration task) instead of this machine" % summary.in_window)

    def interrupted():
        logs.log(logger, logging.WARNING, "backfill interrupted: keys not yet listed or sent were not sent")

    return base.run_counted(args, setup.settings, environ, out, logger, summary, work,
                            describe=lambda stopped: summary.describe(stopped, args.dry_run),
                            exit_status=lambda: summary.exit_status(args.dry_run), on_interrupt=interrupted)


def _via_task(args, setup, prefixes, environ, out, prog):
    """One ``prefix`` migration task: the prefixes (the whole bucket: ``[""]``), ``migrate_since`` = the
    window's start in seconds. OMS cannot bound the end: said when ``--until`` is given."""
    if setup.window.until is not None:
        migrate.say("%s: note: OMS cannot bound a migration task's end: objects modified after --until are "
                    "included too" % prog)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(setup.window.since))
    text = "cos2oms backfill since %s%s" % (since, " prefixes %s" % " ".join(prefixes) if prefixes else "")
    return migrate.run_new_task(args, setup, prog, environ, out, task_type=migration.PREFIX,
                                object_key=prefixes or [""], text=text, migrate_since=int(setup.window.since))
