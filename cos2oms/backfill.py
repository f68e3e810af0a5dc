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
import logging

from cos2oms import listings, logs
from cos2oms.commands.base import EXIT_FAILED, EXIT_OK, Counts

logger = logging.getLogger("cos2oms.backfill")



class Summary(Counts):
    FIELDS = ("listed", "in_window", "accepted", "failed", "errors")

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
