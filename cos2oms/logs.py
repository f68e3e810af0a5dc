# -*- coding: utf-8 -*-
"""Logging: how keys and text from the network appear in log lines, and the quiet SDK loggers.

Every value that did not come from us (object keys, OMS's ``error_code``/``error_msg``, request ids,
``Location`` headers, COS error messages) goes through ``show``: quoted, every line break and control
character escaped, and capped, so that it can neither forge a log line nor flood the log.
"""
import json
import logging

#: Characters of a network-supplied value shown in a log line (object keys are never cut).
TEXT_CAP = 300
#: The COS SDK logs its signing key and Authorization at DEBUG, and raw error bodies at ERROR: its loggers
#: stay at WARNING or above and pass through ``EscapeFilter``.
QUIET_LOGGERS = ("qcloud_cos", "qcloud_cos_v5", "urllib3")
LOGGER_NAME = "cos2oms"
# Line separators json.dumps leaves alone with ensure_ascii=False (str.splitlines and many viewers split on them).
_UNSAFE = dict((c, "\\u%04x" % c) for c in (0x7f, 0x85, 0x2028, 0x2029))


def show(text, cap=None):
    """``text`` as it appears in a log line: JSON-quoted, control characters and line separators escaped,
    at most ``cap`` characters of it (then ``...(+N chars)``). ``-`` for None or empty."""
    if text is None or text == "":
        return "-"
    if not isinstance(text, str):
        text = str(text)
    extra = ""
    if cap is not None and len(text) > cap:
        extra = "...(+%d chars)" % (len(text) - cap)
        text = text[:cap]
    return json.dumps(text, ensure_ascii=False).translate(_UNSAFE) + extra


def short(text):
    """A network-supplied value (error message, request id, Location) for a log line: escaped and capped."""
    return show(text, TEXT_CAP)


class EscapeFilter(logging.Filter):
    """Makes a library's log record one escaped, capped line (the COS SDK logs raw error bodies)."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a library's malformed format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = show(message, TEXT_CAP * 4), None
        record.exc_info, record.exc_text = None, None  # tracebacks would carry raw messages across lines
        return True


_ESCAPE = EscapeFilter()


def quiet_library_loggers(level):
    """Hold the SDK loggers at WARNING or above and escape what they log."""
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in QUIET_LOGGERS:
            library = logging.getLogger(name)
            if _ESCAPE not in library.filters:
                library.addFilter(_ESCAPE)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def configure(level):
    """Set up logging for one invocation or command run (cheap; safe to call every time)."""
    if not logging.getLogger().handlers:  # outside SCF (a script): print somewhere
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger(LOGGER_NAME).setLevel(level)
    quiet_library_loggers(level)
