# -*- coding: utf-8 -*-
"""Configuration: environment variables -> one immutable, validated ``Settings`` record.

Each setting is read, in order, from the environment, from a constant at the top of ``index.py`` (unless it
still holds a placeholder such as the guide's ``"***Access Key***"``), from the runtime's ``TENCENTCLOUD_*``
variables or the SCF context where that applies, and finally from its default. A missing or invalid setting
raises ``ConfigError`` naming the variable. Every number has a finite range (``RANGES``).
"""
import importlib.util
import logging
import math
import os
import re
import sys
from typing import NamedTuple, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from cos2oms import context as scf_context

KEY_ENCODINGS = ("url", "raw")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_REGION = "ap-beijing"
DEFAULT_OMS_TIMEOUT = 5.0
DEFAULT_OMS_MAX_ATTEMPTS = 3
#: Inclusive (minimum, maximum) of each numeric setting. 900 s is SCF's longest event-function limit.
RANGES = {
    "OMS_TIMEOUT": (0.1, 900.0),
    "OMS_MAX_ATTEMPTS": (1, 10),
}

#: Every variable the function reads, for documentation and deployment files.
VARIABLES = (
    "SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET", "COS_REGION",
    "COS_SECRET_ID", "COS_SECRET_KEY", "COS_TOKEN", "COS_SCHEME", "COS_ENDPOINT", "COS_ADDRESS",
    "OMS_TIMEOUT", "OMS_MAX_ATTEMPTS", "OMS_KEY_ENCODING", "RAISE_ON_FAILURE", "LOG_LEVEL", "LOG_FORMAT",
)
REQUIRED = ("SYNC_URL", "HW_AK", "HW_SK", "LOG_BUCKET")
#: The execution role's temporary credentials, set by SCF.
ROLE_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")

_PLACEHOLDER = re.compile(r"^\*\*\*.*\*\*\*$", re.S)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]*-[0-9]+$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_SECRETS = ("hw_sk", "cos_secret_key", "cos_token")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, variable, problem):
        ValueError.__init__(self, "%s: %s" % (variable, problem))
        self.variable = variable


class Settings(NamedTuple):
    """The validated configuration of one invocation. ``repr`` never shows a secret."""

    sync_url: str
    task_id: str
    hw_ak: str
    hw_sk: str
    log_bucket: str
    cos_region: str
    cos_secret_id: str
    cos_secret_key: str
    cos_token: Optional[str]
    cos_scheme: str
    cos_endpoint: Optional[str]
    cos_address: Optional[Tuple[str, int]]
    oms_timeout: float
    oms_max_attempts: int
    key_encoding: str
    raise_on_failure: bool
    log_level: int
    log_format: str

    def __repr__(self):
        shown = ", ".join("%s=%r" % (name, "<redacted>" if name in _SECRETS and value else value)
                          for name, value in zip(self._fields, self))
        return "Settings(%s)" % shown

    def secrets(self):
        """The secret values set, so that tests can check no log line carries one."""
        return [getattr(self, name) for name in _SECRETS if getattr(self, name)]

    def cos_client_key(self):
        """What a COS client is built from: a new value means a new client."""
        return (self.cos_region, self.cos_secret_id, self.cos_secret_key, self.cos_token, self.cos_scheme,
                self.cos_endpoint, self.cos_address)


class _Source(object):
    """Looks a variable up in the environment, then in the code's constants."""

    def __init__(self, environ, constants):
        self.environ = environ
        self.constants = constants or {}

    def get(self, name, default=None):
        value = self.environ.get(name)
        if value is not None and value.strip() != "":
            return value.strip()
        value = self.constants.get(name)
        if isinstance(value, str) and value.strip() != "" and not _PLACEHOLDER.match(value.strip()):
            return value.strip()
        return default

    def required(self, name):
        value = self.get(name)
        if value is None:
            raise ConfigError(name, "is required (set it in the function's environment variables)")
        return value


def task_address(sync_url):
    """(task URL, project id, task id) from the OMS sync request receiving address
    (``https://host/v2/{project}/sync-tasks/{task}/events``), or None when it names no sync task."""
    parts = urlsplit(sync_url)
    segments = parts.path.split("/")
    for i, segment in enumerate(segments[:-1]):
        if segment == "sync-tasks" and segments[i + 1]:
            project = segments[i - 1] if i >= 1 else ""
            return urlunsplit((parts.scheme, parts.netloc, "/".join(segments[:i + 2]), "", "")), project, \
                segments[i + 1]
    return None


def task_id_from_url(sync_url):
    """The path segment after ``sync-tasks`` in the OMS sync request receiving address."""
    address = task_address(sync_url)
    return address[2] if address else None


