# -*- coding: utf-8 -*-
"""Drain failure markers: resubmit the keys OMS never accepted.

As a command: ``python replay.py [--dry-run] [--limit N] [--workers N]`` (same environment variables as the
function). As an SCF timer function: ``replay.main_handler(event, context)`` in the same zip.

It lists ``oms_source_record/{task_id}/failed_object/`` page by page (1,000 keys a page), then the long-key
markers (``failed_object_long/``, whose bodies hold their event keys), resubmits the event keys in OMS
requests of at most 10 keys (the function's signing, encoding and retry rules; ``bulk``), writes a success
marker for each accepted key and only then removes its failed marker (deletes in chunks as batches
complete). Keys OMS still refuses keep their failed marker. Every key has at least one marker at every
moment, so stopping at any point (Ctrl-C, the timer's time limit) loses nothing. In timer mode OMS requests
stop while the invocation still has its reserve, for the success markers and deletes of what was replayed.
A listing that fails is an error: the run never reports "nothing left" about markers it could not see.

The last line of output is ``{"listed": N, "replayed": N, "still_failed": N, "errors": N}``; the exit status
is 0 when nothing listed is left failed, 1 otherwise, 2 on bad configuration.
"""
import logging
import threading
import time

from cos2oms import bulk, cli, handler, logs, markers as marker_names, settings as settings_module
from cos2oms import context as scf_context
from cos2oms.batching import batched
from cos2oms.commands.base import EXIT_FAILED, EXIT_OK, Counts
from cos2oms.deadline import Deadline

DESCRIPTION = "Resubmit to OMS the keys that have a failed marker in the log bucket."
DEFAULT_WORKERS = bulk.DEFAULT_WORKERS
#: Failed markers are deleted in chunks of this many as batches complete (and the rest at the end).
DELETE_CHUNK = 100

logger = logging.getLogger("cos2oms.replay")


class Summary(Counts):
    """What one run did. Every listed key is counted once: replayed, still failed, or an error."""

    FIELDS = ("listed", "replayed", "still_failed", "errors")

    def __init__(self):
        Counts.__init__(self)
        self.key_errors = 0  # the part of ``errors`` that is about one listed key
        self.credentials_refused = False  # OMS answered 401/403: nothing more was sent
        self._lock = threading.Lock()

    def add(self, **counts):
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def uncounted(self):
        """Listed keys not yet counted (after an interruption): they keep their failed markers."""
        return self.listed - self.replayed - self.still_failed - self.key_errors

    def describe(self, interrupted=False, dry_run=False):
        """The human summary shown on a terminal."""
        text = "replay%s: %d failed marker(s) listed, %d replayed, %d still failed, %d error(s)." % (
            " (dry run)" if dry_run else "", self.listed, self.replayed, self.still_failed, self.errors)
        if interrupted:
            return text + " Interrupted: run it again to go on."
        if self.credentials_refused:
            return text + (" OMS refused the credentials (401/403): fix HW_AK/HW_SK before running it again "
                           "(five failed signatures lock the key for five minutes).")
        if self.errors:
            return text + " See the error lines above (or --log-file) and run it again."
        if self.still_failed and not dry_run:
            return text + " OMS still refuses some keys: see the error lines, then run it again."
        return text

    @property
    def exit_status(self):
        return EXIT_OK if self.still_failed == 0 and self.errors == 0 else EXIT_FAILED


