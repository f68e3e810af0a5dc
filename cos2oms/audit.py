# -*- coding: utf-8 -*-
"""The audit: verify's comparison as a *pass* over the whole source bucket that may span many invocations,
repairing what it finds (README, "Audit").

* SCF timer trigger, in the same zip: handler ``audit.main_handler`` (``audit.py``).
* Command line: ``python -m cos2oms audit [--once]`` (``commands.audit``).

Each invocation reads the state (``audit_state``), starts a pass when the last one completed at least
``AUDIT_INTERVAL`` ago (else returns at once: one GET, nothing asked of OMS or OBS). An invocation that works
(starts or goes on with a pass) then asks OMS for the sync task once (ShowSyncTask) and takes from it the source
bucket and the destination not configured (``commands.buckets.Setup.resolve``: a configured value the task
contradicts is a ``ConfigError``, with no override), builds its OBS client, takes the lease, and judges the source
bucket page by page from the cursor: a source page (``PAGE`` keys after the cursor), the destination and the
markers between the cursor and the page's last key, merged as ``verify`` merges them (``verify_merge.merge``).
Objects last modified within ``AUDIT_GRACE`` before the pass started are not judged (``recent``). Keys missing
without a marker or with a success marker, and differing keys, are resubmitted as ``verify --resubmit`` does
(markers as the function writes them), at most ``AUDIT_MAX_RESUBMIT`` a pass (past it: counted in
``resubmit_capped``, not sent); keys with a failed marker are replay's. After every page the counts and the cursor
are saved. A page whose listing (or marker look-up) fails is not counted and the cursor does not pass it: the next
invocation tries it again; after ``MAX_FAILURES`` invocations in a row fail there, the pass ends with ``complete:
false``. The invocation stops while its reserve is left (``Deadline``: 20% of its time limit, at most 10 s),
before a page it has no time for.

When the pass ends, its report is written to ``.../audit/reports/{start}.json`` and logged as one line,
``audit pass done``, at ERROR when anything is missing, differs, errored or the pass is incomplete, else INFO.
"""
import logging
import sys
import threading
import time
import uuid

from cos2oms import audit_state, bulk, handler, listings, logs, obs
from cos2oms import context as scf_context, bucket_settings, verify
from cos2oms.audit_page import PageJudge, PassCounts
from cos2oms.audit_state import AuditError, LeaseLost
from cos2oms.commands.buckets import Setup
from cos2oms.comparison import Comparison
from cos2oms.deadline import Deadline
from cos2oms.report import describe
from cos2oms.settings import ConfigError
from cos2oms.verify_merge import MISSING

#: Source keys judged per page: the cursor is saved after each (tests make it small).
PAGE = listings.PAGE
#: Invocations in a row that may fail at the same cursor before the pass gives up there (``complete: false``).
MAX_FAILURES = 3
#: The wall clock (epoch seconds): the pass's start, the grace window, leases and cadence.
wall_clock = time.time
#: The invocation's clock (its time limit, and how long a page takes).
monotonic = time.monotonic

logger = logging.getLogger("cos2oms.audit")

# What an invocation did (``Outcome.outcome``).
NOT_DUE, BUSY, LEASE_LOST, OUT_OF_TIME, RETRY_LATER, PASS_DONE, STOPPED = (
    "not_due", "busy", "lease_lost", "out_of_time", "retry_later", "pass_done", "stopped")