def _sync_url(source):
    url = source.required("SYNC_URL")
    if "@" in url:
        # Checked first and never echoed: whatever the scheme looks like, the part before "@" may be a
        # credential. OMS authenticates with the signature only, and its addresses hold no "@".
        raise ConfigError("SYNC_URL", "must not carry credentials (user:password@host); OMS is authenticated "
                                      "with HW_AK/HW_SK")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("SYNC_URL", "must be an http(s) URL, got %r" % url)
    if task_id_from_url(url) is None:
        raise ConfigError("SYNC_URL", "must look like https://.../v2/{project_id}/sync-tasks/{task_id}/events, "
                                      "got %r" % url)
    return url


def _number(source, name, default, kind):
    raw = source.get(name)
    if raw is None:
        return default
    low, high = RANGES[name]
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(name, "must be a number from %s to %s, got %r" % (low, high, raw)) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(name, "must be from %s to %s, got %r" % (low, high, raw))
    return value


def _choice(source, name, choices, default, normalise=str.lower):
    value = normalise(source.get(name, default))
    if value not in choices:
        raise ConfigError(name, "must be one of %s, got %r" % ("/".join(choices), value))
    return value


def _flag(source, name):
    raw = source.get(name, "")
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(name, "must be true/false (1/0, yes/no, on/off), got %r" % raw)


def _cos_credentials(source):
    """One group: a fixed key pair (and optional COS_TOKEN), or all three from the execution role."""
    secret_id, secret_key = source.get("COS_SECRET_ID"), source.get("COS_SECRET_KEY")
    if secret_id or secret_key:
        if not secret_id:
            raise ConfigError("COS_SECRET_ID", "is required when COS_SECRET_KEY is set")
        if not secret_key:
            raise ConfigError("COS_SECRET_KEY", "is required when COS_SECRET_ID is set")
        return secret_id, secret_key, source.get("COS_TOKEN")
    role = [source.environ.get(name) or None for name in ROLE_VARIABLES]
    if not (role[0] and role[1]):
        raise ConfigError("COS_SECRET_ID", "no COS credentials: set COS_SECRET_ID and COS_SECRET_KEY, or give the "
                                           "function an execution role (TENCENTCLOUD_SECRETID/SECRETKEY)")
    return role[0], role[1], role[2]


def _endpoint(source):
    """CosConfig's ``Endpoint``: a host name such as ``cos-internal.ap-beijing.tencentcos.cn``."""
    raw = source.get("COS_ENDPOINT")
    if raw is None:
        return None
    if "@" in raw:
        raise ConfigError("COS_ENDPOINT", "must not carry credentials (user:password@host)")
    if not _HOST.match(raw):
        raise ConfigError("COS_ENDPOINT", "must be a host name such as cos.ap-beijing.myqcloud.com (no scheme, "
                                          "port or path), got %r" % raw)
    return raw


def _address(source):
    raw = source.get("COS_ADDRESS")
    if raw is None:
        return None
    host, sep, port = raw.rpartition(":")
    if "@" in raw or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("COS_ADDRESS", "must be host:port")
    return host, int(port)


def load(environ, constants=None, context_region=None):
    """Validate the configuration. ``environ`` is a mapping such as ``os.environ``; ``constants`` maps
    variable names to the values written at the top of ``index.py``; ``context_region`` is the SCF
    context's ``tencentcloud_region`` (the region fallback after ``TENCENTCLOUD_REGION``)."""
    source = _Source(environ, constants)
    sync_url = _sync_url(source)
    log_bucket = source.required("LOG_BUCKET")
    if not _BUCKET.match(log_bucket):
        raise ConfigError("LOG_BUCKET", "must be BucketName-APPID (e.g. oms-log-1250000000), got %r" % log_bucket)
    secret_id, secret_key, token = _cos_credentials(source)
    return Settings(
        sync_url=sync_url,
        task_id=task_id_from_url(sync_url),
        hw_ak=source.required("HW_AK"),
        hw_sk=source.required("HW_SK"),
        log_bucket=log_bucket,
        cos_region=(source.get("COS_REGION") or source.environ.get("TENCENTCLOUD_REGION") or context_region
                    or DEFAULT_REGION),
        cos_secret_id=secret_id,
        cos_secret_key=secret_key,
        cos_token=token,
        cos_scheme=_choice(source, "COS_SCHEME", ("https", "http"), "https"),
        cos_endpoint=_endpoint(source),
        cos_address=_address(source),
        oms_timeout=_number(source, "OMS_TIMEOUT", DEFAULT_OMS_TIMEOUT, float),
        oms_max_attempts=_number(source, "OMS_MAX_ATTEMPTS", DEFAULT_OMS_MAX_ATTEMPTS, int),
        key_encoding=_choice(source, "OMS_KEY_ENCODING", KEY_ENCODINGS, "url"),
        raise_on_failure=_flag(source, "RAISE_ON_FAILURE"),
        log_level=getattr(logging, _choice(source, "LOG_LEVEL", LOG_LEVELS, "INFO", str.upper)),
        log_format=_choice(source, "LOG_FORMAT", LOG_FORMATS, "text"),
    )


# ----------------------------------------------------------------------------- loading

_INDEX_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "index.py")
_index_by_path = []


def _is_index_py(module):
    try:
        return os.path.samefile(module.__file__, _INDEX_PY)
    except (AttributeError, TypeError, OSError):
        return False


