# -*- coding: utf-8 -*-
"""What the SCF ``context`` tells us. SCF passes a dict; tests and scripts may pass an object or ``None``.

Documented fields used here: ``request_id``, ``time_limit_in_ms`` (the function's configured limit) and
``tencentcloud_region``.
"""


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


def time_limit_seconds(context):
    """The configured time limit in seconds, or None (no context, or no usable value)."""
    value = _field(context, "time_limit_in_ms")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value / 1000.0 if value > 0 and value != float("inf") else None


def region(context):
    """The region the function runs in (``ap-guangzhou``), or None."""
    value = _field(context, "tencentcloud_region")
    return value if isinstance(value, str) and value else None
