# -*- coding: utf-8 -*-
"""``python -m cos2oms verify``: is everything there?

A success marker says only that OMS *accepted* an object; an object whose event never reached the function
has no marker at all. ``verify`` answers the question from the buckets themselves, in one streaming pass
over three sorted listings: the source COS bucket, the destination OBS bucket, and this task's markers
(success and failed) in the log bucket. The listings are read concurrently, a few pages ahead (memory does
not grow with the buckets), and merged in key order (COS, OBS and S3 all list in UTF-8 byte order).

A source object *matches* when the destination has its key (``OBS_PREFIX`` + source key) and the sync task's
consistency check says it holds the object (``comparison.Comparison``: same size and a last-modified time not
older, to the second; a ``crc64`` task's same-size older copies by both objects' CRC64, ``Crc64Lookup``);
``--checksum`` also compares ETags where both are plain MD5s (not multipart). A difference the task's overwrite
mode would keep is reported so and not resubmitted (``differ_kept``). Each missing object is given its cause,
from the markers: no marker (the event never reached the function), a success marker (OMS accepted it and did
not copy it), a failed marker (waiting for replay).

Output: a line per object that is not matched, then the JSON summary as the last line
``{"source": N, "matched": N, "missing": N, "differ": N, "extra": N, "errors": N, "missing_unmarked": N,
"missing_accepted": N, "missing_failed": N, "differ_kept": N, "resubmitted": N}``; ``--combined FILE`` writes
rclone check's combined report (``report.combined_line``). Destination-only objects (``extra``) are reported
only in a run without ``--since``/``--until``. Exit status 0 when nothing is missing or differs and there was no
error, 1 otherwise, 2 on bad configuration (an unwritable ``--combined`` file too).

Here: the listings, the look-up of hashed marker names and ``verify`` (one pass); ``verify_merge``: the merge
and its counts; ``report``: the lines; ``commands.verify``: the command.
"""
import email.utils
import json
import logging
import time

from cos2oms import listings, logs, markers as marker_names, obs, transport
from cos2oms.comparison import crc64_value
from cos2oms.report import combined_line, describe
from cos2oms.verify_merge import DIFFER, ERROR, MATCH, MISSING, UNKNOWN_LOOKUP, Marker, marker_cause, merge

logger = logging.getLogger("cos2oms.verify")


def marker_listing_prefix(setup, kind):
    return marker_names.marker_prefix(setup.settings.task_id, kind) + setup.source.event_prefix


def marker_store(setup):
    """The task's markers in the log bucket (``markers.MarkerStore``: their listings and look-ups)."""
    settings = setup.settings
    return marker_names.MarkerStore(setup.log_client(), settings.log_bucket, settings.task_id)


class MarkerLookup(object):
    """The markers of keys whose guide-style marker name cannot be stored (``markers`` names them after the
    key's hash): looked up one by one with a HEAD request each (``MarkerStore.head``), tried again as a listing
    page is. A look-up that fails gives ``UNKNOWN_LOOKUP`` (which counts as an error)."""

    def __init__(self, setup, attempts=listings.ATTEMPTS, sleep=time.sleep):
        self.setup = setup
        self.task_id = setup.settings.task_id
        self.event_prefix = setup.source.event_prefix
        self.attempts = attempts
        self.sleep = sleep
        self._store = None

    def is_long(self, key):
        """True when either of the key's markers has the hashed name (over COS's 850 bytes, or a name holding
        a ``.``/``..`` segment): those are not in the listing's order, so they are looked up."""
        event_key = self.event_prefix + key
        return any(marker_names.is_long(self.task_id, kind, marker_names.marker_key(self.task_id, kind, event_key))
                   for kind in (marker_names.SUCCESS, marker_names.FAILED))

    def _head(self, name):
        """The marker named ``name`` (a ``Marker`` with its last-modified time), or None when there is none;
        ``listings.ListingError`` when it could not be looked up."""
        if self._store is None:
            self._store = marker_store(self.setup)
        headers = self._store.head(name, self.attempts, self.sleep)
        return None if headers is None else Marker(name, http_time(headers))

    def __call__(self, key):
        # Both markers are looked up whatever the first says: when both exist the newer decides (marker_cause).
        found = []
        for kind in (marker_names.SUCCESS, marker_names.FAILED):
            try:
                found.append(self._head(marker_names.marker_key(self.task_id, kind, self.event_prefix + key)))
            except listings.ListingError as exc:
                logs.log(logger, logging.ERROR, "marker look-up failed", key=key, cause=exc.cause)
                return UNKNOWN_LOOKUP
        return marker_cause(*found)