def guide_constants():
    """The constants at the top of ``index.py`` (the guide's way to configure): read when index.py sits beside
    the package, as in the zip and the repository (not for a pip-installed package). Always that file: an
    ``index`` module found first elsewhere on ``sys.path`` is never imported or trusted."""
    if not os.path.isfile(_INDEX_PY):
        return None
    module = sys.modules.get("index")
    if module is None or not _is_index_py(module):
        if not _index_by_path:
            spec = importlib.util.spec_from_file_location("cos2oms._guide_index", _INDEX_PY)
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
            _index_by_path.append(loaded)
        module = _index_by_path[0]
    return getattr(module, "CONSTANTS", None)


def load_settings(constants=None, environ=None, context=None):
    """The validated settings: the environment, then ``constants`` (default: index.py's), then the context."""
    return load(os.environ if environ is None else environ, guide_constants() if constants is None else constants,
                context_region=scf_context.region(context))


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


def agreed(variable, configured, task_value, field, force=False):
    """A setting both configured and said by the sync task (ShowSyncTask's ``field``): the configured value, the
    task's when none is configured; ConfigError naming both when they differ, unless ``force``."""
    if configured is None:
        return task_value
    if task_value is not None and configured != task_value and not force:
        raise ConfigError(variable, "is %r but the sync task's %s (ShowSyncTask) is %r: set it to the task's, or "
                                    "unset it, or use --force to go on with %r" % (configured, field, task_value,
                                                                                   configured))
    return configured


def load_source(environ, base_settings, bucket=None, task=None, force=False):
    """The source bucket: ``bucket`` (a command-line value) or ``SOURCE_BUCKET``, else the sync task's
    (``task``: ``oms.SyncTaskSettings`` or None); region ``SOURCE_REGION``, else the task's, else the log
    bucket's (``COS_REGION``); endpoint ``SOURCE_ENDPOINT`` (see ``_source_endpoint``). A configured value the
    task contradicts is a ConfigError unless ``force``."""
    source = _Source(environ, None)
    bucket = bucket.strip() if bucket and bucket.strip() else source.get("SOURCE_BUCKET")
    bucket = agreed("SOURCE_BUCKET", bucket, task and task.src_bucket, "src_bucket", force)
    if bucket is None:
        raise ConfigError("SOURCE_BUCKET", "is required (or --source-bucket): the sync task's source bucket, "
                                           "BucketName-APPID")
    if not _BUCKET.match(bucket):
        raise ConfigError("SOURCE_BUCKET", "must be BucketName-APPID (e.g. photos-1250000000), got %r" % bucket)
    if bucket == base_settings.log_bucket:
        raise ConfigError("SOURCE_BUCKET", "is LOG_BUCKET: the markers must live in another bucket")
    region = agreed("SOURCE_REGION", source.get("SOURCE_REGION"), task and task.src_region, "src_region",
                    force) or base_settings.cos_region
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


def _obs_endpoint(source, region=None, force=False):
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
        agreed("OBS_ENDPOINT", named.group(1), region, "dst_region", force)
    return parts, port


def load_obs(environ, base_settings, task=None, force=False):
    """The destination: ``OBS_BUCKET`` at ``OBS_ENDPOINT``, read with ``OBS_AK``/``OBS_SK`` (default
    ``HW_AK``/``HW_SK``; a read-only key is better), keys under ``OBS_PREFIX`` (default none). Bucket and
    endpoint default to the sync task's (``task``: ``dst_bucket``, OBS's endpoint for ``dst_region``); a
    configured value the task contradicts is a ConfigError unless ``force``."""
    source = _Source(environ, None)
    bucket = agreed("OBS_BUCKET", source.get("OBS_BUCKET"), task and task.dst_bucket, "dst_bucket", force)
    if bucket is None:
        bucket = source.required("OBS_BUCKET")
    if not _OBS_BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError("OBS_BUCKET", "must be an OBS bucket name (3 to 63 characters: a-z, 0-9, '-', '.'), "
                                        "got %r" % bucket)
    parts, port = _obs_endpoint(source, task and task.dst_region, force)
    ak, sk = source.get("OBS_AK"), source.get("OBS_SK")
    if ak or sk:
        if not ak:
            raise ConfigError("OBS_AK", "is required when OBS_SK is set")
        if not sk:
            raise ConfigError("OBS_SK", "is required when OBS_AK is set")
    else:
        ak, sk = base_settings.hw_ak, base_settings.hw_sk
    prefix = environ.get("OBS_PREFIX") or ""  # as given: a prefix's spaces are part of every key
    if prefix.startswith("/"):
        raise ConfigError("OBS_PREFIX", "must not start with '/' (OBS keys do not), got %r" % prefix)
    return ObsSettings(bucket=bucket, endpoint="%s://%s" % (parts.scheme, parts.netloc), secure=parts.scheme == "https",
                       host=parts.hostname, port=port, ak=ak, sk=sk, prefix=prefix)
