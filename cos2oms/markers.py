# -*- coding: utf-8 -*-
"""Marker objects in the log bucket: one per key, recording its outcome.

Markers are empty objects named as the guide names them:
``oms_source_record/{task_id}/success_object/{event key}`` and ``.../failed_object/{event key}``.
"""
import logging
import random
import time

from cos2oms import logs, storage, transport

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

logger = logging.getLogger("cos2oms.markers")


def marker_prefix(task_id, kind):
    return "%s%s/%s/" % (MARKER_ROOT, task_id, kind)


def marker_key(task_id, kind, event_key):
    """The guide's marker name: the prefix, then the event key as delivered (it starts with ``/``)."""
    return marker_prefix(task_id, kind) + event_key


class MarkerStore(object):
    """Markers of one task in the log bucket."""

    def __init__(self, client, bucket, task_id, sleep=time.sleep):
        self.client = client
        self.bucket = bucket
        self.task_id = task_id
        self._sleep = sleep

    def key(self, kind, event_key):
        return marker_key(self.task_id, kind, event_key)

    def _seconds(self, deadline):
        """Seconds the next COS request may take as a whole, or None when no time is left."""
        seconds = storage.COS_TIMEOUT
        if deadline is not None and deadline.bounded:
            seconds = min(seconds, deadline.remaining() - END_MARGIN)
            if seconds < MIN_COS_SECONDS:
                return None
        return seconds

    def _call(self, deadline, method, **kwargs):
        """One SDK call, tried again once on a network error, 429 or 5xx while the invocation has time.
        Returns (answer, None) or (None, cause)."""
        cause = None
        for attempt in range(1, COS_ATTEMPTS + 1):
            if attempt > 1:
                self._sleep(0.05 + random.random() * 0.1)
            seconds = self._seconds(deadline)
            if seconds is None:
                cause = (cause + "; " if cause else "") + "no time left in the invocation"
                break
            try:
                with transport.time_limit(seconds):
                    return getattr(self.client, method)(Bucket=self.bucket, **kwargs), None
            except (storage.CosClientError, storage.CosServiceError) as exc:
                cause = storage.describe_error(exc)
                if not storage.is_retryable(exc):
                    break
            except Exception as exc:  # the SDK raises others too (e.g. on a malformed answer)
                cause = storage.describe_error(exc)
                break
        return None, cause

    def write(self, kind, event_key, deadline=None):
        """Write one marker; returns None on success, else the cause (already logged as an error)."""
        key = self.key(kind, event_key)
        # put_object returns the response headers and raises on failure: success is "no exception".
        _, cause = self._call(deadline, "put_object", Body=b"", Key=key)
        if cause is not None:
            logger.error("marker not written key=%s marker=%s bucket=%s cause=%s", logs.show(event_key), logs.show(key),
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