class Crc64Lookup(object):
    """``merge``'s ``crc64_lookup``: the CRC64s of a pair, by a HEAD of each object (COS's
    ``x-cos-hash-crc64ecma``, OBS's ``x-obs-checksum-crc64ecma``; None where an object has none), each tried
    again as a listing page is; ``listings.ListingError`` when one could not be looked up (the object gone
    included): an ERROR for that key, never a match. The merge asks only for a ``crc64`` task's same-size copies
    older than their source. ``source_client``: the source bucket's COS client (default: a new one)."""

    def __init__(self, setup, obs_client, source_client=None, attempts=listings.ATTEMPTS, sleep=time.sleep):
        self.setup = setup
        self.obs_client = obs_client
        self.source_client = source_client
        self.attempts = attempts
        self.sleep = sleep

    def _source_crc64(self, key):
        if self.source_client is None:
            self.source_client = self.setup.source_lister().client

        def head():
            with transport.time_limit(listings.PAGE_SECONDS):
                headers = self.source_client.head_object(Bucket=self.setup.source.bucket, Key=key)
            return header(headers, "x-cos-hash-crc64ecma")

        return crc64_value(listings.with_attempts(head, "CRC64 look-up of the source", self.attempts, self.sleep,
                                                  message="CRC64 look-up failed", key=key))

    def _destination_crc64(self, key):
        name = self.setup.obs.prefix + key
        return crc64_value(listings.with_attempts(
            lambda: obs.crc64_header(self.obs_client, self.setup.obs.bucket, name), "CRC64 look-up of the destination",
            self.attempts, self.sleep, message="CRC64 look-up failed", key=name))

    def __call__(self, source, destination):
        return self._source_crc64(source.key), self._destination_crc64(destination.key)


def header(headers, name):
    """The value of header ``name`` (lower case) in a COS SDK answer's ``headers`` (any case), or None."""
    return next((v for k, v in (headers or {}).items() if k.lower() == name), None)


def http_time(headers):
    """Epoch seconds of a HEAD answer's ``Last-Modified`` (``Wed, 01 May 2024 12:00:00 GMT``), or None."""
    value = header(headers, "last-modified")
    parsed = email.utils.parsedate_tz(value) if isinstance(value, str) else None
    return float(email.utils.mktime_tz(parsed)) if parsed else None


def open_listings(setup, obs_client):
    """The four listings, each read ahead in a thread of its own."""
    prefix = setup.prefix
    destination_prefix = setup.obs.prefix
    streams = [
        ("source", listings.pages(setup.source_lister(), "source", prefix)),
        ("destination", listings.stripped_pages(
            listings.pages(obs.ObsLister(obs_client, setup.obs.bucket), "destination",
                           destination_prefix + prefix), destination_prefix)),
    ]
    store = marker_store(setup)
    for kind, name in ((marker_names.SUCCESS, "success markers"), (marker_names.FAILED, "failed markers")):
        listed_prefix = marker_listing_prefix(setup, kind)
        marker_pages = (entries for entries, _ in store.listing(listed_prefix + prefix, name))
        streams.append((name, listings.stripped_pages(marker_pages, listed_prefix)))
    return [listings.Prefetch(page_iter, name=name) for name, page_iter in streams]


def verify(setup, obs_client, out, summary, combined=None, comparison=None, resubmit_to=None, progress=None,
           stopping=None):
    """One verification, counted into ``summary``: writes report lines to ``out`` (and ``combined``), the keys
    to resubmit (event keys, one JSON string a line) to ``resubmit_to``: the missing ones and those differing
    that the task would repair (not ``kept``). ``comparison``: a ``comparison.Comparison`` (default, or
    True/False: OMS's defaults, with or without ``--checksum``). Stops early once ``stopping`` is set."""
    prefetched = open_listings(setup, obs_client)
    lookup = MarkerLookup(setup)
    try:
        source, destination, success, failed = prefetched
        results = merge(source, destination, success, failed, setup.window, comparison, lookup.is_long, lookup,
                        Crc64Lookup(setup, obs_client))
        for result in results:
            if stopping is not None and stopping.is_set():
                break
            summary.count(result)
            if result.source is not None and progress is not None:
                progress.update()
            if result.symbol != MATCH:
                print(describe(result), file=out)
                if result.symbol == ERROR:
                    logs.log(logger, logging.ERROR, "verify error", key=result.key, cause=result.why)
            if combined is not None:
                combined.write(combined_line(result))
            if resubmit_to is not None and result.symbol in (MISSING, DIFFER) and not result.kept:
                resubmit_to.write(json.dumps(setup.source.event_prefix + result.key) + "\n")
    finally:
        for stream in prefetched:
            stream.close()
    return summary