class Auditor(object):
    """One invocation's work on the audit: ``run()`` returns an ``Outcome``.

    ``setup``: a ``commands.buckets.Setup``, deferred (``Setup(..., deferred=True)``: the log bucket only; ``run``
    resolves the source and destination when the invocation works); ``audit``: ``AuditSettings``; ``me``: the
    invocation's request id (the lease's holder); ``out``: where report lines go (the command), or None;
    ``stopping``: a ``threading.Event`` that ends the invocation between pages (Ctrl-C)."""

    def __init__(self, setup, audit, submitter, deadline, me, clock=None, workers=bulk.DEFAULT_WORKERS,
                 out=None, stopping=None, force=False):
        self.setup = setup
        self.audit = audit
        self.deadline = deadline
        self.me = me
        self.clock = clock or (lambda: wall_clock())
        self.workers = workers
        self.out = out
        self.stopping = stopping or threading.Event()
        self.force = force
        self.submitter = submitter
        self.marker_store = verify.marker_store(setup)
        self.states = audit_state.StateStore(self.marker_store, setup.settings.task_id, deadline)
        self.obs_client = self.judge = None  # a working invocation's (``_prepare``)
        self.page_seconds = 0.0  # the longest page of this invocation: no page is started without that much time
        self.pages = 0
        self.report = None
        self.report_name = None

    # ------------------------------------------------------------------------------------------ the invocation

    def run(self):
        now = self.clock()
        state = self.states.read()
        action = audit_state.decide(state, self.me, now, self.audit.interval, self.force)
        if action == "not_due":
            return self._outcome(NOT_DUE, state, next_due=audit_state.iso(audit_state.next_due(state,
                                                                                           self.audit.interval)))
        if action == "busy":
            return self._outcome(BUSY, state, holder=audit_state.holder(state))
        try:
            self._prepare()
            buckets = self._buckets()
            if action == "continue" and audit_state.pinned(state["pass"], buckets) is False:
                logs.log(logger, logging.WARNING, "audit pass started over: its source bucket, destination or "
                                                  "OBS_PREFIX changed", was=state["pass"].get("buckets"),
                         now=buckets)
                action = "start"
            if action == "start":
                state["pass"] = audit_state.new_pass(now, PassCounts().as_dict())
            state["pass"]["buckets"] = buckets
            state["pass"]["invocations"] += 1
            taken = self.states.take(state, self.me, self._lease_until())  # no conditional PUT to rely on
            if taken is None or not taken.get("pass"):
                return self._outcome(BUSY, state, holder=audit_state.holder(self.states.read()))
            state = taken
            try:
                return self._work(state)
            except LeaseLost:
                logs.log(logger, logging.WARNING, "audit lease lost: another invocation holds it; stopping unsaved",
                         request_id=self.me)
                return self._outcome(LEASE_LOST, state)
        finally:
            if self.obs_client is not None:
                self.obs_client.close()

    def _prepare(self):
        """What only a working invocation needs, before it takes the lease: the source bucket and the destination
        (ShowSyncTask asked once, within the deadline; ``ConfigError`` when a configured value contradicts the
        task, or when neither says), the OBS client (``AuditError`` without the SDK) and the listers."""
        setup = self.setup
        setup.resolve(deadline=self.deadline, override=None)  # no override: the audit repairs through the task
        self.obs_client = obs_client_or_refuse(setup)
        # verify's comparison, chosen from the sync task as verify chooses it (OMS's defaults when not read)
        self.judge = PageJudge(setup, self.marker_store, obs.ObsLister(self.obs_client, setup.obs.bucket),
                               setup.source_lister(), Comparison.for_task(setup.task), self._found, PAGE)

    def _buckets(self):
        """What a pass compares, kept in its state: a pass never mixes two sources or destinations."""
        return {"source": self.setup.source.bucket, "destination": self.setup.obs.bucket,
                "prefix": self.setup.obs.prefix}

    def _work(self, state):
        current = state["pass"]
        while True:
            if self.stopping.is_set():
                self._save(audit_state.release(state))
                return self._outcome(STOPPED, state)
            if current["pending"]:  # a page's resubmissions that an invocation had no time to send
                self._send_pending(current)
                if current["pending"]:
                    return self._out_of_time(state)
                self._save(state)
            if current["listed"]:
                return self._finish(state, complete=True)
            if not self._time_for_a_page():
                return self._out_of_time(state)
            started = self.deadline.elapsed()
            page = self.judge.judge(current["cursor"], current["started"] - self.audit.grace)
            if page.failure is not None:
                current["failures"] += 1
                current["last_failure"] = page.failure
                logs.log(logger, logging.ERROR, "audit page failed", cursor=current["cursor"], cause=page.failure,
                         failures=current["failures"], gives_up_after=MAX_FAILURES)
                if current["failures"] >= MAX_FAILURES:
                    return self._finish(state, complete=False)
                self._save(audit_state.release(state))
                return self._outcome(RETRY_LATER, state)
            self._admit(page, current)
            counts = PassCounts.from_dict(current["counts"])
            counts.add(page.counts)
            current["counts"] = counts.as_dict()
            current["failures"], current["last_failure"] = 0, None
            current["pages"] += 1
            current["listed"] = not page.goes_on
            self.pages += 1
            if page.last_key is not None:
                current["cursor"] = page.last_key
            if current["pending"]:
                self._save(state)  # the page is judged: what it resubmits is sent from the state, once
                self._send_pending(current)
            self.page_seconds = max(self.page_seconds, self.deadline.elapsed() - started)
            if not current["listed"] or current["pending"]:
                self._save(state)

    def _out_of_time(self, state):
        self._save(audit_state.release(state))
        logs.log(logger, logging.INFO, "audit stopping: out of time; the pass goes on at the next invocation",
                 cursor=state["pass"]["cursor"], pages=self.pages, pending=len(state["pass"]["pending"]))
        return self._outcome(OUT_OF_TIME, state)

    def _time_for_a_page(self):
        if not self.deadline.bounded:
            return True
        return self.deadline.remaining_for_requests() > self.page_seconds

    def _lease_until(self):
        return audit_state.lease_until(self.clock(), self.deadline.remaining())

    def _save(self, state):
        """Save ``state`` if this invocation still holds the lease (read again first); else ``LeaseLost``."""
        self.states.save(state, self.me, self._lease_until())

    # ------------------------------------------------------------------------------------------ findings

    def _found(self, result):
        line = describe(result)
        if self.out is not None:
            print(line, file=self.out)
        logs.log(logger, logging.WARNING, "audit finding", key=result.key,
                 finding="missing" if result.symbol == MISSING else "differ",
                 cause=result.why if result.symbol == MISSING else "differ", why=line)

    def _admit(self, page, current):
        """The page's keys to resubmit, within the pass's cap, into the state's ``pending``; those past the
        cap into ``page.counts.resubmit_capped``."""
        room = max(0, self.audit.max_resubmit - current["sent"])
        keys, capped = page.resubmit[:room], page.resubmit[room:]
        if capped:
            if not PassCounts.from_dict(current["counts"]).resubmit_capped:
                logs.log(logger, logging.WARNING, "audit resubmission capped: AUDIT_MAX_RESUBMIT reached; the pass "
                                                  "goes on counting and resubmits nothing more",
                         max_resubmit=self.audit.max_resubmit)
            page.counts.resubmit_capped += len(capped)
        current["sent"] += len(keys)
        current["pending"] = current["pending"] + keys

    def _send_pending(self, current):
        """Send the pending keys to OMS, markers written as the function writes them; those the invocation had
        no time (or leave) to send stay pending, with no marker."""
        counts = PassCounts.from_dict(current["counts"])
        unsent = []
        engine = bulk.Engine(self.submitter, self.workers, write_failed=True, stopping=self.stopping,
                             mark_unsent=False)
        for outcome in engine.run(list(current["pending"])):
            if not outcome.sent:
                unsent.extend(outcome.keys)
            elif outcome.result.accepted:
                counts.resubmitted += len(outcome.keys)
                counts.errors += len(outcome.unwritten)
            else:  # refused: failed markers written, as the function writes them (replay's now)
                counts.errors += len(outcome.keys) + len(outcome.unwritten)
        current["pending"] = sorted(unsent)
        current["counts"] = counts.as_dict()

    # ------------------------------------------------------------------------------------------ the end

    def _finish(self, state, complete):
        current = state["pass"]
        counts = PassCounts.from_dict(current["counts"])
        if not complete:
            counts.errors += 1  # the page given up on: never all-clear
        finished = self.clock()
        report = counts.as_dict()
        report.update(complete=complete, started=audit_state.iso(current["started"]),
                      finished=audit_state.iso(finished), invocations=current["invocations"], pages=current["pages"],
                      started_epoch=current["started"], finished_epoch=finished,
                      max_resubmit=self.audit.max_resubmit, grace_seconds=self.audit.grace)
        if not complete:
            report.update(gave_up_at=current["cursor"], failure=current["last_failure"])
        if audit_state.holder(self.states.read()) != self.me:
            raise LeaseLost()  # the report is written by the holder alone
        self.report_name = self.states.write_report(report, current["started"])
        report["report"] = self.report_name
        self.report = report
        audit_state.release(state)
        state["last"], state["pass"] = report, None
        self.states.save(state, self.me)
        level = logging.INFO if complete and counts.all_clear else logging.ERROR
        logs.log(logger, level, "audit pass done", **_log_fields(report))
        return self._outcome(PASS_DONE, state)

    def _outcome(self, outcome, state, **more):
        current = state.get("pass") or {}
        result = {"outcome": outcome, "pages": self.pages, "cursor": current.get("cursor")}
        result.update(more)
        if self.report is not None:
            result.update(report=self.report_name, complete=self.report["complete"],
                          started=self.report["started"], counts=PassCounts.from_dict(self.report).as_dict())
        elif current:
            result.update(started=audit_state.iso(current.get("started")),
                          counts=PassCounts.from_dict(current.get("counts")).as_dict())
        return result


