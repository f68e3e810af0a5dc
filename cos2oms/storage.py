# -*- coding: utf-8 -*-
"""Building the COS client, for both SDK lines.

``qcloud_cos`` is cos-python-sdk-v5 as vendored into the zips for Python 3.7+; ``qcloud_cos_v5`` is the 1.6.6
copy built into SCF's Python 3.6 runtime. They count retries differently (1.6.6: ``retry`` attempts in all,
and ``retry=0`` breaks; 1.8.3+: ``retry + 1`` attempts with ``sleep(j)`` between), so the client is built to
make exactly one attempt per call; the few retries a call deserves are made by the caller, within the
invocation's time. Every request goes through our session (``transport``): time-limited as a whole, never
redirected, bodies capped, and only an answer carrying COS's request id counts as COS's.
"""
import re
import sys
from urllib.parse import unquote


try:
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_cos.cos_exception import CosClientError, CosServiceError
except ImportError:  # SCF's Python 3.6 runtime
    from qcloud_cos_v5 import CosConfig, CosS3Client
    from qcloud_cos_v5.cos_exception import CosClientError, CosServiceError

from cos2oms import logs, retry, transport

#: Seconds per socket read of a COS request (the transport also bounds each request as a whole).
COS_TIMEOUT = 2.0
#: COS sends this header with every answer, errors included; an answer without it is not COS's (a captive
#: portal's 200, a proxy's page) and is never taken for a stored marker or a listing.
COS_REQUEST_ID = "x-cos-request-id"
#: SDK versions from which ``retry=N`` means N+1 attempts.
_RETRY_PLUS_ONE_SINCE = (1, 8, 3)

__all__ = ["CosClientError", "CosServiceError", "build_cos_client", "classify_error", "describe_error",
           "name_decoder", "read_listing", "sdk_version"]


def sdk_version():
    """The COS SDK's version as a tuple, e.g. (1, 6, 6); its ``__version__`` reads ``5.1.6.6``."""
    module = sys.modules[CosS3Client.__module__]
    numbers = [int(n) for n in re.findall(r"\d+", getattr(module, "__version__", ""))]
    if len(numbers) == 4 and numbers[0] == 5:
        numbers = numbers[1:]
    return tuple(numbers)


def single_attempt_retry(version=None):
    """The ``CosS3Client(retry=...)`` value that makes exactly one attempt with this SDK."""
    version = sdk_version() if version is None else version
    if version and version >= _RETRY_PLUS_ONE_SINCE:
        return 0
    return 1


def build_cos_client(settings, region=None, session=None, lean=True, timeout=COS_TIMEOUT):
    """A COS client (one attempt per call) with the settings' credentials, scheme, endpoint and address;
    ``region`` defaults to the log bucket's. It sends through a ``LeanSession`` over ``session`` (default: a
    new ``transport`` session); ``lean=False``: through ``session`` itself, as the SDK sends. ``timeout``: seconds
    per socket read (the function's, ``COS_TIMEOUT``, leaves room for its markers within SCF's time)."""
    options = dict(Region=region or settings.cos_region, SecretId=settings.cos_secret_id,
                   SecretKey=settings.cos_secret_key, Token=settings.cos_token, Scheme=settings.cos_scheme,
                   Timeout=timeout)
    if settings.cos_endpoint:
        options["Endpoint"] = settings.cos_endpoint
    if settings.cos_address:
        options["IP"], options["Port"] = settings.cos_address
    session = session or transport.new_session(required_header=COS_REQUEST_ID)
    if lean and not isinstance(session, transport.LeanSession):
        session = transport.LeanSession(session)
    return CosS3Client(CosConfig(**options), retry=single_attempt_retry(), session=session)


def describe_error(exc):
    """A short, secret-free, single-line cause for a log line."""
    if isinstance(exc, CosServiceError):
        return "COS answered %s %s" % (exc.get_status_code(), logs.short(exc.get_error_code()))
    return "%s: %s" % (type(exc).__name__, logs.short(str(exc)))


def classify_error(exc):
    """``retry``'s verdict on a COS SDK error: a ``CosServiceError`` by its status and error code; a
    ``CosClientError`` by the transport's exception it wraps (both SDK lines raise it while handling that
    one: its ``__context__``), a refused redirect being final; one that wraps nothing is the SDK's word for
    a network failure, worth another attempt."""
    if isinstance(exc, CosServiceError):
        return retry.classify(exc.get_status_code(), exc.get_error_code())
    verdict = retry.error_verdict(exc)
    if verdict is not None:
        return verdict
    if isinstance(exc, CosClientError):
        wrapped = exc.__cause__ or exc.__context__
        if wrapped is None:
            return retry.Verdict(True, "COS client error (a network failure)")
        return retry.classify(error=wrapped)  # what the SDK wrapped: not a network error (final)
    return retry.classify(error=exc)


def name_decoder(encoding_types, decode=unquote):
    """How to read the names of a listing's answer (COS's or OBS's) whose ``EncodingType`` values are
    ``encoding_types``: with ``decode`` when the answer says they are URL-encoded (``url``), else as they are
    (a server that ignores ``encoding-type=url`` sends them raw: decoding would turn ``%41`` into ``A``)."""
    if any((text or "").strip().lower() == "url" for text in encoding_types):
        return decode
    return _as_is


def _as_is(text):
    return text


def read_listing(answer, prefix, marker=""):
    """(entries, next_marker or None after the last page, cause or None) from a ``list_objects`` answer asked
    for ``prefix`` after ``marker`` with ``EncodingType="url"``; ``entries`` are its ``Contents`` (dicts, each
    ``Key`` decoded when the answer says it is encoded). See ``markers.MarkerStore.list_page`` for what is
    refused."""
    if not isinstance(answer, dict) or "Name" not in answer or "IsTruncated" not in answer:
        return [], None, "COS answered a listing that is not one"
    decode = name_decoder([answer.get("EncodingType")])
    if decode(answer.get("Prefix") or "") != prefix:
        return [], None, "COS answered a listing of another prefix (%s)" % logs.short(decode(answer.get("Prefix")
                                                                                            or ""))
    contents = answer.get("Contents") or []
    if isinstance(contents, dict):  # one entry: some SDK versions give the dict itself
        contents = [contents]
    if not all(isinstance(item, dict) and isinstance(item.get("Key"), str) and item["Key"] for item in contents):
        return [], None, "COS answered a listing entry without a name"
    entries = [dict(item, Key=decode(item["Key"])) for item in contents]
    previous = marker
    for entry in entries:
        name = entry["Key"]
        if not name.startswith(prefix) or name <= previous:
            return [], None, "COS's listing is out of order or outside %s (at %s)" % (logs.short(prefix),
                                                                                     logs.short(name))
        previous = name
    truncated = str(answer.get("IsTruncated", "")).lower()
    if truncated not in ("true", "false"):
        return [], None, "COS answered a listing that does not say whether it goes on"
    if truncated == "false":
        return entries, None, None
    if not entries:
        return [], None, "COS said the listing goes on but sent no keys"
    return entries, previous, None
