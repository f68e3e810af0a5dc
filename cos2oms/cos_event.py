# -*- coding: utf-8 -*-
"""Read-only accessors over a COS trigger event, so the handler never indexes the raw dict itself.

The *event key* is ``cos.cosObject.key`` exactly as COS delivers it: ``/{appid}/{bucket}/{object key}``, not
URL-encoded. It is what OMS is sent (encoded by ``oms``) and what markers are named after.
"""

CREATED_PREFIX = "cos:ObjectCreated:"


def _get(mapping, *path):
    for name in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(name)
    return mapping


class CosRecord(object):
    """One entry of ``event["Records"]``; ``position`` is its index there (for log lines)."""

    def __init__(self, raw, position):
        self.raw = raw
        self.position = position

    @property
    def event_name(self):
        """``event.eventName``, e.g. ``cos:ObjectCreated:Put``; None when absent."""
        name = _get(self.raw, "event", "eventName")
        return name if isinstance(name, str) else None

    @property
    def key(self):
        """The event key, or None when the record has no usable key."""
        key = _get(self.raw, "cos", "cosObject", "key")
        return key if isinstance(key, str) and key != "" else None

    @property
    def bucket(self):
        """``{name}-{appid}`` of the source bucket, as ``LOG_BUCKET`` is written; None when absent."""
        name, appid = _get(self.raw, "cos", "cosBucket", "name"), _get(self.raw, "cos", "cosBucket", "appid")
        if name is None or appid is None:
            return None
        return "%s-%s" % (name, appid)

    @property
    def object_key(self):
        """The object's key inside its bucket (the event key without ``/{appid}/{bucket}/``)."""
        key = self.key
        if key is None:
            return None
        name, appid = _get(self.raw, "cos", "cosBucket", "name"), _get(self.raw, "cos", "cosBucket", "appid")
        prefix = "/%s/%s/" % (appid, name)
        if key.startswith(prefix):
            return key[len(prefix):]
        parts = key.split("/", 3)
        return parts[3] if key.startswith("/") and len(parts) == 4 else key

    @property
    def problem(self):
        """Why this record cannot be processed, or None."""
        if not isinstance(self.raw, dict):
            return "record is a %s, not an object" % type(self.raw).__name__
        if self.key is None:
            return "record has no string cos.cosObject.key"
        try:
            self.key.encode("utf-8")
        except UnicodeError:
            return "cos.cosObject.key is not valid Unicode (a lone surrogate)"
        return None

    @property
    def is_created(self):
        """True unless ``eventName`` is present and names something other than an object creation."""
        name = _get(self.raw, "event", "eventName")
        return name is None or (isinstance(name, str) and name.startswith(CREATED_PREFIX))

    def is_marker_of(self, log_bucket, marker_root):
        """True for one of our own markers (the loop guard)."""
        return self.bucket == log_bucket and (self.object_key or "").startswith(marker_root)


def records(event):
    """The records of a COS event; ``ValueError`` when the event itself is not one."""
    if not isinstance(event, dict):
        raise ValueError("expected a COS trigger event: a JSON object with a list 'Records', got %s"
                         % type(event).__name__)
    raw = event.get("Records")
    if not isinstance(raw, list):
        raise ValueError("expected a COS trigger event: 'Records' must be a list, got %s" % type(raw).__name__)
    return [CosRecord(item, i) for i, item in enumerate(raw)]