def _log_fields(report):
    return dict((name, value) for name, value in report.items() if not name.endswith("_epoch"))


# ---------------------------------------------------------------------------------------------- the function

class ObsSdkMissing(AuditError):
    """The OBS SDK is not installed on this runtime (a configuration error: the command's exit status 2)."""


def obs_client_or_refuse(setup):
    """The OBS client of a resolved ``setup``; ``ObsSdkMissing`` naming the runtime when the OBS SDK is not
    there."""
    try:
        return obs.build_obs_client(setup.obs)
    except ImportError:
        raise ObsSdkMissing("the OBS SDK (esdk-obs-python) is not installed on this runtime (Python %d.%d): the audit "
                         "lists the destination with it; deploy the audit from a zip that carries it"
                         % sys.version_info[:2]) from None


def holder_id(request_id="-"):
    """The lease's holder: the request id, or a fresh id where there is none (a script, the command line)."""
    return request_id if request_id not in (None, "", "-") else "run-%s" % uuid.uuid4().hex


class _Args(object):
    source_bucket = None
    prefix = ""


def main_handler(event, context):
    """SCF timer trigger: go on with the audit's pass (or start one when due) until done or out of time.

    Returns the invocation's outcome (see ``Auditor._outcome``): ``{"outcome": ..., "pages": N, "cursor": KEY,
    ...}``, with the pass's ``started`` and ``counts`` (and, when it ended, ``report``, ``complete``). Logs
    ``audit invocation done`` (INFO), and ``audit pass done`` when a pass ends (ERROR or INFO)."""
    clock = monotonic
    deadline = Deadline.from_context(context, clock=clock, started=clock())
    request_id = scf_context.request_id(context)
    logs.bind(request_id)
    setup = Setup(_Args(), context=context, deferred=True)  # buckets resolved when the firing works: else one GET
    logs.configure(setup.settings.log_level, setup.settings.log_format)
    audit = bucket_settings.load_audit(setup.environ)
    submitter = handler.build_submitter(setup.settings, deadline, request_id)
    try:
        outcome = Auditor(setup, audit, submitter, deadline, holder_id(request_id)).run()
    except ConfigError as exc:
        logs.log(logger, logging.ERROR, "audit configuration error: the pass does not go on",
                 variable=exc.variable, problem=str(exc))
        raise
    logs.log(logger, logging.INFO, "audit invocation done", outcome=outcome["outcome"], pages=outcome["pages"],
             cursor=outcome.get("cursor"))
    return outcome
