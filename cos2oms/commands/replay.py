# -*- coding: utf-8 -*-
"""``python -m cos2oms replay`` and ``python replay.py``: drain failure markers (``cos2oms.replay``: the run)."""
import logging
import os

from cos2oms import logs, settings as settings_module
from cos2oms.commands import base
from cos2oms.deadline import Deadline
from cos2oms.replay import DEFAULT_WORKERS, DESCRIPTION, Summary, logger, replay
from cos2oms.settings import ConfigError


def add_arguments(parser):
    parser.add_argument("--dry-run", action="store_true", help="list and count failed markers; change nothing")
    parser.add_argument("--limit", type=base.positive_int, default=None,
                        help="stop after listing this many failed markers")
    base.add_sending_arguments(parser, default_workers=DEFAULT_WORKERS)
    base.add_arguments(parser)


def run(args, environ=None, out=None, prog="cos2oms replay"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    try:
        settings = settings_module.load_settings(environ=environ)
    except ConfigError as exc:
        return base.config_error(prog, exc)
    summary = Summary()

    def work(output, stopping):
        replay(settings, Deadline(None), workers=args.workers, dry_run=args.dry_run, limit=args.limit,
               progress=output.progress("replay"), summary=summary, stopping=stopping,
               processes=args.processes, logging_config=output.child_logging())

    def interrupted():  # markers not yet listed may still be failed: never report "nothing left"
        logs.log(logger, logging.WARNING, "replay interrupted: keys not yet replayed keep their failed markers")
        summary.add(still_failed=summary.uncounted())

    return base.run_counted(args, settings, environ, out, logger, summary, work,
                            describe=lambda stopped: summary.describe(stopped, args.dry_run),
                            exit_status=lambda: summary.exit_status, on_interrupt=interrupted)


def main(argv=None, environ=None, out=None, prog="replay.py"):
    """``python replay.py [--dry-run] [--limit N] [--workers N]``."""
    return base.main(DESCRIPTION, add_arguments, run, argv, environ, out, prog)
