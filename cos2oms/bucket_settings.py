# -*- coding: utf-8 -*-
"""What ``verify``, ``backfill`` and the audit read besides the function's settings: the sync task's source
bucket (``load_source``), the OBS bucket it copies into (``load_obs``), and the audit's pace and limits
(``load_audit``). Command-only: kept off the function's
import path (its cold start), beside ``settings``, whose reading of a variable they share."""
import re
from typing import NamedTuple, Optional
from urllib.parse import urlsplit

from cos2oms.settings import _BUCKET, _HOST, ConfigError, _endpoint, _number, _Source, key_pair


# ----------------------------------------------------------------------------- verify and backfill

#: What ``verify`` and ``backfill`` read besides the function's variables.
SOURCE_VARIABLES = ("SOURCE_BUCKET", "SOURCE_REGION", "SOURCE_ENDPOINT")
OBS_VARIABLES = ("OBS_BUCKET", "OBS_ENDPOINT", "OBS_AK", "OBS_SK", "OBS_PREFIX")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# OBS bucket names: 3 to 63 lower-case letters, digits, "-" and "."; starting and ending with a letter or digit.
_OBS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class SourceSettings(NamedTuple):
    """The sync task's source bucket, as ``verify`` and ``backfill`` read it (with the log bucket's COS
    credentials)."""

    bucket: str  # BucketName-APPID
    name: str  # BucketName
    appid: str
    region: str
    endpoint: Optional[str]  # CosConfig's Endpoint for the source bucket; None: the SDK's for its region

    @property
    def event_prefix(self):
        """What COS puts before an object's key in an event: ``/{appid}/{BucketName}/``."""
        return "/%s/%s/" % (self.appid, self.name)


def _source_endpoint(source, region, base_settings):
    """``SOURCE_ENDPOINT``, checked as ``COS_ENDPOINT`` is; default ``COS_ENDPOINT`` when the source bucket is
    in the log bucket's region (an internal endpoint there serves both), else None (the SDK's endpoint for
    ``region``): a region-specific ``COS_ENDPOINT`` would send the source listing to the wrong region."""
    raw = source.get("SOURCE_ENDPOINT")
    if raw is None:
        return base_settings.cos_endpoint if region == base_settings.cos_region else None
    try:
        return _endpoint(_Source({"COS_ENDPOINT": raw}, None))
    except ConfigError as exc:
        problem = str(exc)[len(exc.variable) + 2:].replace("COS_ENDPOINT", "SOURCE_ENDPOINT")
        raise ConfigError("SOURCE_ENDPOINT", problem) from None


#: How a person goes on with configured values the sync task contradicts (named in the error).
FORCE = "--force"


def agreed(variable, configured, task_value, field, force=False, override=FORCE):
    """A setting both configured and said by the sync task (ShowSyncTask's ``field``): the configured value, the
    task's when none is configured; ConfigError naming both when they differ, unless ``force``. ``override``:
    what the error offers to go on anyway (``--force``), None when nothing may (the audit: ``force`` ignored)."""
    if configured is None:
        return task_value
    if task_value is not None and configured != task_value and not (force and override):
        way = ", or use %s to go on with %r" % (override, configured) if override else ""
        raise ConfigError(variable, "is %r but the sync task's %s (ShowSyncTask) is %r: set it to the task's, or "
                                    "unset it%s" % (configured, field, task_value, way))
    return configured


def load_source(environ, base_settings, bucket=None, task=None, force=False, override=FORCE):
    """The source bucket: ``bucket`` (a command-line value) or ``SOURCE_BUCKET``, else the sync task's
    (``task``: ``oms_tasks.SyncTaskSettings`` or None); region ``SOURCE_REGION``, else the task's, else the log
    bucket's (``COS_REGION``); endpoint ``SOURCE_ENDPOINT`` (see ``_source_endpoint``). A configured value the
    task contradicts is a ConfigError unless ``force`` (``override``: as ``agreed``'s)."""
    source = _Source(environ, None)
    bucket = bucket.strip() if bucket and bucket.strip() else source.get("SOURCE_BUCKET")
    bucket = agreed("SOURCE_BUCKET", bucket, task and task.src_bucket, "src_bucket", force, override)
    if bucket is None:
        raise ConfigError("SOURCE_BUCKET", "is required (or --source-bucket): the sync task's source bucket, "
                                           "BucketName-APPID")
    if not _BUCKET.match(bucket):
        raise ConfigError("SOURCE_BUCKET", "must be BucketName-APPID (e.g. photos-1250000000), got %r" % bucket)
    if bucket == base_settings.log_bucket:
        raise ConfigError("SOURCE_BUCKET", "is LOG_BUCKET: the markers must live in another bucket")
    region = agreed("SOURCE_REGION", source.get("SOURCE_REGION"), task and task.src_region, "src_region",
                    force, override) or base_settings.cos_region
    if not _REGION.match(region):
        raise ConfigError("SOURCE_REGION", "must be a COS region such as ap-guangzhou, got %r" % region)
    name, _, appid = bucket.rpartition("-")
    return SourceSettings(bucket=bucket, name=name, appid=appid, region=region,
                          endpoint=_source_endpoint(source, region, base_settings))


class ObsSettings(NamedTuple):
    """The OBS bucket the sync task copies into. ``repr`` never shows the secret key."""

    bucket: str
    endpoint: str  # scheme://host[:port], no path
    secure: bool
    host: str
    port: Optional[int]
    ak: str
    sk: str
    prefix: str  # put before each source key to make its destination key

    def __repr__(self):
        shown = ", ".join("%s=%r" % (name, "<redacted>" if name == "sk" and value else value)
                          for name, value in zip(self._fields, self))
        return "ObsSettings(%s)" % shown

    def destination_key(self, source_key):
        return self.prefix + source_key


