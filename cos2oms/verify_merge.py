# -*- coding: utf-8 -*-
"""verify's merge (pure): three sorted listings (source, destination, markers) -> one ``Result`` per key, in key
order, and the counts of a run (``Summary``, the JSON last line). No I/O: ``verify.verify`` feeds it the
listings, ``report`` writes its results.
"""
import collections
import math

from cos2oms import listings
from cos2oms.commands.base import EXIT_FAILED, EXIT_OK, Counts
from cos2oms.comparison import UNSETTLED, Comparison

# Outcomes, as rclone check's combined report writes them.
MATCH, MISSING, DIFFER, EXTRA, ERROR = "=", "+", "*", "-", "!"
# What the markers say about a missing object.
UNMARKED, ACCEPTED, FAILED = "unmarked", "accepted", "failed"
UNKNOWN_LONG = "unknown (name too long)"
UNKNOWN_BROKEN = "unknown (marker listing failed)"
UNKNOWN_LOOKUP = "unknown (marker look-up failed)"


class Result(collections.namedtuple("Result", "symbol key source destination why kept")):
    """One outcome of the merge. ``symbol``: MATCH, MISSING, DIFFER, EXTRA or ERROR; ``key``: the source key
    (None for an error that is about no key); ``source``/``destination``: the listed entries; ``why``: for
    MISSING the marker state (UNMARKED, ACCEPTED, FAILED or an UNKNOWN_...), for DIFFER and ERROR the reason;
    ``kept``: a DIFFER the sync task would not repair if the key were resubmitted (its overwrite mode keeps the
    destination's copy; ``why`` says so)."""

    __slots__ = ()

    def __new__(cls, symbol, key, source, destination, why, kept=False):
        return super(Result, cls).__new__(cls, symbol, key, source, destination, why, kept)


Marker = collections.namedtuple("Marker", "key mtime")
Marker.__doc__ = """A marker of a source key: the key, and the marker's last-modified time (epoch seconds; None
when not known). A ``listings.Entry`` of a marker listing serves as one too."""



# ----------------------------------------------------------------------------- the merge (pure)

class Window(collections.namedtuple("Window", "since until")):
    """A last-modified window: ``since <= mtime < until``; either end may be None (open)."""

    def __contains__(self, mtime):
        return (self.since is None or mtime >= self.since) and (self.until is None or mtime < self.until)


ALL_TIME = Window(None, None)


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


def merge(source, destination, success=(), failed=(), window=ALL_TIME, comparison=None, long_marker=None,
          marker_lookup=None, crc64_lookup=None):
    """Merge sorted listings into ``Result``s, in key order.

    ``source``, ``destination``: iterables of ``listings.Entry``, keys strictly increasing (destination keys
    already without ``OBS_PREFIX``). ``success``, ``failed``: iterables of the markers of source keys (each a
    ``listings.Entry`` or ``Marker`` named by the source key, or a bare key), increasing; a missing object's
    cause is ``marker_cause`` of its two. Source objects outside ``window`` are passed over (their
    destination keys too). Destination-only objects are reported as EXTRA only when the window is all time:
    such an object has no source last-modified time, so it belongs to no window. ``long_marker(key)``: True
    when the key's marker is not in those listings (its guide-style name would be over COS's 850 bytes);
    ``marker_lookup(key)`` then gives its state (default ``UNKNOWN_LONG``).

    ``comparison``: a ``comparison.Comparison`` (default: OMS's defaults; True/False: those, with or without
    ``--checksum``), which judges each pair and says whether a difference is one the task keeps (``kept``).
    ``crc64_lookup(source_entry, destination_entry)``: the pair's CRC64s (source's, destination's; each None
    where the object has none), asked only for the pairs the comparison cannot settle from the listings (a
    ``crc64`` task's same-size, older copies); it raises ``ListingError`` when it could not look, which is an
    ERROR for that key. Without it such a pair is judged as OMS does without CRC64s.

    A ``ListingError`` from ``source`` or ``destination`` ends the merge with an ERROR result (naming the
    source key in hand, which could not be checked): nothing past the failure is reported as matched or
    missing. One from a marker listing is reported once as an ERROR; missing objects then get an UNKNOWN
    marker state.
    """
    if not isinstance(comparison, Comparison):
        comparison = Comparison(checksum=bool(comparison))
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
        difference = comparison.judge(s, d)
        if difference is UNSETTLED:
            try:
                crc64s = crc64_lookup(s, d) if crc64_lookup is not None else None
            except listings.ListingError as exc:
                yield Result(ERROR, s.key, s, d, "CRC64 look-up failed: %s" % exc.cause)
                continue
            difference = comparison.judge(s, d, crc64s or (None, None))
        if difference is None:
            yield Result(MATCH, s.key, s, d, None)
        elif comparison.repairs(s, d, difference.kind):
            yield Result(DIFFER, s.key, s, d, difference.why)
        else:
            yield Result(DIFFER, s.key, s, d, difference.why + comparison.kept(), kept=True)


# ----------------------------------------------------------------------------- counting and reporting

class Summary(Counts):
    """The counts of one run (the JSON last line)."""

    FIELDS = ("source", "matched", "missing", "differ", "extra", "errors", "missing_unmarked", "missing_accepted",
              "missing_failed", "differ_kept", "resubmitted")

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
            if result.kept:
                self.differ_kept += 1  # the task's overwrite mode keeps the destination's copy
        elif symbol == EXTRA:
            self.extra += 1
        else:
            self.errors += 1

    @property
    def exit_status(self):
        return EXIT_OK if self.missing == 0 and self.differ == 0 and self.errors == 0 else EXIT_FAILED

    def describe(self, interrupted=False):
        """The human summary shown on a terminal before the JSON line."""
        text = "verify%s: %d source object(s): %d matched, %d missing (%d no marker, %d accepted by OMS, %d failed), " \
               "%d differ%s, %d extra, %d error(s)" % (
                   " (interrupted: the counts cover what was compared)" if interrupted else "", self.source,
                   self.matched, self.missing, self.missing_unmarked, self.missing_accepted, self.missing_failed,
                   self.differ, " (%d kept by the task's overwrite mode)" % self.differ_kept if self.differ_kept
                   else "", self.extra, self.errors)
        if self.resubmitted:
            text += "; %d resubmitted to OMS: run verify again once OMS has copied them" % self.resubmitted
        elif self.missing or self.differ > self.differ_kept:
            text += "; --resubmit sends the missing and differing keys to OMS again"
        return text
