# -*- coding: utf-8 -*-
"""``python -m cos2oms verify``: is everything there?

A success marker says only that OMS *accepted* an object; an object whose event never reached the function
has no marker at all. ``verify`` answers the question from the buckets themselves, in one streaming pass
over three sorted listings: the source COS bucket, the destination OBS bucket, and this task's markers
(success and failed) in the log bucket. The listings are read concurrently, a few pages ahead (memory does
not grow with the buckets), and merged in key order (COS, OBS and S3 all list in UTF-8 byte order).

A source object *matches* when the destination has its key (``OBS_PREFIX`` + source key) with the same size
and a last-modified time not older than the source's, to the second (OMS's default consistency check,
``size_last_modified``); ``--checksum`` also compares ETags where both are plain MD5s (not multipart). Each
missing object is given its cause, from the markers: no marker (the event never reached the function), a
success marker (OMS accepted it and did not copy it), a failed marker (waiting for replay).

Output: a line per object that is not matched, then the JSON summary as the last line
``{"source": N, "matched": N, "missing": N, "differ": N, "extra": N, "errors": N, "missing_unmarked": N,
"missing_accepted": N, "missing_failed": N, "resubmitted": N}``; ``--combined FILE`` writes rclone check's
combined report (``combined_line``). Destination-only objects (``extra``) are reported only in a run without
``--since``/``--until``. Exit status 0 when nothing is missing or differs and there was no error, 1
otherwise, 2 on bad configuration (an unwritable ``--combined`` file too).
"""
import argparse
import collections
import email.utils
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time

from cos2oms import bulk, cli, handler, listings, logs, markers as marker_names, settings as settings_module
from cos2oms import storage
from cos2oms import transport
from cos2oms.deadline import Deadline
from cos2oms.settings import ConfigError

DESCRIPTION = "Compare the source COS bucket with the destination OBS bucket; say why each missing object is missing."
DEFAULT_WORKERS = bulk.DEFAULT_WORKERS
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2

# Outcomes, as rclone check's combined report writes them.
MATCH, MISSING, DIFFER, EXTRA, ERROR = "=", "+", "*", "-", "!"
# What the markers say about a missing object.
UNMARKED, ACCEPTED, FAILED = "unmarked", "accepted", "failed"
UNKNOWN_LONG = "unknown (name too long)"
UNKNOWN_BROKEN = "unknown (marker listing failed)"
UNKNOWN_LOOKUP = "unknown (marker look-up failed)"
WHY_MISSING = {
    UNMARKED: "no marker: the event never reached the function",
    ACCEPTED: "success marker: OMS accepted it and did not copy it",
    FAILED: "failed marker: waiting for replay",
}
LABELS = {MISSING: "missing", DIFFER: "differ", EXTRA: "extra", ERROR: "error", MATCH: "match"}

logger = logging.getLogger("cos2oms.verify")

Result = collections.namedtuple("Result", "symbol key source destination why")
#: The last line of an interrupted run's --combined report.
INTERRUPTED = "verify interrupted: keys after the last line were not compared"
Result.__doc__ = """One outcome of the merge. ``symbol``: MATCH, MISSING, DIFFER, EXTRA or ERROR; ``key``: the
source key (None for an error that is about no key); ``source``/``destination``: the listed entries; ``why``:
for MISSING the marker state (UNMARKED, ACCEPTED, FAILED or an UNKNOWN_...), for DIFFER and ERROR the
reason."""

Marker = collections.namedtuple("Marker", "key mtime")
Marker.__doc__ = """A marker of a source key: the key, and the marker's last-modified time (epoch seconds; None
when not known). A ``listings.Entry`` of a marker listing serves as one too."""


# ----------------------------------------------------------------------------- the merge (pure)

class Window(collections.namedtuple("Window", "since until")):
    """A last-modified window: ``since <= mtime < until``; either end may be None (open)."""

    def __contains__(self, mtime):
        return (self.since is None or mtime >= self.since) and (self.until is None or mtime < self.until)


ALL_TIME = Window(None, None)


def is_plain_md5(etag):
    """True for a single-part upload's ETag (32 hex digits); a multipart ETag ends in ``-N``."""
    return bool(etag) and len(etag) == 32 and all(c in "0123456789abcdefABCDEF" for c in etag)


