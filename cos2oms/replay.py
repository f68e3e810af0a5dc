# -*- coding: utf-8 -*-
"""Drain failure markers: resubmit the keys OMS never accepted.

As a command: ``python replay.py [--dry-run] [--limit N] [--workers N]`` (same environment variables as the
function). As an SCF timer function: ``replay.main_handler(event, context)`` in the same zip.

It lists ``oms_source_record/{task_id}/failed_object/`` page by page (1,000 keys a page), resubmits the event
keys in OMS requests of at most 10 keys (the function's signing, encoding and retry rules), writes a success
marker for each accepted key and only then removes its failed marker (batch deletes). Keys OMS still
refuses keep their failed marker. Every key has at least one marker at every moment, so stopping at any
point (Ctrl-C, the timer's time limit) loses nothing.

The last line of output is ``{"listed": N, "replayed": N, "still_failed": N, "errors": N}``; the exit status
is 0 when nothing listed is left failed, 1 otherwise, 2 on bad configuration.
"""
import argparse
import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from cos2oms import context as scf_context
from cos2oms import handler, logs, markers as marker_names, oms
from cos2oms.deadline import Deadline
from cos2oms.settings import ConfigError

DESCRIPTION = "Resubmit to OMS the keys that have a failed marker in the log bucket."
DEFAULT_WORKERS = 8
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

logger = logging.getLogger("cos2oms.replay")


class Summary(object):
    """What one run did. Every listed key is counted once: replayed, still failed, or an error."""

    def __init__(self):
        self.listed = 0
        self.replayed = 0
        self.still_failed = 0
        self.errors = 0
        self.key_errors = 0  # the part of ``errors`` that is about one listed key
        self._lock = threading.Lock()

    def add(self, **counts):
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self):
        return {"listed": self.listed, "replayed": self.replayed, "still_failed": self.still_failed,
                "errors": self.errors}

    def uncounted(self):
        """Listed keys not yet counted (after an interruption): they keep their failed markers."""
        return self.listed - self.replayed - self.still_failed - self.key_errors

    @property
    def exit_status(self):
        return EXIT_OK if self.still_failed == 0 and self.errors == 0 else EXIT_FAILED


class _NoProgress(object):
    def update(self, n=1):
        pass

    def close(self):
        pass


def progress_bar(enabled):
    """tqdm on a terminal; nothing in SCF logs, in a pipe, or without tqdm."""
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(unit="key", desc="replay", file=sys.stderr)
        except ImportError:
            pass
    return _NoProgress()


