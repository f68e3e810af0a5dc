# -*- coding: utf-8 -*-
"""``python -m cos2oms audit [--once] [--force]`` and ``python audit.py``: the scheduled audit from a shell
(``cos2oms.audit``: the pass, also the timer function's).

Without ``--once`` it keeps running, as the timer would: it goes on with the pass in progress (or starts one
when due), and between passes waits until the next is due (``AUDIT_INTERVAL`` after the last one completed).
With ``--once`` it goes on with the pass in progress, or starts one when due, to its end, then exits; a pass
that is not due is said and is exit 0. ``--force`` starts a new pass even when the last one completed less
than ``AUDIT_INTERVAL`` ago (it does not override a sync task that contradicts the configured buckets: nothing
does, see ``audit``). The report lines are verify's (missing and differing keys); the last line is the
JSON of the last invocation: ``outcome``, ``complete``, ``started``, ``report`` and the pass's counts.

Exit status: 0 when the pass ended complete with nothing missing, differing or errored (or was not due); 1
otherwise (something found, a listing that failed, the lease held by another run, Ctrl-C); 2 on bad
configuration or a missing OBS SDK.
"""
import collections
import logging
import os
import sys

from cos2oms import audit as audit_module, audit_state, bulk, handler, bucket_settings, logs
from cos2oms.audit import PASS_DONE, NOT_DUE, RETRY_LATER, AuditError, Auditor, ObsSdkMissing, PassCounts, logger
from cos2oms.commands import base
from cos2oms.commands.buckets import Setup
from cos2oms.deadline import Deadline
from cos2oms.settings import ConfigError

DESCRIPTION = "Audit the source bucket against the destination in resumable passes, resubmitting what is missing."
#: Seconds between tries while another run holds the lease, or after a page failed (without --once).
RETRY_SECONDS = 60.0


def add_arguments(parser):
    parser.add_argument("--once", action="store_true",
                        help="finish the pass in progress (or start one when due), then exit")
    parser.add_argument("--force", action="store_true",
                        help="start a new pass now even if the last one completed less than AUDIT_INTERVAL ago")
    parser.add_argument("--workers", type=base.workers_count, default=bulk.DEFAULT_WORKERS,
                        help="concurrent OMS requests for resubmissions, 1 to %d (default %d)" % (
                            base.MAX_WORKERS, bulk.DEFAULT_WORKERS))
    base.add_arguments(parser)


class CommandSummary(object):
    """The JSON last line: the last invocation's outcome and its pass's counts."""

    def __init__(self):
        self.outcome = None

    def as_dict(self):
        outcome = self.outcome or {}
        shown = collections.OrderedDict((name, outcome.get(name)) for name in ("outcome", "complete", "started",
                                                                               "report", "cursor"))
        shown.update(PassCounts.from_dict(outcome.get("counts")).as_dict())
        return shown

    def all_clear(self):
        outcome = self.outcome or {}
        if outcome.get("outcome") == NOT_DUE:
            return True
        return outcome.get("outcome") == PASS_DONE and outcome.get("complete") is True \
            and PassCounts.from_dict(outcome.get("counts")).all_clear

    def describe(self, interrupted=False):
        outcome = self.outcome or {}
        what = outcome.get("outcome")
        if interrupted:
            return "audit interrupted: the pass goes on from its cursor at the next run"
        if what == NOT_DUE:
            return "audit: no pass due before %s (AUDIT_INTERVAL; --force starts one now)" % outcome.get("next_due")
        if what == "busy":
            return "audit: another run holds the lease (%s); try again later" % outcome.get("holder")
        counts = PassCounts.from_dict(outcome.get("counts"))
        text = "audit%s: %d object(s) judged: %d matched, %d missing (%d no marker, %d accepted by OMS, %d failed), " \
               "%d differ, %d recent (not judged), %d resubmitted, %d capped, %d error(s)" % (
                   "" if what == PASS_DONE and outcome.get("complete") else " (pass not complete)", counts.source,
                   counts.matched, counts.missing, counts.missing_unmarked, counts.missing_accepted,
                   counts.missing_failed, counts.differ, counts.recent, counts.resubmitted, counts.resubmit_capped,
                   counts.errors)
        if outcome.get("report"):
            text += "; report %s" % outcome["report"]
        return text


def run(args, environ=None, out=None, prog="cos2oms audit"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    environ = os.environ if environ is None else environ
    out = out or sys.stdout
    try:
        setup = Setup(args, environ, deferred=True)  # as the timer function: the buckets when a run works
        audit = bucket_settings.load_audit(environ)
    except ConfigError as exc:
        return base.config_error(prog, exc)
    summary = CommandSummary()
    me = audit_module.holder_id()

    def work(output, stopping):
        deadline = Deadline(None)
        submitter = handler.build_submitter(setup.settings, deadline, me)
        force = args.force
        while not stopping.is_set():
            auditor = Auditor(setup, audit, submitter, deadline, me, workers=args.workers, out=out,
                              stopping=stopping, force=force)
            summary.outcome = outcome = auditor.run()
            force = False
            what = outcome["outcome"]
            if what == RETRY_LATER and args.once:
                continue  # the next try counts towards giving up (audit.MAX_FAILURES)
            if args.once:
                return None
            wait = RETRY_SECONDS if what not in (PASS_DONE, NOT_DUE) else max(
                1.0, audit_state.next_due(auditor.states.read(), audit.interval) - audit_module.wall_clock())
            logs.log(logger, logging.INFO, "audit waiting", seconds=round(wait), outcome=what)
            stopping.wait(wait)
        return True

    try:
        return base.run_counted(args, setup.settings, environ, out, logger, summary, work,
                                describe=summary.describe,
                                exit_status=lambda: base.EXIT_OK if summary.all_clear() else base.EXIT_FAILED)
    except ConfigError as exc:  # the buckets, resolved when a pass was to start or go on
        return base.config_error(prog, exc)
    except AuditError as exc:
        print("%s: %s" % (prog, exc), file=sys.stderr)
        return base.EXIT_CONFIG if isinstance(exc, ObsSdkMissing) else base.EXIT_FAILED


def main(argv=None, environ=None, out=None, prog="audit.py"):
    """``python audit.py [--once] [--force]``."""
    return base.main(DESCRIPTION, add_arguments, run, argv, environ, out, prog)

