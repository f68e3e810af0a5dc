# -*- coding: utf-8 -*-
"""``python -m cos2oms status [--hours N] [--json]``: is the sync keeping up?

From the function's settings it asks OMS for the sync task (``GET .../sync-tasks/{id}?query_time=``: its
status, buckets and the month's counters) and for its statistics over the last ``--hours`` hours
(``GET .../sync-tasks/{id}/statistics?data_type=...&start_time=&end_time=``, in OMS's 5-minute or 1-hour
buckets, summed here per hour), and counts the failed markers in the log bucket (the objects OMS never
accepted) with the age of the oldest. A person gets a short table and, per hour, REQUEST / SUCCESS /
FAILURE as a plain-text bar chart, as wide as the terminal (80 columns when the output is not one);
``--json`` prints the same facts as one JSON object.

The API documents at most 1,000 points per series, and 168 hours of 5-minute buckets are 2,016: the window is
asked for in pieces of at most ``PIECE_HOURS`` hours (864 five-minute points), one request each. A series that
still holds the documented maximum may have been cut short: the hours it does not reach have no figures
(None), and the output says so.

Whether anything failed is read from the window's FAILURE figures. Where they do not cover the window (not
asked with ``--no-statistics``, not available, or cut short), the month's ``monthly_failure_object`` stands
in, and the output says that it did: it never says that nothing failed in hours nobody counted.

Exit status: 0 when the task is SYNCHRONIZING, OMS counted no FAILURE (in the window, or this month where the
window's figures are missing) and there is no failed marker; 1 when something needs attention, also when OMS
or COS could not be asked (a timeout, a connection error, 408, 429 or 5xx, an answer not of the documented
shape) or status itself failed unexpectedly; 2 on bad configuration: a setting is invalid, OMS refuses the key
(401/403), knows no such task (404) or rejects the query (any other 4xx, e.g. 400 ``OMS.0054``), or the log
bucket refuses the listing or does not exist. With ``--json`` every outcome is one JSON object.

Each OMS query (``oms_tasks.TaskClient``) is tried as every OMS request is (``retry``): connection errors, timeouts,
408, 429 and 5xx again, at most ``OMS_MAX_ATTEMPTS`` attempts, each bounded as a whole by ``OMS_TIMEOUT``;
after a refusal (401/403), or any query that still fails, nothing more is sent to OMS (failed signatures lock
the key for a while). The markers are listed by ``markers.MarkerStore``, each page tried as ``listings`` does.
Logging follows the other commands (``cli.Output``: ``LOG_LEVEL``, ``LOG_FORMAT``, ``-v``, ``--log-file``).
``cos2oms.status`` gathers and assesses, ``status_view`` renders the text.
"""
import json
import logging
import os
import shutil
import sys

from cos2oms import cli, logs, settings as settings_module
from cos2oms.commands import base
from cos2oms.commands.buckets import add_force_argument
from cos2oms.settings import ConfigError
from cos2oms.status import DEFAULT_HOURS, DEFAULT_MAX_LIST, MAX_HOURS, gather, logger
from cos2oms.status_view import DEFAULT_WIDTH, MIN_WIDTH, render

DESCRIPTION = "Show the sync task as OMS sees it (per hour) and the failed markers in the log bucket."


def add_arguments(parser):
    parser.add_argument("--hours", type=base.bounded_int(1, MAX_HOURS), default=DEFAULT_HOURS,
                        help="the window: this many clock hours up to now (default %d, at most %d)" % (
                            DEFAULT_HOURS, MAX_HOURS))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--count-success", action="store_true", help="also count the success markers")
    parser.add_argument("--max-list", type=base.bounded_int(1, 10 ** 9), default=DEFAULT_MAX_LIST,
                        help="list at most this many markers of each kind (default %d)" % DEFAULT_MAX_LIST)
    parser.add_argument("--no-statistics", action="store_true",
                        help="do not ask OMS for the per-hour statistics (regions without that API)")
    add_force_argument(parser)
    base.add_arguments(parser)


def output_width(out):
    """The terminal's columns when ``out`` is a terminal (at least ``MIN_WIDTH``), else ``DEFAULT_WIDTH``: a
    pipe or a file gets the same text whatever terminal it was started from."""
    if not cli.isatty(out):
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def _write(out, text):
    """Write ``text``; what the stream's encoding cannot carry (an ASCII locale) is written backslash-escaped."""
    encoding = getattr(out, "encoding", None)
    if encoding:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            text = text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            pass
    out.write(text)


def _unfinished(prog, why, as_json):
    """The report of a run that could not finish: exit 1, one JSON object with ``--json``."""
    report = {"attention": ["status could not finish: %s" % why], "next_steps": [], "exit_status": base.EXIT_ATTENTION}
    text = json.dumps(report, sort_keys=True) + "\n" if as_json else "%s: %s\n" % (prog, report["attention"][0])
    return report, text


def run(args, environ=None, out=None, prog="cos2oms status"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    out = out or sys.stdout
    environ = os.environ if environ is None else environ
    try:
        settings = settings_module.load_settings(environ=environ)
    except ConfigError as exc:
        code = base.config_error(prog, exc)
        if args.json:
            print(json.dumps({"attention": ["configuration error: %s" % exc], "next_steps": [],
                              "exit_status": code}, sort_keys=True), file=out)
        return code
    try:
        with cli.Output(args, settings, environ):
            report = gather(settings, hours=args.hours, statistics=not args.no_statistics, max_list=args.max_list,
                            count_success=args.count_success, environ=environ,
                            force=getattr(args, "force", False))
            logs.log(logger, logging.INFO, "status done", task=report["task_id"], exit_status=report["exit_status"],
                     attention=len(report["attention"]))
            text = json.dumps(report, sort_keys=True) + "\n" if args.json else render(report, width=output_width(out))
    except KeyboardInterrupt:
        report, text = _unfinished(prog, "interrupted", args.json)
    except Exception as exc:  # a bug, or something nothing above foresaw: still a clear message and exit 1
        cause = logs.problem(exc)
        logs.log(logger, logging.ERROR, "status failed", cause=cause)
        report, text = _unfinished(prog, "%s (a bug: please report it)" % cause, args.json)
    _write(out, text)
    return report["exit_status"]


def main(argv=None, environ=None, out=None, prog="cos2oms status"):
    return base.main(DESCRIPTION, add_arguments, run, argv, environ, out, prog)
