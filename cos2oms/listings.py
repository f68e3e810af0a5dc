# -*- coding: utf-8 -*-
"""Sorted bucket listings, page by page, for ``verify``, ``backfill`` and ``status``: the source COS bucket
(``CosLister``), the destination OBS bucket (``obs.ObsLister``) and the task's markers in the log bucket
(``markers.MarkerStore.listing``).

COS, OBS and S3 list keys in the byte order of their UTF-8 names, which is Python's ``str`` order, so
listings can be merged as they stream: nothing here holds more than a few pages, whatever the bucket's size.

- Every listing is asked for URL-encoded names (``encoding-type=url``): a name with a control character
  would otherwise break the XML answer. Names are decoded only when the answer says it encoded them
  (``<EncodingType>url</EncodingType>``, as the OBS SDK checks): a server that ignores the parameter sends
  names as they are, and decoding those would turn ``a+b`` into ``a b`` and ``%41`` into ``A``. COS names
  are decoded with ``unquote`` (as the COS SDK decodes them), OBS names with ``unquote_plus`` (as the OBS
  SDK does).
- ``Entry.mtime`` is the object's last-modified time in seconds since the epoch (UTC).
- A page that fails is tried again as ``retry`` says (``ATTEMPTS`` in all); a listing that still fails
  raises ``ListingError`` at the point of the listing where it failed, so nothing past it is ever taken for
  listed.
- ``prefetch`` reads a listing's pages in a thread of its own, a bounded number ahead, so that the
  listings' latencies overlap.
"""
import calendar
import collections
import datetime
import logging
import re
import sys
import threading
import time
from urllib.parse import unquote
from xml.etree import ElementTree

from cos2oms import logs, retry, storage, transport

#: Keys per listing page: COS's and OBS's largest.
PAGE = 1000
#: Attempts per page (``retry`` says which failures are tried again).
ATTEMPTS = 3
#: Seconds one page request may take as a whole, and each of its socket reads (a listing's client).
PAGE_SECONDS = 30.0
READ_SECONDS = 10.0
#: Pages a prefetch thread reads ahead of the merge.
PREFETCH_PAGES = 2

logger = logging.getLogger("cos2oms.listings")

Entry = collections.namedtuple("Entry", "key size mtime etag")
Entry.__doc__ = "One listed object: key, size in bytes, last-modified (epoch seconds, UTC), ETag (quotes removed)."


class ListingError(Exception):
    """A listing could not go on: ``listing`` names it, ``cause`` says why (already escaped for a log line),
    ``status`` is the HTTP status of the last answer when there was one (401, 403, 404: a configuration
    problem), ``last`` what the last attempt met."""

    def __init__(self, listing, cause, status=None, last=None):
        Exception.__init__(self, "%s: %s" % (listing, cause))
        self.listing = listing
        self.cause = cause
        self.status = status
        self.last = cause if last is None else last  # the last failure alone, without the attempts made


# ----------------------------------------------------------------------------- parsing

_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


class NoSuchTime(ValueError):
    """A well-formed time that does not exist (February 30th, 25:00, 23:61); ``problem`` says which field."""

    def __init__(self, text, problem):
        ValueError.__init__(self, "no such time: %s (%s)" % (logs.short(text), problem))
        self.problem = problem


def utc_seconds(year, month, day, hour=0, minute=0, second=0, text=None):
    """Epoch seconds of a UTC calendar time; ``NoSuchTime`` for one that does not exist: ``calendar.timegm``
    alone would shift it silently into the next day or month. ``text``: what the time was read from."""
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:  # "day is out of range for month", "hour must be in 0..23", ...
        raise NoSuchTime(text, str(exc)) from None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def parse_time(text):
    """Epoch seconds of an ISO 8601 time as listings give it (``2024-05-01T12:00:00.000Z``); an offset is
    honoured, no offset means UTC. ``ValueError`` otherwise: ``NoSuchTime`` for a time that does not exist."""
    match = _ISO.match((text or "").strip())
    if not match:
        raise ValueError("not an ISO 8601 time: %s" % logs.short(text))
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    seconds = utc_seconds(year, month, day, hour, minute, second, text)
    if match.group(7):
        seconds += float(match.group(7))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise NoSuchTime(text, "the offset %s is out of range" % zone)
        seconds += sign * (hours * 3600 + minutes * 60)
    return seconds


