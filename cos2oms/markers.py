# -*- coding: utf-8 -*-
"""Marker objects in the log bucket: one per key, recording its outcome.

Markers are empty objects named as the guide names them:
``oms_source_record/{task_id}/success_object/{event key}`` and ``.../failed_object/{event key}``.

COS object names are at most 850 bytes (UTF-8), so a long event key cannot be named that way: its marker is
``oms_source_record/{task_id}/success_object_long/{sha256 of the event key, hex}`` (``failed_object_long``),
and the event key is the object's body (UTF-8). ``replay`` reads those bodies.

Every call is bounded as a whole by the invocation's time (``transport.time_limit``), tried again once as
``retry`` says (a network error, a timeout, 408, 429, 5xx, COS's transient error codes) while time is left,
and never follows a redirect.
"""
import hashlib
import logging
import random
import re
import time

from cos2oms import logs, retry, storage, transport

MARKER_ROOT = "oms_source_record/"
SUCCESS = "success_object"
FAILED = "failed_object"
#: A COS call with less time than this left in the invocation is not started.
MIN_COS_SECONDS = 0.05
#: Seconds kept at the very end of the invocation, to return before SCF stops it.
END_MARGIN = 0.1
#: Attempts per COS call (marker write, list, batch delete), while the invocation has time.
COS_ATTEMPTS = 2
#: COS lists and batch-deletes at most this many keys per request.
COS_PAGE = 1000
#: COS's limit on an object name, in UTF-8 bytes.
MAX_NAME_BYTES = 850
LONG = "_long"

logger = logging.getLogger("cos2oms.markers")


def marker_prefix(task_id, kind, long_names=False):
    return "%s%s/%s%s/" % (MARKER_ROOT, task_id, kind, LONG if long_names else "")


def marker_key(task_id, kind, event_key):
    """The guide's marker name (the prefix, then the event key as delivered, which starts with ``/``), or the
    long-key form named after the key's SHA-256 when the guide's name cannot be stored: over COS's 850 bytes,
    or holding a ``.`` or ``..`` path segment (HTTP libraries resolve those in a request's path: urllib3
    1.25+ sends ``a/../b`` as ``b``, so such a name would be written, or refused, as another object)."""
    name = marker_prefix(task_id, kind) + event_key
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES and not _DOT_SEGMENT.search(name):
        return name
    return marker_prefix(task_id, kind, True) + hashlib.sha256(event_key.encode("utf-8")).hexdigest()


_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


def is_long(task_id, kind, marker):
    return marker.startswith(marker_prefix(task_id, kind, True))


def xml_safe(name):
    """True when a name survives a batch-delete XML body and its answer unchanged: no control characters
    (XML 1.0 cannot carry most of them, and its parsers turn a carriage return into a newline), no
    non-characters, and no leading or trailing white space (the SDKs' XML parsers strip it)."""
    return name == name.strip() and re.search(_XML_UNSAFE, name) is None


# Compiled on first use (re's cache), not when the function imports this module: about 1 ms on Python 3.6,
# for a check only the commands' batch deletes make.
_XML_UNSAFE = u"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]"


