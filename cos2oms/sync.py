# -*- coding: utf-8 -*-
"""Submitting keys to OMS and recording each key's outcome: shared by the function and ``replay.py``.

Every key ends in one of two visible states: accepted by OMS (a success marker), or not (a failed marker,
and an error line naming it). A key's outcome is logged before its marker is written, so even a marker
that cannot be written leaves the key in the log.
"""
import logging

from cos2oms import cos_event, logs, markers as marker_names, oms
from cos2oms.batching import batched

logger = logging.getLogger("cos2oms.sync")

AUTH_BLOCKED = "not sent: OMS refused the credentials earlier in this run (401/403); fix HW_AK/HW_SK"


class Report(object):
    """Counts for one invocation."""

    def __init__(self):
        self.accepted = 0
        self.failed = 0
        self.skipped = 0
        self.malformed = 0
        self.marker_errors = 0
        self.unrecorded = 0  # keys neither accepted by OMS nor given a failed marker: the invocation must raise
        self.requests = 0  # OMS requests sent, retries included

    @property
    def ok(self):
        """True when every created object was accepted (also when there was nothing to send)."""
        return self.failed == 0 and self.malformed == 0

    @property
    def lost(self):
        """True when a key ended with neither OMS's acceptance nor a stored failed marker."""
        return self.unrecorded > 0

    def __repr__(self):
        return ("Report(accepted=%d, failed=%d, skipped=%d, malformed=%d, marker_errors=%d, unrecorded=%d, "
                "requests=%d)" % (self.accepted, self.failed, self.skipped, self.malformed, self.marker_errors,
                                  self.unrecorded, self.requests))


def keys_to_send(records, log_bucket_name, report, request_id="-"):
    """The event keys of the created objects, in event order; logs and counts the others."""
    keys = []
    for record in records:
        problem = record.problem
        if problem:
            report.malformed += 1
            logs.log(logger, logging.ERROR, "record skipped: malformed", record=record.position, problem=problem,
                     key=record.key, request_id=request_id)
        elif not record.is_created:
            report.skipped += 1
            logs.log(logger, logging.INFO, "record skipped: not a creation", key=record.key,
                     event=record.event_name, request_id=request_id)
        elif record.is_marker_of(log_bucket_name, marker_names.MARKER_ROOT):
            report.skipped += 1
            logs.log(logger, logging.INFO, "record skipped: one of our own markers", key=record.key,
                     request_id=request_id)
        else:
            keys.append(record.key)
    return keys


class Submitter(object):
    """Sends keys to OMS in batches and writes their markers.

    After a 401/403 nothing more is sent in this run: the remaining keys get failed markers.
    """

    def __init__(self, oms_client, markers, deadline, request_id="-"):
        self.oms = oms_client
        self.markers = markers
        self.deadline = deadline
        self.request_id = request_id
        self.auth_refused = False

    def send(self, keys):
        """One OMS request for at most ``oms.MAX_KEYS_PER_REQUEST`` keys; returns its ``OmsResult``."""
        if self.auth_refused:
            return oms.OmsResult.not_sent(AUTH_BLOCKED)
        try:
            result = self.oms.submit(keys, self.deadline, self.request_id)
        except Exception as exc:  # never lose keys to an unexpected error: they get failed markers
            logs.log(logger, logging.ERROR, "oms request raised", exc=exc, task=self.markers.task_id, keys=len(keys),
                     request_id=self.request_id)
            result = oms.OmsResult(False, reason="unexpected %s: %s" % (type(exc).__name__, exc))
        self.auth_refused = self.auth_refused or result.auth_refused
        level = logging.INFO if result.accepted else logging.ERROR
        logs.log(logger, level, "oms request accepted" if result.accepted else "oms request failed",
                 task=self.markers.task_id, keys=len(keys), **dict(result.fields(), request_id=self.request_id))
        return result

    def log_outcome(self, key, result):
        level = logging.INFO if result.accepted else logging.ERROR
        logs.log(logger, level, "object accepted" if result.accepted else "object failed", key=key,
                 task=self.markers.task_id, **dict(result.fields(), request_id=self.request_id))

    def record(self, keys, result, write_failed=True, pool=None):
        """Log each key's outcome, then write its marker (a key whose marker the invocation has no time left
        to write is still in the log): a success marker when OMS accepted, else a failed marker (unless
        ``write_failed`` is off: replay's keys have one already). ``pool``: an executor to write the markers
        concurrently. Returns {key: cause} for the markers not written."""
        for key in keys:
            self.log_outcome(key, result)
        if not (result.accepted or write_failed):
            return {}
        kind = marker_names.SUCCESS if result.accepted else marker_names.FAILED

        def write(key):
            return self.markers.write(kind, key, self.deadline)

        causes = pool.map(write, keys) if pool is not None and len(keys) > 1 else map(write, keys)
        return dict((key, cause) for key, cause in zip(keys, causes) if cause is not None)

    def run(self, keys, report):
        """Send every key and record every outcome, counting into ``report``."""
        for batch in batched(keys, oms.MAX_KEYS_PER_REQUEST):
            result = self.send(batch)
            report.requests += result.attempts
            not_written = len(self.record(batch, result))
            report.marker_errors += not_written
            if result.accepted:
                report.accepted += len(batch)
            else:
                report.failed += len(batch)
                report.unrecorded += not_written
        return report


def sync_event(event, log_bucket_name, submitter, request_id="-"):
    """Migrate every created object of a COS event. ``ValueError`` when the event is not one."""
    report = Report()
    keys = keys_to_send(cos_event.records(event), log_bucket_name, report, request_id)
    return submitter.run(keys, report)
