# -*- coding: utf-8 -*-
"""``python -m cos2oms backfill --since T [--until T] [--prefix P] [--dry-run]`` (``cos2oms.backfill``: what it
counts and sends)."""
import logging
import os

from cos2oms import bulk, listings, logs
from cos2oms.backfill import Summary, in_window_keys, logger
from cos2oms.commands import base
from cos2oms.commands.buckets import Setup, add_force_argument, parse_when
from cos2oms.settings import ConfigError

DESCRIPTION = "Send OMS every source object last modified in a time window (with markers, as the function does)."


def add_arguments(parser):
    parser.add_argument("--since", type=parse_when, required=True, metavar="T",
                        help="send source objects last modified at or after T (ISO 8601, UTC without an offset; "
                             "or a time ago: 30m, 24h, 7d)")
    parser.add_argument("--until", type=parse_when, metavar="T",
                        help="and before T (default: no end)")
    parser.add_argument("--prefix", default="", help="only source keys under this prefix")
    parser.add_argument("--source-bucket", metavar="NAME-APPID",
                        help="the source COS bucket (default: SOURCE_BUCKET; region SOURCE_REGION, else COS_REGION)")
    parser.add_argument("--dry-run", action="store_true", help="list and count; send nothing, write no marker")
    base.add_sending_arguments(parser, default_workers=bulk.DEFAULT_WORKERS)
    add_force_argument(parser)
    base.add_arguments(parser)


def run(args, environ=None, out=None, prog="cos2oms backfill"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    try:
        setup = Setup(args, environ, need_obs=False)
    except ConfigError as exc:
        return base.config_error(prog, exc)
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

    def interrupted():
        logs.log(logger, logging.WARNING, "backfill interrupted: keys not yet listed or sent were not sent")

    return base.run_counted(args, setup.settings, environ, out, logger, summary, work,
                            describe=lambda stopped: summary.describe(stopped, args.dry_run),
                            exit_status=lambda: summary.exit_status(args.dry_run), on_interrupt=interrupted)
