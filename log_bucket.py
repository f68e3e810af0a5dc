# -*- coding: utf-8 -*-
"""The COS log bucket: the client, and the marker objects that record each key's outcome.

Markers are empty objects named as the guide names them:
``oms_source_record/{task_id}/success_object/{event key}`` and ``.../failed_object/{event key}``.

Works with both SDK lines: ``qcloud_cos`` (cos-python-sdk-v5, vendored for Python 3.7+) and
``qcloud_cos_v5`` (the 1.6.6 copy built into SCF's Python 3.6 runtime). They count retries differently
(1.6.6: ``retry`` attempts in all, and ``retry=0`` breaks; 1.8.3+: ``retry + 1`` attempts with
``sleep(j)`` between), so the client is built to make exactly one attempt per call, with a short timeout,
and the few retries a marker write deserves are made here, within the invocation's time.
"""
import json
import logging
import random
import re
import sys
import time

try:
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_cos.cos_exception import CosClientError, CosServiceError
except ImportError:  # SCF's Python 3.6 runtime
    from qcloud_cos_v5 import CosConfig, CosS3Client
    from qcloud_cos_v5.cos_exception import CosClientError, CosServiceError

MARKER_ROOT = "oms_source_record/"
SUCCESS = "success_object"
FAILED = "failed_object"
#: Seconds per COS request (connect, and each read): one marker write cannot eat SCF's default 3 s.
COS_TIMEOUT = 2.0
#: A COS call with less time than this left in the invocation is not started.
MIN_COS_SECONDS = 0.05
#: Seconds kept at the very end of the invocation, to return before SCF stops it.
END_MARGIN = 0.1
#: Attempts per COS call (marker write, list, batch delete), while the invocation has time.
COS_ATTEMPTS = 2
#: COS lists and batch-deletes at most this many keys per request.
COS_PAGE = 1000
#: SDK versions from which ``retry=N`` means N+1 attempts.
_RETRY_PLUS_ONE_SINCE = (1, 8, 3)

logger = logging.getLogger("cos2oms.log_bucket")


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


def build_client(settings, session=None):
    """A COS client for the log bucket (one attempt per call, ``COS_TIMEOUT`` seconds). ``session``: the
    ``requests.Session`` it sends with (both SDK lines take one; their own pools hold 10 connections)."""
    options = dict(Region=settings.cos_region, SecretId=settings.cos_secret_id, SecretKey=settings.cos_secret_key,
                   Token=settings.cos_token, Scheme=settings.cos_scheme, Timeout=COS_TIMEOUT)
    if settings.cos_endpoint:
        options["Endpoint"] = settings.cos_endpoint
    if settings.cos_address:
        options["IP"], options["Port"] = settings.cos_address
    return CosS3Client(CosConfig(**options), retry=single_attempt_retry(), session=session)


def marker_prefix(task_id, kind):
    return "%s%s/%s/" % (MARKER_ROOT, task_id, kind)


def marker_key(task_id, kind, event_key):
    """The guide's marker name: the prefix, then the event key as delivered (it starts with ``/``)."""
    return marker_prefix(task_id, kind) + event_key


def show(key):
    """A key as it appears in log lines: quoted, control characters escaped (a newline in an object name
    cannot split a line)."""
    return json.dumps(key, ensure_ascii=False)


def describe_error(exc):
    """A short, secret-free cause for a log line."""
    if isinstance(exc, CosServiceError):
        return "COS answered %s %s" % (exc.get_status_code(), exc.get_error_code() or "")
    return "%s: %s" % (type(exc).__name__, exc)


def _retryable(exc):
    if isinstance(exc, CosServiceError):
        status = exc.get_status_code()
        return status == 429 or status >= 500
    return isinstance(exc, CosClientError)


class MarkerStore(object):
    """Markers of one task in the log bucket."""

    def __init__(self, client, bucket, task_id, sleep=time.sleep):
        self.client = client
        self.bucket = bucket
        self.task_id = task_id
        self._sleep = sleep

    def key(self, kind, event_key):
        return marker_key(self.task_id, kind, event_key)

    def _attempt_timeout(self, deadline):
        """Seconds the next SDK call may take (None: no time left), applied to the client.

        Both SDK lines read the timeout from the config's ``_timeout`` at each request; setting it there
        keeps a hung log bucket from running the invocation past its limit, one marker after another.
        """
        timeout = COS_TIMEOUT
        if deadline is not None and deadline.bounded:
            timeout = min(timeout, deadline.remaining() - END_MARGIN)
            if timeout < MIN_COS_SECONDS:
                return None
        conf = getattr(self.client, "_conf", None)
        if conf is not None and hasattr(conf, "_timeout"):
            conf._timeout = timeout
        return timeout

    def _call(self, deadline, method, **kwargs):
        """One SDK call, tried again once on a network error, 429 or 5xx while the invocation has time.
        Returns (answer, None) or (None, cause)."""
        cause = None
        for attempt in range(1, COS_ATTEMPTS + 1):
            if attempt > 1:
                self._sleep(0.05 + random.random() * 0.1)
            if self._attempt_timeout(deadline) is None:
                cause = (cause + "; " if cause else "") + "no time left in the invocation"
                break
            try:
                return getattr(self.client, method)(Bucket=self.bucket, **kwargs), None
            except (CosClientError, CosServiceError) as exc:
                cause = describe_error(exc)
                if not _retryable(exc):
                    break
            except Exception as exc:  # the SDK raises others too (e.g. on a malformed answer)
                cause = describe_error(exc)
                break
        return None, cause

    def write(self, kind, event_key, deadline=None):
        """Write one marker; returns None on success, else the cause (already logged as an error)."""
        key = self.key(kind, event_key)
        # put_object returns the response headers and raises on failure: success is "no exception".
        _, cause = self._call(deadline, "put_object", Body=b"", Key=key)
        if cause is not None:
            logger.error("marker not written key=%s marker=%s bucket=%s cause=%s", show(event_key), show(key),
                         self.bucket, cause)
        return cause

    def event_key(self, kind, marker):
        """The event key a marker was named after, or None when ``marker`` is not one of this task's."""
        prefix = marker_prefix(self.task_id, kind)
        if not marker.startswith(prefix) or marker == prefix:
            return None
        return marker[len(prefix):]

    def list_page(self, kind, marker="", max_keys=COS_PAGE, deadline=None):
        """One page of marker object keys: (keys, next_marker or None after the last page, cause or None)."""
        answer, cause = self._call(deadline, "list_objects", Prefix=marker_prefix(self.task_id, kind),
                                   Marker=marker, MaxKeys=max_keys)
        if cause is not None:
            return [], None, cause
        keys = [item["Key"] for item in answer.get("Contents", [])]
        truncated = str(answer.get("IsTruncated", "false")).lower() == "true"
        if not truncated or not keys:
            return keys, None, None
        return keys, answer.get("NextMarker") or keys[-1], None

    def delete(self, keys, deadline=None):
        """Batch-delete object keys (at most ``COS_PAGE``); returns {key: cause} for those not deleted."""
        if not keys:
            return {}
        answer, cause = self._call(deadline, "delete_objects",
                                   Delete={"Object": [{"Key": k} for k in keys], "Quiet": "true"})
        if cause is not None:
            return dict((k, cause) for k in keys)
        errors = answer.get("Error", []) if isinstance(answer, dict) else []
        if isinstance(errors, dict):
            errors = [errors]
        return dict((e.get("Key"), "%s %s" % (e.get("Code"), e.get("Message"))) for e in errors)
