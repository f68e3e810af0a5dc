# -*- coding: utf-8 -*-
"""``python -m cos2oms backfill --since T [--until T] [--prefix P] [--dry-run]``: send OMS a time range.

A sync task cannot be told to sync a time range, and objects created while the function was not deployed
(or whose events never arrived) have no marker. ``backfill`` lists the source bucket and sends every object
last modified in the window to OMS, 10 keys a request with bounded workers, writing markers exactly as the
function does (success, or failed for ``replay``). The listing streams into the sending: memory does not
grow with the bucket.

The last line of output is ``{"listed": N, "in_window": N, "accepted": N, "failed": N, "errors": N}``; exit
status 0 when every key in the window was accepted (``--dry-run``: when the listing went through), 1
otherwise, 2 on bad configuration.
"""
import collections
import json
import logging
import os
import sys
import threading

from cos2oms import bulk, cli, listings, logs
from cos2oms import verify as common
from cos2oms.settings import ConfigError

DESCRIPTION = "Send OMS every source object last modified in a time window (with markers, as the function does)."
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

logger = logging.getLogger("cos2oms.backfill")


class Summary(object):
    FIELDS = ("listed", "in_window", "accepted", "failed", "errors")

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)

    def as_dict(self):
        return collections.OrderedDict((name, getattr(self, name)) for name in self.FIELDS)

    def describe(self, interrupted=False, dry_run=False):
        """The human summary shown on a terminal before the JSON line."""
        if dry_run:
            return "backfill (dry run): %d listed, %d in the window; nothing sent" % (self.listed, self.in_window)
        return "backfill%s: %d listed, %d in the window: %d accepted by OMS, %d refused (failed markers: run " \
               "replay), %d error(s)" % (" (interrupted)" if interrupted else "", self.listed, self.in_window,
                                        self.accepted, self.failed, self.errors)

    def exit_status(self, dry_run=False):
        complete = dry_run or self.accepted == self.in_window
        return EXIT_OK if complete and self.failed == 0 and self.errors == 0 else EXIT_FAILED


def in_window_keys(entries, window, event_prefix, summary, progress=None, stopping=None):
    """The event keys (``/{appid}/{BucketName}/{key}``) of the listed objects in ``window``, counting into
    ``summary``; a listing error is counted and logged, and ends the keys, as ``stopping`` does once set."""
    try:
        for entry in entries:
            if stopping is not None and stopping.is_set():
                return
            summary.listed += 1
            if progress is not None:
                progress.update()
            if entry.mtime in window:
                summary.in_window += 1
                yield event_prefix + entry.key
    except listings.ListingError as exc:
        summary.errors += 1
        logs.log(logger, logging.ERROR, "source listing failed", cause=exc.cause)


def add_arguments(parser):
    parser.add_argument("--since", type=common.parse_when, required=True, metavar="T",
                        help="send source objects last modified at or after T (ISO 8601, UTC without an offset; "
                             "or a time ago: 30m, 24h, 7d)")
    parser.add_argument("--until", type=common.parse_when, metavar="T",
                        help="and before T (default: no end)")
    parser.add_argument("--prefix", default="", help="only source keys under this prefix")
    parser.add_argument("--source-bucket", metavar="NAME-APPID",
                        help="the source COS bucket (default: SOURCE_BUCKET; region SOURCE_REGION, else COS_REGION)")
    parser.add_argument("--dry-run", action="store_true", help="list and count; send nothing, write no marker")
    cli.add_sending_arguments(parser, default_workers=common.DEFAULT_WORKERS)
    cli.add_arguments(parser)


def run(args, environ=None, out=sys.stdout, prog="cos2oms backfill"):
    """The command: returns its exit status."""
    environ = os.environ if environ is None else environ
    try:
        setup = common.Setup(args, environ, need_obs=False)
    except ConfigError as exc:
        return common.config_error(prog, exc)
    summary = Summary()
    stopping = threading.Event()
    interrupted = False
    with cli.Output(args, setup.settings, environ) as output, cli.stop_on_interrupt(stopping, logger):
        progress = common.Progress(output.progress("backfill", "obj"))
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
        except KeyboardInterrupt:
            interrupted = True
        finally:
            listed.close()
            progress.close()
        interrupted = interrupted or stopping.is_set()
        if interrupted:
            logs.log(logger, logging.WARNING, "backfill interrupted: keys not yet listed or sent were not sent")
        output.summary(summary.describe(interrupted, args.dry_run))
    print(json.dumps(summary.as_dict()), file=out)
    return EXIT_FAILED if interrupted else summary.exit_status(args.dry_run)