def compare(source, destination, checksum=False):
    """None when ``destination`` holds ``source`` (same size, last-modified not older, to the second; with
    ``checksum``, equal MD5 ETags where both are plain MD5s), else why not."""
    if source.size != destination.size:
        return "size %d on the source, %d on the destination" % (source.size, destination.size)
    if math.floor(destination.mtime) < math.floor(source.mtime):
        return "the destination (%s) is older than the source (%s)" % (show_time(destination.mtime),
                                                                      show_time(source.mtime))
    if checksum and is_plain_md5(source.etag) and is_plain_md5(destination.etag) \
            and source.etag.lower() != destination.etag.lower():
        return "MD5 %s on the source, %s on the destination" % (source.etag.lower(), destination.etag.lower())
    return None


def show_time(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class _Cursor(object):
    """The head of a sorted stream, fetched when first looked at. A stream that raised stays failed."""

    __slots__ = ("_next", "_head", "_ready", "failure")

    def __init__(self, iterable):
        self._next = iter(iterable).__next__
        self._head = None
        self._ready = False
        self.failure = None

    def peek(self):
        """The next item, or None at the end; raises the stream's ``ListingError``, every time."""
        if self.failure is not None:
            raise self.failure
        if not self._ready:
            try:
                self._head = self._next()
            except StopIteration:
                self._head = None
            except listings.ListingError as exc:
                self.failure = exc
                raise
            self._ready = True
        return self._head

    def pop(self):
        self._ready = False


def _find(cursor, key):
    """The item of the sorted stream ``cursor`` (items with a ``key``) whose key is ``key``, or None; skips
    the items before it."""
    while True:
        head = cursor.peek()
        if head is None or head.key > key:
            return None
        cursor.pop()
        if head.key == key:
            return head


def _markers(items):
    """The markers of ``items``: ``Marker``s or ``listings.Entry``s as they are, a bare key as a marker whose
    time is not known."""
    for item in items:
        yield Marker(item, None) if isinstance(item, str) else item


def marker_cause(success, failed):
    """What the markers say about a missing object; ``success``/``failed``: its marker of that kind, or None.

    With both, the newer one (to the second, as COS dates them) tells what happened last: a success marker
    newer than the failed one means OMS accepted the latest submission (replay resubmitted it, and the
    failed marker outlived that), a failed marker newer than the success one that a later submission was
    refused. On a tie, or when a time is not known, FAILED: a failed marker is there, so the object is
    waiting for replay whatever the order was, while ACCEPTED would claim OMS lost it.
    """
    if success is None:
        return UNMARKED if failed is None else FAILED
    if failed is None:
        return ACCEPTED
    if success.mtime is not None and failed.mtime is not None \
            and math.floor(success.mtime) > math.floor(failed.mtime):
        return ACCEPTED
    return FAILED


def merge(source, destination, success=(), failed=(), window=ALL_TIME, checksum=False, long_marker=None,
          marker_lookup=None):
    """Merge sorted listings into ``Result``s, in key order.

    ``source``, ``destination``: iterables of ``listings.Entry``, keys strictly increasing (destination keys
    already without ``OBS_PREFIX``). ``success``, ``failed``: iterables of the markers of source keys (each a
    ``listings.Entry`` or ``Marker`` named by the source key, or a bare key), increasing; a missing object's
    cause is ``marker_cause`` of its two. Source objects outside ``window`` are passed over (their
    destination keys too). Destination-only objects are reported as EXTRA only when the window is all time:
    such an object has no source last-modified time, so it belongs to no window. ``long_marker(key)``: True
    when the key's marker is not in those listings (its guide-style name would be over COS's 850 bytes);
    ``marker_lookup(key)`` then gives its state (default ``UNKNOWN_LONG``).

    A ``ListingError`` from ``source`` or ``destination`` ends the merge with an ERROR result (naming the
    source key in hand, which could not be checked): nothing past the failure is reported as matched or
    missing. One from a marker listing is reported once as an ERROR; missing objects then get an UNKNOWN
    marker state.
    """
    src, dst = _Cursor(source), _Cursor(destination)
    markers = (_Cursor(_markers(success)), _Cursor(_markers(failed)))
    names = ("success marker", "failed marker")
    reported = [False, False]
    extras = window.since is None and window.until is None

    def marker_state(key):
        if long_marker is not None and long_marker(key):
            return marker_lookup(key) if marker_lookup is not None else UNKNOWN_LONG
        found = []
        for cursor in markers:
            try:
                found.append(_find(cursor, key))
            except listings.ListingError:
                return UNKNOWN_BROKEN
        return marker_cause(*found)

    def broken_markers():
        for i, cursor in enumerate(markers):
            if cursor.failure is not None and not reported[i]:
                reported[i] = True
                yield Result(ERROR, None, None, None, "%s listing failed: %s" % (names[i], cursor.failure.cause))

    while True:
        try:
            s = src.peek()
        except listings.ListingError as exc:
            yield Result(ERROR, None, None, None, "source listing failed: %s" % exc.cause)
            return
        src.pop()
        try:
            d = dst.peek()
            while d is not None and (s is None or d.key < s.key):
                if extras:
                    yield Result(EXTRA, d.key, None, d, "only on the destination")
                dst.pop()
                d = dst.peek()
        except listings.ListingError as exc:
            checked = s is not None and s.mtime in window
            yield Result(ERROR, s.key if checked else None, s if checked else None, None,
                         "destination listing failed: %s" % exc.cause)
            return
        if s is None:
            return
        if d is not None and d.key == s.key:
            dst.pop()
        else:
            d = None
        if s.mtime not in window:
            continue
        if d is None:
            state = marker_state(s.key)
            for result in broken_markers():
                yield result
            yield Result(MISSING, s.key, s, None, state)
            continue
        why = compare(s, d, checksum)
        yield Result(MATCH if why is None else DIFFER, s.key, s, d, why)


# ----------------------------------------------------------------------------- counting and reporting

class Summary(object):
    """The counts of one run (the JSON last line)."""

    FIELDS = ("source", "matched", "missing", "differ", "extra", "errors", "missing_unmarked", "missing_accepted",
              "missing_failed", "resubmitted")

    def __init__(self):
        for name in self.FIELDS:
            setattr(self, name, 0)

    def count(self, result):
        symbol = result.symbol
        if result.source is not None:
            self.source += 1
        if symbol == MATCH:
            self.matched += 1
        elif symbol == MISSING:
            self.missing += 1
            if result.why in (UNMARKED, ACCEPTED, FAILED):
                setattr(self, "missing_" + result.why, getattr(self, "missing_" + result.why) + 1)
            elif result.why == UNKNOWN_LOOKUP:
                self.errors += 1  # the object is missing for sure; the look-up of its markers failed
        elif symbol == DIFFER:
            self.differ += 1
        elif symbol == EXTRA:
            self.extra += 1
        else:
            self.errors += 1

    def as_dict(self):
        return collections.OrderedDict((name, getattr(self, name)) for name in self.FIELDS)

    @property
    def exit_status(self):
        return EXIT_OK if self.missing == 0 and self.differ == 0 and self.errors == 0 else EXIT_FAILED

    def describe(self, interrupted=False):
        """The human summary shown on a terminal before the JSON line."""
        text = "verify%s: %d source object(s): %d matched, %d missing (%d no marker, %d accepted by OMS, %d failed), " \
               "%d differ, %d extra, %d error(s)" % (
                   " (interrupted: the counts cover what was compared)" if interrupted else "", self.source,
                   self.matched, self.missing, self.missing_unmarked, self.missing_accepted, self.missing_failed,
                   self.differ, self.extra, self.errors)
        if self.resubmitted:
            text += "; %d resubmitted to OMS: run verify again once OMS has copied them" % self.resubmitted
        elif self.missing or self.differ:
            text += "; --resubmit sends the missing and differing keys to OMS again"
        return text


def describe(result):
    """The report line of an object that is not matched (keys escaped as in log lines)."""
    why = result.why
    if result.symbol == MISSING:
        why = WHY_MISSING.get(why, "marker " + why)
    return "%-7s %s: %s" % (LABELS[result.symbol], logs.show(result.key), why)


# What ends a line for some reader: universal newlines split on \n and \r, str.splitlines also on \v, \f,
# \x1c-\x1e, \x85, U+2028 and U+2029.
_LINE_BREAKS = re.compile(u"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Those json.dumps(ensure_ascii=False) leaves as they are (it escapes every character below U+0020).
_JSON_LINE_BREAKS = {0x85: u"\\u0085", 0x2028: u"\\u2028", 0x2029: u"\\u2029"}


def _json_string(text):
    return json.dumps(text, ensure_ascii=False).translate(_JSON_LINE_BREAKS)


def combined_path(key):
    """A key as ``--combined`` writes it: as it is (rclone's format), unless it holds a character that breaks
    a line for some reader, or starts with a double quote: then as a JSON string (UTF-8, those characters
    escaped). So a path starting with ``"`` is always JSON, and no other path is."""
    if key[:1] == '"' or _LINE_BREAKS.search(key):
        return _json_string(key)
    return key


def combined_line(result):
    """rclone check's combined report: ``= key``, ``+ key``, ``* key``, ``- key``, ``! key`` (keys as
    ``combined_path`` writes them). An error about no key (a listing that failed) is ``! "what failed"``: a
    JSON string whose text neither starts with ``"`` nor holds a line break, which no key's path can be."""
    if result.key is None:
        text = _LINE_BREAKS.sub(" ", result.why or "error")
        return "%s %s\n" % (ERROR, _json_string(text if text[:1] != '"' else "error: " + text))
    return "%s %s\n" % (result.symbol, combined_path(result.key))


# ----------------------------------------------------------------------------- the command's parts

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
_MINUTES = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d)(Z|[+-]\d\d:?\d\d)?$")


def parse_when(text, now=None):
    """Epoch seconds of ``--since``/``--until``: ISO 8601 (``2024-05-01``, ``2024-05-01T08:00``,
    ``2024-05-01T08:00:00+08:00``; no offset means UTC) or a time ago (``90s``, ``30m``, ``24h``, ``7d``,
    ``2w``). ``argparse.ArgumentTypeError`` otherwise, and for a time that does not exist (``2024-02-30``,
    ``25:00``): it is never shifted into another day."""
    text = (text or "").strip()
    relative = _RELATIVE.match(text)
    if relative:
        now = time.time() if now is None else now
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    date = _DATE.match(text)
    minutes = _MINUTES.match(text)
    try:
        if date:
            return float(listings.utc_seconds(*(int(date.group(i)) for i in (1, 2, 3)), text=text))
        return listings.parse_time(minutes.group(1) + ":00" + (minutes.group(2) or "") if minutes else text)
    except listings.NoSuchTime as exc:
        raise argparse.ArgumentTypeError("%r is not a time: %s" % (text, exc.problem)) from None
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("%r is not a time: use ISO 8601 (2024-05-01, 2024-05-01T08:00:00+08:00; UTC "
                                     "without an offset) or a time ago (30m, 24h, 7d)" % text)


def window_of(args):
    """The window of ``--since``/``--until``; ConfigError when it is empty."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and since >= until:
        raise ConfigError("--until", "must be later than --since")
    return Window(since, until)


class Progress(object):
    """A progress bar (``cli.Output.progress``: tqdm on a terminal, nothing elsewhere), updated in chunks so
    that it costs nothing per object."""

    def __init__(self, bar, chunk=1000):
        self.bar = bar
        self.chunk = chunk
        self._pending = 0

    def update(self, n=1):
        self._pending += n
        if self._pending >= self.chunk:
            self.bar.update(self._pending)
            self._pending = 0

    def close(self):
        if self._pending:
            self.bar.update(self._pending)
            self._pending = 0
        self.bar.close()


class Setup(object):
    """Settings and clients of ``verify`` and ``backfill``: ``ConfigError`` on bad configuration."""

    def __init__(self, args, environ=None, need_obs=True):
        environ = os.environ if environ is None else environ
        self.settings = settings_module.load_settings(environ=environ)
        self.source = settings_module.load_source(environ, self.settings, getattr(args, "source_bucket", None))
        self.obs = settings_module.load_obs(environ, self.settings) if need_obs else None
        self.window = window_of(args)
        self.prefix = getattr(args, "prefix", None) or ""
        self._cos = None

    def source_lister(self):
        """The source bucket's lister: its region, and its endpoint (``SOURCE_ENDPOINT``), not the log bucket's."""
        settings = self.settings._replace(cos_endpoint=self.source.endpoint)
        return listings.CosLister(storage.build_cos_client(settings, region=self.source.region), self.source.bucket)

    def log_client(self):
        if self._cos is None:
            self._cos = storage.build_cos_client(self.settings)
        return self._cos

    def submitter(self):
        return handler.build_submitter(self.settings, Deadline(None))

    def source_pages(self):
        return listings.pages(self.source_lister(), "source", self.prefix)


def marker_listing_prefix(setup, kind):
    return marker_names.marker_prefix(setup.settings.task_id, kind) + setup.source.event_prefix


class MarkerLookup(object):
    """The markers of keys whose guide-style marker name cannot be stored (``markers`` names them after the
    key's hash): looked up one by one with a HEAD request each, tried again as a listing page is
    (``listings.with_attempts``). A look-up that fails gives ``UNKNOWN_LOOKUP`` (which counts as an error)."""

    def __init__(self, setup, attempts=listings.ATTEMPTS, sleep=time.sleep):
        self.setup = setup
        self.task_id = setup.settings.task_id
        self.event_prefix = setup.source.event_prefix
        self.attempts = attempts
        self.sleep = sleep

    def is_long(self, key):
        """True when either of the key's markers has the hashed name (over COS's 850 bytes, or a name holding
        a ``.``/``..`` segment): those are not in the listing's order, so they are looked up."""
        event_key = self.event_prefix + key
        return any(marker_names.is_long(self.task_id, kind, marker_names.marker_key(self.task_id, kind, event_key))
                   for kind in (marker_names.SUCCESS, marker_names.FAILED))

    def _head(self, name):
        """The marker named ``name`` (a ``Marker`` with its last-modified time), or None when there is none;
        ``listings.ListingError`` when it could not be looked up."""
        client, bucket = self.setup.log_client(), self.setup.settings.log_bucket

        def head():
            try:
                with transport.time_limit(listings.PAGE_SECONDS):
                    headers = client.head_object(Bucket=bucket, Key=name)
            except storage.CosServiceError as exc:
                if exc.get_status_code() == 404:
                    return None
                raise
            return Marker(name, http_time(headers))

        return listings.with_attempts(head, "marker look-up", self.attempts, self.sleep,
                                      message="marker look-up failed", marker=name)

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


def http_time(headers):
    """Epoch seconds of a HEAD answer's ``Last-Modified`` (``Wed, 01 May 2024 12:00:00 GMT``), or None."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "last-modified"), None)
    parsed = email.utils.parsedate_tz(value) if isinstance(value, str) else None
    return float(email.utils.mktime_tz(parsed)) if parsed else None


def config_error(prog, exc):
    print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
    return EXIT_CONFIG


# ----------------------------------------------------------------------------- the command

def add_arguments(parser):
    parser.add_argument("--source-bucket", metavar="NAME-APPID",
                        help="the source COS bucket (default: SOURCE_BUCKET; region SOURCE_REGION, else COS_REGION)")
    parser.add_argument("--prefix", default="", help="only source keys under this prefix")
    parser.add_argument("--since", type=parse_when, metavar="T",
                        help="only source objects last modified at or after T (ISO 8601, UTC without an offset; or "
                             "a time ago: 30m, 24h, 7d)")
    parser.add_argument("--until", type=parse_when, metavar="T", help="only source objects last modified before T")
    parser.add_argument("--checksum", action="store_true",
                        help="also compare ETags where both are plain MD5s (not multipart uploads)")
    parser.add_argument("--combined", metavar="FILE",
                        help="write rclone check's combined report: '= key' same, '+ key' missing on the destination, "
                             "'* key' differs, '- key' only on the destination, '! key' error; a key that holds a "
                             "line break or starts with '\"' is written as a JSON string, and '! \"...\"' is an error "
                             "about no key (a listing that failed)")
    parser.add_argument("--resubmit", action="store_true",
                        help="send every missing or differing key to OMS (10 a request), with markers")
    cli.add_sending_arguments(parser, " for --resubmit", DEFAULT_WORKERS)
    cli.add_arguments(parser)


def open_listings(setup, obs_client):
    """The four listings, each read ahead in a thread of its own."""
    settings, prefix = setup.settings, setup.prefix
    destination_prefix = setup.obs.prefix
    streams = [
        ("source", listings.pages(setup.source_lister(), "source", prefix)),
        ("destination", listings.stripped_pages(
            listings.pages(listings.ObsLister(obs_client, setup.obs.bucket), "destination",
                           destination_prefix + prefix), destination_prefix)),
    ]
    for kind, name in ((marker_names.SUCCESS, "success markers"), (marker_names.FAILED, "failed markers")):
        listed_prefix = marker_listing_prefix(setup, kind)
        lister = listings.CosLister(setup.log_client(), settings.log_bucket)
        streams.append((name, listings.stripped_pages(listings.pages(lister, name, listed_prefix + prefix),
                                                      listed_prefix)))
    return [listings.Prefetch(page_iter, name=name) for name, page_iter in streams]


def verify(setup, obs_client, out, summary, combined=None, checksum=False, resubmit_to=None, progress=None,
           stopping=None):
    """One verification, counted into ``summary``: writes report lines to ``out`` (and ``combined``), the keys
    to resubmit (event keys, one JSON string a line) to ``resubmit_to``. Stops early once ``stopping`` is set."""
    prefetched = open_listings(setup, obs_client)
    lookup = MarkerLookup(setup)
    try:
        source, destination, success, failed = prefetched
        results = merge(source, destination, success, failed, setup.window, checksum, lookup.is_long, lookup)
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
            if resubmit_to is not None and result.symbol in (MISSING, DIFFER):
                resubmit_to.write(json.dumps(setup.source.event_prefix + result.key) + "\n")
    finally:
        for stream in prefetched:
            stream.close()
    return summary


def _read_keys(stream):
    stream.seek(0)
    for line in stream:
        yield json.loads(line)


def run(args, environ=None, out=sys.stdout, prog="cos2oms verify"):
    """The command: returns its exit status."""
    environ = os.environ if environ is None else environ
    try:
        setup = Setup(args, environ)
    except ConfigError as exc:
        return config_error(prog, exc)
    try:
        obs_client = listings.build_obs_client(setup.obs)
    except ImportError:
        print("%s: the OBS SDK is not installed: pip install esdk-obs-python" % prog, file=sys.stderr)
        return EXIT_CONFIG
    combined = None
    if args.combined:
        try:  # now, not after the comparison has done its work
            combined = open(args.combined, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            obs_client.close()
            print("%s: --combined: cannot write %s: %s" % (prog, args.combined, exc.strerror or exc), file=sys.stderr)
            return EXIT_CONFIG
    try:
        return _run(args, setup, obs_client, combined, environ, out)
    finally:
        if combined is not None:
            combined.close()  # once more, harmlessly, unless the run never got to it
        obs_client.close()


def _run(args, setup, obs_client, combined, environ, out):
    summary = Summary()
    stopping = threading.Event()
    interrupted = False
    with cli.Output(args, setup.settings, environ) as output, cli.stop_on_interrupt(stopping, logger):
        progress = Progress(output.progress("verify", "obj"))
        pending = tempfile.TemporaryFile("w+", encoding="utf-8") if args.resubmit else None
        try:
            verify(setup, obs_client, out, summary, combined, args.checksum, pending, progress, stopping)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
            interrupted = interrupted or stopping.is_set()
            if combined is not None:
                if interrupted:  # a partial report must not read as a whole one
                    combined.write(combined_line(Result(ERROR, None, None, None, INTERRUPTED)))
                combined.close()
        if interrupted:
            logs.log(logger, logging.WARNING, "verify interrupted: the counts cover only what was compared, and "
                                              "nothing was resubmitted")
        try:
            if pending is not None and not interrupted and pending.tell():
                bar = Progress(output.progress("resubmit", "key"), chunk=1)
                try:
                    sent = bulk.send_keys(setup.submitter(), _read_keys(pending), args.workers, bar, stopping,
                                          args.processes, setup.settings, output.child_logging())
                finally:
                    bar.close()
                summary.resubmitted = sent.accepted
                summary.errors += sent.failed + sent.errors
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if pending is not None:
                pending.close()
        interrupted = interrupted or stopping.is_set()
        output.summary(summary.describe(interrupted))
    print(json.dumps(summary.as_dict()), file=out)
    return EXIT_FAILED if interrupted else summary.exit_status
