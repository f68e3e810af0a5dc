# -*- coding: utf-8 -*-
"""``python -m cos2oms replay`` and ``python replay.py``: drain failure markers (``cos2oms.replay``: the run)."""
import argparse
import json
import logging
import os
import sys
import threading

from cos2oms import cli, logs, settings as settings_module
from cos2oms.commands import base
from cos2oms.commands.base import EXIT_CONFIG, EXIT_FAILED
from cos2oms.deadline import Deadline
from cos2oms.replay import DEFAULT_WORKERS, DESCRIPTION, Summary, logger, replay
from cos2oms.settings import ConfigError


def add_arguments(parser):
    parser.add_argument("--dry-run", action="store_true", help="list and count failed markers; change nothing")
    parser.add_argument("--limit", type=base.positive_int, default=None,
                        help="stop after listing this many failed markers")
    base.add_sending_arguments(parser, default_workers=DEFAULT_WORKERS)
    base.add_arguments(parser)


def run(args, environ=None, out=sys.stdout, prog="cos2oms replay"):
    """The command: returns its exit status."""
    environ = os.environ if environ is None else environ
    try:
        settings = settings_module.load_settings(environ=environ)
    except ConfigError as exc:
        print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
        return EXIT_CONFIG
    summary = Summary()
    stopping = threading.Event()
    interrupted = False
    with cli.Output(args, settings, environ) as output, cli.stop_on_interrupt(stopping, logger):
        try:
            replay(settings, Deadline(None), workers=args.workers, dry_run=args.dry_run, limit=args.limit,
                   progress=output.progress("replay"), summary=summary, stopping=stopping,
                   processes=args.processes, logging_config=output.child_logging())
        except KeyboardInterrupt:
            interrupted = True
        interrupted = interrupted or stopping.is_set()
        if interrupted:  # markers not yet listed may still be failed: never report "nothing left"
            logs.log(logger, logging.WARNING, "replay interrupted: keys not yet replayed keep their failed markers")
            summary.add(still_failed=summary.uncounted())
        output.summary(summary.describe(interrupted, args.dry_run))
    print(json.dumps(summary.as_dict()), file=out)
    return EXIT_FAILED if interrupted else summary.exit_status


def main(argv=None, environ=None, out=sys.stdout, prog="replay.py"):
    """``python replay.py [--dry-run] [--limit N] [--workers N]``."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv), environ, out, prog)