class MarkerStore(object):
    """Markers of one task in the log bucket."""

    def __init__(self, client, bucket, task_id, sleep=time.sleep, rand=random.random):
        self.client = client
        self.bucket = bucket
        self.task_id = task_id
        self._sleep = sleep
        self._rand = rand

    def key(self, kind, event_key):
        return marker_key(self.task_id, kind, event_key)

    def _call(self, deadline, method, read=None, absent=False, **kwargs):
        """One SDK call (``method``: the client's method's name, or a function called as it would be; and
        ``read(answer)``, within the same time limit), tried again as ``retry`` says (``COS_ATTEMPTS`` in all)
        while the invocation has time. Returns (answer, None) or (None, cause); with ``absent``, a 404 is
        (None, None): no such object."""
        def attempt(number, seconds):
            try:
                with transport.time_limit(seconds):
                    call = getattr(self.client, method) if isinstance(method, str) else method
                    answer = call(Bucket=self.bucket, **kwargs)
                    return ((read(answer) if read else answer), None), None
            except storage.CosServiceError as exc:
                if absent and exc.get_status_code() == 404:
                    return (None, None), None
                return (None, storage.describe_error(exc)), storage.classify_error(exc)
            except Exception as exc:  # the SDK raises others than its own too (e.g. on a malformed answer)
                verdict = storage.classify_error(exc)
                return (None, storage.describe_error(exc)), verdict

        def time_left():
            if deadline is None or not deadline.bounded:
                return float("inf")
            return deadline.remaining() - END_MARGIN

        outcome = retry.run(attempt, COS_ATTEMPTS, time_left, max_seconds=storage.COS_TIMEOUT,
                            min_seconds=MIN_COS_SECONDS, sleep=self._sleep, rand=self._rand)
        if not outcome.out_of_time:
            return outcome.result
        if not outcome.attempts:
            return None, "no time left in the invocation"
        return None, outcome.result[1] + "; no time left in the invocation to try again"

    def write(self, kind, event_key, deadline=None):
        """Write one marker; returns None on success, else the cause (already logged as an error)."""
        key = self.key(kind, event_key)
        body = event_key.encode("utf-8") if is_long(self.task_id, kind, key) else b""
        # put_object returns the response headers and raises on failure: success is "no exception".
        _, cause = self._call(deadline, "put_object", Body=body, Key=key)
        if cause is not None:
            logs.log(logger, logging.ERROR, "marker not written", key=event_key, marker=key, bucket=self.bucket,
                     cause=cause)
        return cause

    def event_key(self, kind, marker):
        """The event key a marker is named after; None for a long-key marker (``read_event_key``) or a name
        that is not one of this task's markers."""
        prefix = marker_prefix(self.task_id, kind)
        if not marker.startswith(prefix) or marker == prefix:
            return None
        return marker[len(prefix):]

    def read_event_key(self, kind, marker, deadline=None):
        """The event key held in a long-key marker's body: (event key, None) or (None, cause)."""
        def read(answer):
            return answer["Body"].get_raw_stream().read(4 * MAX_NAME_BYTES + 1)

        data, cause = self._call(deadline, "get_object", read=read, Key=marker)
        if cause is not None:
            return None, cause
        try:
            key = data.decode("utf-8")
        except UnicodeError:
            return None, "the marker's body is not UTF-8"
        if not key or len(data) > 4 * MAX_NAME_BYTES or self.key(kind, key) != marker:
            return None, "the marker's body is not the event key it is named after"
        return key, None

    def read_document(self, name, deadline=None, most=1 << 20):
        """The body of the log bucket's object ``name`` (the audit's state and reports: ``audit``), at most
        ``most`` bytes: (bytes, None), (None, None) when there is no such object, or (None, cause)."""
        def read(answer):
            return answer["Body"].get_raw_stream().read(most + 1)

        with logs.no_such_key_expected():
            data, cause = self._call(deadline, "get_object", read=read, absent=True, Key=name)
        if data is not None and len(data) > most:
            return None, "the object is larger than %d bytes" % most
        return data, cause

    def write_document(self, name, body, deadline=None):
        """Write the log bucket's object ``name`` (bytes); returns None on success, else the cause."""
        _, cause = self._call(deadline, "put_object", Body=body, Key=name)
        return cause

    def list_page(self, kind, marker="", max_keys=COS_PAGE, deadline=None, long_names=False):
        """One page of marker names: (names, next_marker or None after the last page, cause or None).

        Listed URL-encoded (and decoded here when the answer says it is encoded), so names with control
        characters survive the XML answer. Nothing but a listing of the prefix asked for, going forward, is
        taken: an answer that is not a listing (a portal's page, an error document), names out of order or
        outside the prefix, or a page that says there is more but carries no names is an error, never the
        end of the listing. The next page starts after the last name listed, whatever ``NextMarker`` says.
        """
        from cos2oms import listings  # imported here: the function never lists

        prefix = marker_prefix(self.task_id, kind, long_names)
        list_objects = listings.list_objects_reader(self.client) or "list_objects"
        answer, cause = self._call(deadline, list_objects, Prefix=prefix, Marker=marker, MaxKeys=max_keys,
                                   EncodingType="url")
        if cause is not None:
            return [], None, cause
        entries, following, cause = storage.read_listing(answer, prefix, marker)
        return [entry["Key"] for entry in entries], following, cause

    def listing(self, prefix, name, limit=None, page_size=None, seconds=None, sleep=time.sleep, marker=""):
        """The listing of ``prefix`` (one of this task's marker prefixes, or a part of one) for the commands:
        ``(entries, goes_on)`` per page, entries being ``listings.Entry`` (names decoded, LastModified in epoch
        seconds), at most ``limit`` in all, ``page_size`` a page (default ``listings.PAGE``). Each page is
        bounded as a whole by ``seconds`` (default ``listings.PAGE_SECONDS``), checked and tried again as
        ``listings.paged`` does; ``listings.ListingError`` naming ``name`` when one fails. (``listings`` is
        imported here: the function never lists.)"""
        from cos2oms import listings
        lister = listings.CosLister(self.client, self.bucket, seconds or listings.PAGE_SECONDS)
        return listings.paged(lister, name, prefix, marker, page_size=page_size, sleep=sleep, limit=limit)

    def head(self, name, attempts=None, sleep=time.sleep):
        """The answer's headers for the marker named ``name``, or None when there is none (404); tried again as
        a listing page is (``listings.with_attempts``), then ``listings.ListingError``."""
        from cos2oms import listings

        def head():
            try:
                with transport.time_limit(listings.PAGE_SECONDS):
                    return self.client.head_object(Bucket=self.bucket, Key=name)
            except storage.CosServiceError as exc:
                if exc.get_status_code() == 404:
                    return None
                raise

        return listings.with_attempts(head, "marker look-up", attempts or listings.ATTEMPTS, sleep,
                                      message="marker look-up failed", marker=name)

    def delete(self, names, deadline=None):
        """Delete markers (at most ``COS_PAGE`` names); returns {name: cause} for those not deleted.

        Names a batch-delete XML body carries unchanged go in one batch delete, whose answer must confirm
        each of them by name; the others, and any the batch did not confirm, are deleted one by one.
        """
        failures = {}
        batch = [name for name in names if xml_safe(name)]
        single = [name for name in names if not xml_safe(name)]
        if batch:
            answer, cause = self._call(deadline, "delete_objects",
                                       Delete={"Object": [{"Key": k} for k in batch], "Quiet": "false"})
            if cause is not None:
                failures.update((k, cause) for k in batch)
            else:
                deleted, errors = _delete_answer(answer)
                for name in batch:
                    if name in errors:
                        failures[name] = errors[name]
                    elif name not in deleted:
                        single.append(name)
        for name in single:
            _, cause = self._call(deadline, "delete_object", Key=name)
            if cause is not None:
                failures[name] = cause
        return failures



def _delete_answer(answer):
    """({deleted names}, {name: cause}) from a batch delete's answer."""
    def entries(field):
        items = answer.get(field) or [] if isinstance(answer, dict) else []
        return [items] if isinstance(items, dict) else [i for i in items if isinstance(i, dict)]

    deleted = set(item.get("Key") for item in entries("Deleted"))
    errors = dict((item.get("Key"), "COS answered %s %s" % (logs.short(item.get("Code")),
                                                             logs.short(item.get("Message"))))
                  for item in entries("Error"))
    return deleted, errors