class Replayer(object):
    """One replay run over a task's failed markers (the guide's names, then long-key markers)."""

    def __init__(self, submitter, summary, workers=bulk.DEFAULT_WORKERS, dry_run=False, limit=None, progress=None,
                 stopping=None):
        self.engine = bulk.Engine(submitter, workers, write_failed=False, stopping=stopping)
        self.markers = submitter.markers
        self.deadline = submitter.deadline
        self.summary = summary
        self.dry_run = dry_run
        self.limit = limit
        self.progress = progress if progress is not None else cli.NoProgress()
        self._failed_marker = {}  # event key -> its failed marker, for the keys pulled and not yet accounted
        self._removable = []  # failed markers whose success markers are written

    @property
    def stopping(self):
        return self.engine.stopping

    def _names(self):
        """Failed marker names, page by page: the guide's names, then long-key markers. Stops (with an error
        line and count) when a listing fails, and when time, the limit or Ctrl-C says so."""
        for long_names in (False, True):
            marker = ""
            while True:
                if self.stopping.is_set():
                    return
                if self.engine.out_of_time():
                    logs.log(logger, logging.WARNING, "replay stopping: out of time; the rest waits for the next run")
                    return
                page_size = marker_names.COS_PAGE
                if self.limit is not None:
                    page_size = min(page_size, self.limit - self.summary.listed)
                    if page_size <= 0:
                        return
                names, marker, cause = self.markers.list_page(marker_names.FAILED, marker, page_size, self.deadline,
                                                              long_names)
                if cause is not None:
                    logs.log(logger, logging.ERROR, "listing failed markers failed", cause=cause)
                    self.summary.add(errors=1)  # never "nothing left" about markers this run could not see
                    return
                self.summary.add(listed=len(names))
                for name in names:
                    yield name, long_names
                if marker is None:
                    break

    def _event_keys(self, names):
        """The event keys to resubmit, from failed markers ``(name, long_name)``; unreadable ones are errors."""
        for name, long_name in names:
            if long_name:
                key, cause = self.markers.read_event_key(marker_names.FAILED, name, self.deadline)
            else:
                key = self.markers.event_key(marker_names.FAILED, name)
                cause = None if key is not None else "not a failed marker of this task"
            if key is None:
                logs.log(logger, logging.ERROR, "unreadable failed marker", marker=name, cause=cause)
                self.summary.add(errors=1, key_errors=1)
                self.progress.update(1)
            elif self.dry_run:
                self.summary.add(still_failed=1)
                self.progress.update(1)
            else:
                self._failed_marker[key] = name
                yield key

    def _account(self, outcome):
        for key in outcome.keys:
            marker = self._failed_marker.pop(key)
            if not outcome.result.accepted:
                self.summary.add(still_failed=1)
            elif key in outcome.unwritten:  # accepted, but no success recorded: the failed marker stays
                self.summary.add(errors=1, key_errors=1)
            else:
                self._removable.append(marker)
        self.progress.update(len(outcome.keys))
        if len(self._removable) >= DELETE_CHUNK:
            self._remove()

    def _remove(self):
        """Delete the failed markers whose success markers are written."""
        markers, self._removable = self._removable, []
        for chunk in batched(markers, marker_names.COS_PAGE):
            failures = self.markers.delete(chunk, self.deadline)
            for marker, cause in sorted(failures.items()):
                logs.log(logger, logging.ERROR, "failed marker not removed", marker=marker, cause=cause)
            self.summary.add(replayed=len(chunk) - len(failures), errors=len(failures), key_errors=len(failures))

    def run(self, names=None):
        """Replay the failed markers ``names`` (``(name, long_name)`` pairs), by default all this run lists."""
        keys = self._event_keys(self._names() if names is None else names)
        if self.dry_run:
            for _ in keys:
                pass
            return self.summary
        outcomes = self.engine.run(keys)
        try:
            for outcome in outcomes:
                self._account(outcome)
        except KeyboardInterrupt:
            self.stopping.set()  # batches not yet sent come back unsent; the listing stops
            for outcome in outcomes:
                self._account(outcome)
            raise
        finally:
            self._remove()
        return self.summary


def replay(settings, deadline, request_id="-", workers=bulk.DEFAULT_WORKERS, dry_run=False, limit=None,
           progress=None, summary=None, stopping=None, processes=1, logging_config=None):
    """Run one replay; returns its ``Summary``. ``stopping``: a ``threading.Event`` that ends it early.
    ``processes`` > 1 (the command line only): after the first chunk of markers, replayed here so that wrong
    credentials cost one refusal, chunks go to worker processes."""
    submitter = handler.build_submitter(settings, deadline, request_id)
    replayer = Replayer(submitter, summary or Summary(), workers, dry_run, limit, progress, stopping)
    try:
        return _replay(replayer, submitter, settings, workers, dry_run, processes, logging_config)
    finally:
        replayer.summary.credentials_refused = submitter.auth_refused
        replayer.progress.close()


def _replay(replayer, submitter, settings, workers, dry_run, processes, logging_config):
    if processes <= 1 or dry_run:
        return replayer.run()
    chunks = batched(replayer._names(), bulk.CHUNK)
    replayer.run(next(chunks, []))
    if submitter.auth_refused:
        return replayer.run(name for chunk in chunks for name in chunk)  # counted, not sent
    for chunk, counts in bulk.fan_out(chunks, _replay_chunk, _worker_state, (settings, workers), processes,
                                      logging_config, replayer.stopping):
        replayer.summary.add(**counts)
        replayer.progress.update(len(chunk))
    return replayer.summary


def _worker_state(settings, workers):
    """A worker process's clients, built once."""
    return handler.build_submitter(settings, Deadline(None)), workers


def _replay_chunk(state, names):
    """In a worker process: replay one chunk of failed markers; returns its counts."""
    submitter, workers = state
    summary = Summary()
    Replayer(submitter, summary, workers).run(names)
    return {"replayed": summary.replayed, "still_failed": summary.still_failed, "errors": summary.errors,
            "key_errors": summary.key_errors}


def main_handler(event, context):
    """SCF timer trigger: replay until done or until the invocation's time runs out."""
    deadline = Deadline.from_context(context, started=time.monotonic())
    logs.bind(scf_context.request_id(context))
    settings = settings_module.load_settings(context=context)
    logs.configure(settings.log_level, settings.log_format)
    summary = replay(settings, deadline, scf_context.request_id(context))
    logs.log(logger, logging.INFO, "replay done", **summary.as_dict())
    return summary.as_dict()