#: OBS's documented endpoint for a region.
OBS_ENDPOINT_FORM = "https://obs.%s.myhuaweicloud.com"
_OBS_REGION_HOST = re.compile(r"^obs\.([a-z0-9-]+)\.myhuaweicloud\.com$")


def _obs_endpoint(source, region=None, force=False, override=FORCE):
    """``OBS_ENDPOINT``, else OBS's endpoint for ``region`` (the sync task's ``dst_region``); a configured
    ``obs.{region}.myhuaweicloud.com`` of another region is a ConfigError unless ``force``."""
    raw = source.get("OBS_ENDPOINT")
    if raw is None and region is not None and _REGION.match(region):
        raw = OBS_ENDPOINT_FORM % region
    elif raw is None:
        raw = source.required("OBS_ENDPOINT")
    parts = urlsplit(raw)
    if "@" in parts.netloc:
        # Never echo it: the part before "@" is a credential. OBS is authenticated with OBS_AK/OBS_SK.
        raise ConfigError("OBS_ENDPOINT", "must not carry credentials (user:password@host); OBS is authenticated "
                                          "with OBS_AK/OBS_SK")
    problem = "must be a URL such as https://obs.cn-north-4.myhuaweicloud.com (scheme and host, no path), got %r"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or not _HOST.match(parts.hostname):
        raise ConfigError("OBS_ENDPOINT", problem % raw)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("OBS_ENDPOINT", problem % raw) from None
    named = _OBS_REGION_HOST.match(parts.hostname.lower())
    if named and region is not None:
        agreed("OBS_ENDPOINT", named.group(1), region, "dst_region", force, override)
    return parts, port


def load_obs(environ, base_settings, task=None, force=False, override=FORCE):
    """The destination: ``OBS_BUCKET`` at ``OBS_ENDPOINT``, read with ``OBS_AK``/``OBS_SK`` (default
    ``HW_AK``/``HW_SK``; a read-only key is better), keys under ``OBS_PREFIX`` (default none). Bucket and
    endpoint default to the sync task's (``task``: ``dst_bucket``, OBS's endpoint for ``dst_region``); a
    configured value the task contradicts is a ConfigError unless ``force`` (``override``: as ``agreed``'s)."""
    source = _Source(environ, None)
    bucket = agreed("OBS_BUCKET", source.get("OBS_BUCKET"), task and task.dst_bucket, "dst_bucket", force,
                    override)
    if bucket is None:
        bucket = source.required("OBS_BUCKET")
    if not _OBS_BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError("OBS_BUCKET", "must be an OBS bucket name (3 to 63 characters: a-z, 0-9, '-', '.'), "
                                        "got %r" % bucket)
    parts, port = _obs_endpoint(source, task and task.dst_region, force, override)
    ak, sk = key_pair(source, "OBS_AK", "OBS_SK")
    if not ak:
        ak, sk = base_settings.hw_ak, base_settings.hw_sk
    prefix = environ.get("OBS_PREFIX") or ""  # as given: a prefix's spaces are part of every key
    if prefix.startswith("/"):
        raise ConfigError("OBS_PREFIX", "must not start with '/' (OBS keys do not), got %r" % prefix)
    return ObsSettings(bucket=bucket, endpoint="%s://%s" % (parts.scheme, parts.netloc), secure=parts.scheme == "https",
                       host=parts.hostname, port=port, ak=ak, sk=sk, prefix=prefix)


# ----------------------------------------------------------------------------- the audit

#: What the audit (``audit.main_handler``, ``python -m cos2oms audit``) reads besides verify's variables.
AUDIT_VARIABLES = ("AUDIT_GRACE", "AUDIT_MAX_RESUBMIT", "AUDIT_INTERVAL")
DEFAULT_AUDIT_GRACE = 3600.0
DEFAULT_AUDIT_MAX_RESUBMIT = 10000
DEFAULT_AUDIT_INTERVAL = 86400.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class AuditSettings(NamedTuple):
    """The audit's pace and limits: ``grace`` and ``interval`` in seconds, ``max_resubmit`` keys a pass."""

    grace: float  # objects last modified this long before the pass started are not judged yet
    max_resubmit: int  # keys resubmitted at most per pass (0: report only)
    interval: float  # a new pass starts this long after the last one completed


def parse_duration(text):
    """Seconds of ``90s``, ``30m``, ``2h``, ``1d`` or a plain number of seconds; ValueError otherwise."""
    match = _DURATION.match((text or "").strip().lower())
    if not match:
        raise ValueError("not a duration: %r" % text)
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _duration(source, name, default):
    return _number(source, name, default, parse_duration,
                   "a duration from %s to %s seconds (90s, 30m, 2h, 1d or seconds)", " seconds")


def load_audit(environ):
    """The audit's settings: ``AUDIT_GRACE`` (default 1 h), ``AUDIT_MAX_RESUBMIT`` (default 10,000; 0 = report
    only), ``AUDIT_INTERVAL`` (default 24 h); ``ConfigError`` naming the variable, with its range."""
    source = _Source(environ, None)
    return AuditSettings(grace=_duration(source, "AUDIT_GRACE", DEFAULT_AUDIT_GRACE),
                         max_resubmit=_number(source, "AUDIT_MAX_RESUBMIT", DEFAULT_AUDIT_MAX_RESUBMIT, int),
                         interval=_duration(source, "AUDIT_INTERVAL", DEFAULT_AUDIT_INTERVAL))