def _local(tag):
    """An element's name without its XML namespace."""
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


def parse_listing(data, decode=unquote):
    """A ListBucketResult (S3's ListObjects, as COS and OBS answer it): (entries, truncated, next marker or
    None). When the answer says ``<EncodingType>url</EncodingType>``, names and the next marker are decoded
    with ``decode``; otherwise they are taken as they are. ``ValueError`` on an answer that is not one."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ValueError("the listing is not XML: %s" % exc) from None
    if _local(root.tag) != "ListBucketResult":
        raise ValueError("the answer is not a listing (%s)" % logs.short(_local(root.tag)))
    decode = storage.name_decoder((child.text for child in root if _local(child.tag) == "EncodingType"), decode)
    entries = []
    truncated = False
    next_marker = None
    for child in root:
        tag = _local(child.tag)
        if tag == "Contents":
            key = size = mtime = etag = None
            for field in child:
                name = _local(field.tag)
                if name == "Key":
                    key = decode(field.text or "")
                elif name == "Size":
                    size = int(field.text)
                elif name == "LastModified":
                    mtime = parse_time(field.text)
                elif name == "ETag":
                    etag = (field.text or "").strip('"') or None
            if not key or size is None or mtime is None:
                raise ValueError("a listed object without Key, Size or LastModified")
            entries.append(Entry(key, size, mtime, etag))
        elif tag == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
        elif tag == "NextMarker" and child.text:
            next_marker = decode(child.text)
    return entries, truncated, next_marker


# ----------------------------------------------------------------------------- paging

class PageProblem(Exception):
    """A page request that failed: ``cause`` (escaped for a log line), whether it is worth trying again (as
    ``retry`` classified it), and the HTTP ``status`` when there was one."""

    def __init__(self, cause, retryable, status=None):
        Exception.__init__(self, cause)
        self.cause = cause
        self.retryable = retryable
        self.status = status


def describe(exc):
    """(cause for a log line, ``retry.Verdict``) of a failed page request."""
    if isinstance(exc, PageProblem):
        return exc.cause, retry.Verdict(exc.retryable, exc.cause)
    if isinstance(exc, (storage.CosClientError, storage.CosServiceError)):
        return storage.describe_error(exc), storage.classify_error(exc)
    cause = "%s: %s" % (type(exc).__name__, logs.short(str(exc)))
    if isinstance(exc, ValueError) and not isinstance(exc, retry.Unreadable):
        # An answer cut short or garbled on the way (it does not parse): worth another try.
        return cause, retry.classify(error=retry.Unreadable(cause))
    return cause, retry.classify(error=exc)


def _status(exc):
    if isinstance(exc, storage.CosServiceError):
        return exc.get_status_code()
    return getattr(exc, "status", None)


def with_attempts(call, what, attempts=ATTEMPTS, sleep=time.sleep, message="listing page failed", **context):
    """``call()``, tried again as ``retry`` says (``attempts`` in all: a network error, a timeout, 408, 429,
    5xx, an answer that does not parse); then ``ListingError`` naming ``what``. A retry is logged as a
    warning: ``message``, with ``context``."""
    failures = []  # (cause, status) of each failed attempt

    def attempt(number, seconds):
        try:
            return call(), None
        except Exception as exc:  # the SDKs raise many kinds; each is named in the cause
            cause, verdict = describe(exc)
            failures.append((cause, _status(exc)))
            return None, verdict

    def warn(number, verdict, pause):
        logs.log(logger, logging.WARNING, message + ", trying again", attempt=number, cause=failures[-1][0],
                 **context)

    outcome = retry.run(attempt, attempts, sleep=sleep, on_retry=warn)
    if outcome.verdict is None:
        return outcome.result
    cause, status = failures[-1]
    raise ListingError(what, "after %d attempt(s): %s" % (outcome.attempts, cause), status, cause)


def pages(list_once, listing, prefix="", marker="", page_size=None, attempts=ATTEMPTS, sleep=time.sleep):
    """Yield the pages (lists of ``Entry``) of a marker-paged listing until its end (``paged``'s pages)."""
    for entries, _ in paged(list_once, listing, prefix, marker, page_size, attempts, sleep):
        yield entries


def paged(list_once, listing, prefix="", marker="", page_size=None, attempts=ATTEMPTS, sleep=time.sleep,
          limit=None):
    """Yield ``(entries, goes_on)`` for each page (a list of ``Entry``) of a marker-paged listing until its end,
    or until ``limit`` entries were listed (``goes_on`` then says whether the listing had more).

    ``list_once(prefix, marker, page_size)`` makes one request and returns ``parse_listing``'s triple; it
    raises for a failed request. Failed requests are tried again (``attempts`` in all) when worth it; then
    ``ListingError`` naming ``listing``. Every key is checked to be under ``prefix`` and past the one before
    it: a listing out of order would make the merge wrong, so it is an error too. ``page_size``: default
    ``PAGE``.
    """
    page_size = page_size or PAGE
    listed = 0
    while True:
        size = page_size if limit is None else min(page_size, limit - listed)
        entries, truncated, _ = with_attempts(lambda after=marker, n=size: list_once(prefix, after, n), listing,
                                              attempts, sleep, listing=listing)
        previous = marker
        for entry in entries:
            if entry.key <= previous or not entry.key.startswith(prefix):
                raise ListingError(listing, "the listing is out of order or outside its prefix at %s"
                                   % logs.show(entry.key))
            previous = entry.key
        if truncated and not entries:
            raise ListingError(listing, "the listing says it goes on but sent no keys")
        listed += len(entries)
        yield entries, truncated
        if not truncated or (limit is not None and listed >= limit):
            return
        # The last key listed: with no delimiter it is exactly where the next page starts, whatever the server
        # says its NextMarker is (S3 gives none, moto an opaque token).
        marker = entries[-1].key


# ----------------------------------------------------------------------------- COS

def _cos_sdk_parts(client):
    """What the COS client's own ``list_objects`` uses to sign and send (both SDK lines): its module, or None."""
    module = sys.modules.get(type(client).__module__)
    if all(hasattr(module, name) for name in ("CosS3Auth", "format_values")) and hasattr(client, "_conf") \
            and hasattr(client, "send_request"):
        return module
    return None


def list_objects_reader(client):
    """What ``markers.MarkerStore.list_page`` calls instead of ``client.list_objects`` (same keyword arguments,
    ``EncodingType="url"``): the same request, made as ``CosLister`` makes it, and an answer shaped as
    ``list_objects`` shapes it for what ``storage.read_listing`` reads (``Name``, ``Prefix``, ``Marker``,
    ``EncodingType``, ``IsTruncated``, ``NextMarker``, ``Contents`` a list of dicts, names as sent), read with
    ElementTree: a page of 1,000 failed markers costs replay about 5 ms instead of 37 (``xml_to_dict``). An
    answer that is not a ``ListBucketResult`` gives ``{}`` (``read_listing``: not a listing). None where the
    client lacks the SDK's parts."""
    sdk = _cos_sdk_parts(client)
    if sdk is None:
        return None

    def list_objects(Bucket, Prefix, Marker, MaxKeys, EncodingType):
        params = sdk.format_values({"prefix": Prefix, "delimiter": "", "marker": Marker, "max-keys": MaxKeys,
                                    "encoding-type": EncodingType})
        conf = client._conf
        response = client.send_request(method="GET", url=conf.uri(bucket=Bucket), bucket=Bucket, params=params,
                                       headers={}, auth=sdk.CosS3Auth(conf, params=params))
        return listing_answer(response.content)

    return list_objects


_ANSWER_FIELDS = ("Name", "Prefix", "Marker", "EncodingType", "IsTruncated", "NextMarker")


def listing_answer(data):
    """``list_objects``' dict of a ListBucketResult (see ``list_objects_reader``); ``{}`` for another answer.
    ``ElementTree.ParseError`` (a ``SyntaxError``) when it is not XML, as ``xml_to_dict`` raises one of its own."""
    root = ElementTree.fromstring(data)
    if _local(root.tag) != "ListBucketResult":
        return {}
    answer, contents = {}, []
    for child in root:
        tag = _local(child.tag)
        if tag == "Contents":
            contents.append(dict((_local(field.tag), field.text) for field in child))
        elif tag in _ANSWER_FIELDS:
            answer[tag] = child.text
    answer["Contents"] = contents
    return answer


class CosLister(object):
    """One-request listings of a COS bucket, through the COS client (our transport, one attempt per call).

    The request is the one ``CosS3Client.list_objects`` sends, made through the client's own ``send_request``
    with its own signer; the answer is parsed here. (``list_objects`` itself parses with ``xml_to_dict``: 37 ms
    per 1,000 keys, against 5 ms here, and a listing is most of what ``verify`` does.) An SDK without those
    parts is listed with ``list_objects``.
    """

    def __init__(self, client, bucket, seconds=PAGE_SECONDS):
        self.client = client
        self.bucket = bucket
        self.seconds = seconds
        self._sdk = _cos_sdk_parts(client)

    def __call__(self, prefix, marker, page_size):
        with transport.time_limit(self.seconds):
            if self._sdk is None:
                return self._list_with_sdk(prefix, marker, page_size)
            params = self._sdk.format_values({"prefix": prefix, "delimiter": "", "marker": marker,
                                              "max-keys": page_size, "encoding-type": "url"})
            conf = self.client._conf
            response = self.client.send_request(method="GET", url=conf.uri(bucket=self.bucket), bucket=self.bucket,
                                                params=params, headers={},
                                                auth=self._sdk.CosS3Auth(conf, params=params))
            return parse_listing(response.content, unquote)

    def _list_with_sdk(self, prefix, marker, page_size):
        """``list_objects``'s answer, checked as the markers' listings are (``storage.read_listing``)."""
        answer = self.client.list_objects(Bucket=self.bucket, Prefix=prefix, Marker=marker, MaxKeys=page_size,
                                          EncodingType="url")
        items, following, cause = storage.read_listing(answer, prefix, marker)
        if cause is not None:  # not this listing: a portal's page, an error document answered 200, ...
            raise PageProblem(cause, retry.classify(error=retry.Unreadable(cause)).retry)
        entries = [Entry(item["Key"], int(item["Size"]), parse_time(item["LastModified"]),
                         (item.get("ETag") or "").strip('"') or None) for item in items]
        return entries, following is not None, following


# ----------------------------------------------------------------------------- prefetch

_END = object()


class _Failure(object):
    def __init__(self, exc):
        self.exc = exc


class Prefetch(object):
    """Iterates the entries of ``page_iter`` (an iterator of pages) while a thread reads up to ``depth``
    pages ahead. An exception of the page iterator is raised here, at its place in the listing. ``close``
    (or the end of a ``with`` block) stops the thread."""

    def __init__(self, page_iter, depth=PREFETCH_PAGES, name="listing"):
        import queue

        self._pages = page_iter
        self._queue = queue.Queue(maxsize=max(1, depth))
        self._full = queue.Full
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cos2oms-prefetch-%s" % name)
        self._thread.daemon = True
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except self._full:
                continue
        return False

    def _run(self):
        try:
            for page in self._pages:
                if not self._put(page):
                    return
        except BaseException as exc:  # handed to the reader, raised there
            self._put(_Failure(exc))
            return
        self._put(_END)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            for entry in item:
                yield entry

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        close = getattr(self._pages, "close", None)
        if close is not None and not self._thread.is_alive():
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def stripped_pages(page_iter, prefix):
    """The pages of ``page_iter`` with ``prefix`` taken off each key (a destination or marker prefix). An
    object named exactly ``prefix`` (a "folder" object) is no key under it: it is left out."""
    cut = len(prefix)
    for page in page_iter:
        yield [Entry(key[cut:], size, mtime, etag) for key, size, mtime, etag in page if len(key) > cut]