class Replayer(object):
    """One replay run over a task's failed markers."""

    def __init__(self, submitter, summary, workers=DEFAULT_WORKERS, dry_run=False, limit=None, progress=None):
        self.submitter = submitter
        self.markers = submitter.markers
        self.deadline = submitter.deadline
        self.summary = summary
        self.workers = max(1, workers)
        self.dry_run = dry_run
        self.limit = limit
        self.progress = progress if progress is not None else _NoProgress()
        self.stopping = threading.Event()
        self._probed = False

    def _out_of_time(self):
        return self.deadline.remaining_for_requests() < oms.MIN_ATTEMPT_SECONDS

    def _replay_batch(self, keys):
        """Resubmit up to 10 event keys; returns the failed markers that may now be removed."""
        if self.stopping.is_set() or self._out_of_time():
            self.summary.add(still_failed=len(keys))
            return []
        result = self.submitter.send(keys)
        if not result.accepted:
            self.summary.add(still_failed=len(keys))
            return []
        removable = []
        for key in keys:
            if self.markers.write(marker_names.SUCCESS, key, self.deadline) is None:
                removable.append(self.markers.key(marker_names.FAILED, key))
            else:
                self.summary.add(errors=1, key_errors=1)  # accepted, but no success recorded: the failed marker stays
        return removable

    def _replay_page(self, markers, pool):
        keys = []
        for marker in markers:
            key = self.markers.event_key(marker_names.FAILED, marker)
            if key is None:
                logger.error("unreadable failed marker=%s", logs.show(marker))
                self.summary.add(errors=1, key_errors=1)
            else:
                keys.append(key)
        if self.dry_run or self.submitter.auth_refused:
            self.summary.add(still_failed=len(keys))
            self.progress.update(len(markers))
            return
        batches = oms.batches(keys)
        removable = []
        futures = []
        collected = 0  # futures whose result is already in ``removable``
        try:
            if batches and not self._probed:
                # One request alone first: wrong credentials then cost a single refusal, not one per worker.
                self._probed = True
                first = batches.pop(0)
                removable.extend(self._replay_batch(first))
                self.progress.update(len(first))
            futures = [(len(batch), pool.submit(self._replay_batch, batch)) for batch in batches]
            for size, future in futures:
                removable.extend(future.result())
                collected += 1
                self.progress.update(size)
        except KeyboardInterrupt:
            self.stopping.set()  # batches not yet sent return at once, counted as still failed
            for _, future in futures[collected:]:
                removable.extend(future.result())
            raise
        finally:
            self._remove(removable)

    def _remove(self, markers):
        """Remove failed markers whose success markers are written (one batch delete per page)."""
        for chunk in oms.batches(markers, marker_names.COS_PAGE):
            failures = self.markers.delete(chunk, self.deadline)
            for marker, cause in sorted(failures.items()):
                logger.error("failed marker not removed marker=%s cause=%s", logs.show(marker), cause)
            self.summary.add(replayed=len(chunk) - len(failures), errors=len(failures), key_errors=len(failures))

    def run(self):
        marker = ""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while not self.stopping.is_set():
                if self._out_of_time():
                    logger.warning("replay stopping: out of time")
                    break
                page_size = marker_names.COS_PAGE
                if self.limit is not None:
                    page_size = min(page_size, self.limit - self.summary.listed)
                    if page_size <= 0:
                        break
                markers, marker, cause = self.markers.list_page(marker_names.FAILED, marker, page_size, self.deadline)
                if cause is not None:
                    logger.error("listing failed markers failed cause=%s", cause)
                    self.summary.add(errors=1)
                    break
                self.summary.add(listed=len(markers))
                self._replay_page(markers, pool)
                if marker is None:
                    break
        return self.summary


def replay(settings, deadline, request_id="-", workers=DEFAULT_WORKERS, dry_run=False, limit=None, progress=None,
           summary=None):
    """Run one replay; returns its ``Summary``."""
    submitter = handler.build_submitter(settings, deadline, request_id)
    replayer = Replayer(submitter, summary or Summary(), workers, dry_run, limit, progress)
    try:
        return replayer.run()
    finally:
        replayer.progress.close()


def main_handler(event, context):
    """SCF timer trigger: replay until done or until the invocation's time runs out."""
    deadline = Deadline.from_context(context, started=time.monotonic())
    settings = handler.load_settings(context=context)
    logs.configure(settings.log_level)
    summary = replay(settings, deadline, scf_context.request_id(context))
    logger.info("replay done %s", json.dumps(summary.as_dict()))
    return summary.as_dict()


def add_arguments(parser):
    parser.add_argument("--dry-run", action="store_true", help="list and count failed markers; change nothing")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="stop after listing this many failed markers")
    parser.add_argument("--workers", type=positive_int, default=DEFAULT_WORKERS,
                        help="concurrent OMS requests (default %d)" % DEFAULT_WORKERS)


def run(args, environ=None, out=sys.stdout, prog="cos2oms replay"):
    """The command: returns its exit status."""
    try:
        settings = handler.load_settings(environ=environ)
    except ConfigError as exc:
        print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
        return EXIT_CONFIG
    logs.configure(settings.log_level)
    summary = Summary()
    interrupted = False
    try:
        replay(settings, Deadline(None), workers=args.workers, dry_run=args.dry_run, limit=args.limit,
               progress=progress_bar(sys.stderr.isatty()), summary=summary)
    except KeyboardInterrupt:
        interrupted = True  # markers not yet listed may still be failed: never report "nothing left"
        logger.warning("replay interrupted: keys not yet replayed keep their failed markers")
        summary.add(still_failed=summary.uncounted())
    print(json.dumps(summary.as_dict()), file=out)
    return EXIT_FAILED if interrupted else summary.exit_status


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %s" % text)
    return value


def main(argv=None, environ=None, out=sys.stdout, prog="replay.py"):
    """``python replay.py [--dry-run] [--limit N] [--workers N]``."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv), environ, out, prog)
