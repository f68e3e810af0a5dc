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
from urllib.parse import urlsplit, urlunsplit

from cos2oms import context as scf_context
from cos2oms.record import Record

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
    # the audit's (seconds, and keys a pass): a week of grace, a resubmission cap of ten million, 30 days apart
    "AUDIT_GRACE": (0, 7 * 86400),
    "AUDIT_MAX_RESUBMIT": (0, 10 ** 7),
    "AUDIT_INTERVAL": (0, 30 * 86400),
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

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]*-[0-9]+$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_SECRETS = ("hw_sk", "cos_secret_key", "cos_token")


class _OnFirstUse(object):
    """A regular expression compiled when first used: most invocations never need it, and compiling one
    costs the cold start about half a million instructions on Python 3.6."""

    def __init__(self, pattern):
        self.pattern = pattern
        self._compiled = None

    def match(self, text):
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled.match(text)


_HOST = _OnFirstUse(r"^[A-Za-z0-9.-]+$")  # COS_ENDPOINT, SOURCE_ENDPOINT, OBS_ENDPOINT's host


def _is_placeholder(value):
    """The guide's placeholders: ``***...***`` (``"***Access Key***"``)."""
    return len(value) >= 6 and value.startswith("***") and value.endswith("***")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, variable, problem):
        ValueError.__init__(self, "%s: %s" % (variable, problem))
        self.variable = variable


class Settings(Record):
    """The validated configuration of one invocation. ``repr`` never shows a secret. ``cos_token``,
    ``cos_endpoint`` and ``cos_address`` (a ``(host, port)``) may be None; ``oms_timeout`` is a float,
    ``oms_max_attempts`` and ``log_level`` ints, ``raise_on_failure`` a bool; the rest are strings."""

    __slots__ = ()
    _fields = ("sync_url", "task_id", "hw_ak", "hw_sk", "log_bucket", "cos_region", "cos_secret_id",
               "cos_secret_key", "cos_token", "cos_scheme", "cos_endpoint", "cos_address", "oms_timeout",
               "oms_max_attempts", "key_encoding", "raise_on_failure", "log_level", "log_format")

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
        if isinstance(value, str) and value.strip() != "" and not _is_placeholder(value.strip()):
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


def _number(source, name, default, kind, what="a number from %s to %s", unit=""):
    """``name`` read with ``kind`` (``ValueError`` when it cannot), within ``RANGES[name]``; else ``default``."""
    raw = source.get(name)
    if raw is None:
        return default
    low, high = RANGES[name]
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(name, ("must be " + what + ", got %r") % (low, high, raw)) from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(name, "must be from %s to %s%s, got %r" % (low, high, unit, raw))
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


def key_pair(source, id_name, secret_name):
    """Two variables set together or not at all: (id, secret), None for both when neither is set; ConfigError
    naming the one missing."""
    key_id, secret = source.get(id_name), source.get(secret_name)
    if key_id or secret:
        if not key_id:
            raise ConfigError(id_name, "is required when %s is set" % secret_name)
        if not secret:
            raise ConfigError(secret_name, "is required when %s is set" % id_name)
    return key_id, secret


def _cos_credentials(source):
    """One group: a fixed key pair (and optional COS_TOKEN), or all three from the execution role."""
    secret_id, secret_key = key_pair(source, "COS_SECRET_ID", "COS_SECRET_KEY")
    if secret_id:
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
