# -*- coding: utf-8 -*-
"""What the SCF ``context`` tells us. SCF passes a dict; tests and scripts may pass an object or ``None``.

Documented fields used here: ``request_id``, ``time_limit_in_ms`` (the function's configured limit) and
``tencentcloud_region``.

Tencent's local runner (``scf native invoke``, the old SCF CLI, PyPI ``scf``) puts the timeout in *seconds*
into ``time_limit_in_ms`` (``30`` for 30 s) and sets ``SCF_LOCAL=true`` and ``SCF_FUNCTION_TIMEOUT`` (seconds)
in the environment. Under ``SCF_LOCAL=true`` the limit is therefore read from ``SCF_FUNCTION_TIMEOUT``, or,
when that is missing or unusable, from ``time_limit_in_ms`` taken as seconds.
"""
import os

LOCAL_RUNNER = "SCF_LOCAL"
LOCAL_TIMEOUT = "SCF_FUNCTION_TIMEOUT"


def _field(context, name):
    if context is None:
        return None
    if isinstance(context, dict):
        return context.get(name)
    return getattr(context, name, None)


def request_id(context):
    """The invocation's request id, or ``-``."""
    value = _field(context, "request_id")
    return str(value) if value else "-"


def _positive(value):
    """``value`` as a positive finite float, or None."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < float("inf") else None


def local_runner(environ=None):
    """True under Tencent's local runner (``SCF_LOCAL=true``), which passes seconds as ``time_limit_in_ms``."""
    environ = os.environ if environ is None else environ
    return str(environ.get(LOCAL_RUNNER, "")).strip().lower() == "true"


def time_limit_seconds(context, environ=None):
    """The configured time limit in seconds, or None (no context, or no usable value).

    ``environ`` (default ``os.environ``) is read for the local runner's variables only.
    """
    environ = os.environ if environ is None else environ
    value = _positive(_field(context, "time_limit_in_ms"))
    if local_runner(environ):
        seconds = _positive(environ.get(LOCAL_TIMEOUT))
        return seconds if seconds is not None else value
    return value / 1000.0 if value is not None else None


def region(context):
    """The region the function runs in (``ap-guangzhou``), or None."""
    value = _field(context, "tencentcloud_region")
    return value if isinstance(value, str) and value else None
