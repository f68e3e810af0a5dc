# -*- coding: utf-8 -*-
"""Logging: structured lines in text or JSON, how keys and network text appear in them, the quiet SDK loggers.

Call sites pass fields, not pre-formatted strings: ``logs.log(logger, logging.INFO, "object accepted",
key=key, task=task, status=200)``. The same fields give both formats:

* ``text`` (default): ``object accepted key="/1/b/a.txt" task=t1 status=200`` through whatever handler is in
  place (SCF's own in the cloud);
* ``json`` (``LOG_FORMAT=json``): one JSON object a line on standard output, the fields as first-level keys
  beside ``level``, ``message``, ``logger``, ``request_id`` and ``time`` (SCF hands such lines to CLS as
  fields).

Every value that did not come from us (object keys, OMS's ``error_code``/``error_msg``, request ids,
``Location`` headers, COS error messages) is escaped and, but for keys, capped: it can neither forge a log
line nor flood the log. The standard library does all of it, so the 3.6 zip (which ships no dependencies)
logs JSON as the others do.
"""
import json
import logging
import re
import sys
import time

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


#: Fields shown quoted in text lines; those from the network are also capped (keys and markers never are).
QUOTED = ("key", "marker", "event", "problem")
NETWORK = ("error_code", "error_msg", "oms_request_id", "reason", "cause", "location")
_TOKEN = re.compile(r"^[A-Za-z0-9_.:/@+=-]+$")
_context = {"request_id": "-"}


def bind(request_id):
    """The request id every line of this invocation (or run) carries."""
    _context["request_id"] = request_id or "-"


def _text_value(name, value):
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "%.0f" % value if name.endswith("_ms") else "%g" % value
    if isinstance(value, int):
        return str(value)
    if name in NETWORK:
        return short(value)
    text = str(value)
    return text if name not in QUOTED and _TOKEN.match(text) else show(text)


def _json_value(name, value):
    if isinstance(value, float) and name.endswith("_ms"):
        return int(round(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text[:TEXT_CAP] if name in NETWORK else text


def render(message, fields):
    """The text line: ``message name=value ...``."""
    return message + "".join(" %s=%s" % (name, _text_value(name, value)) for name, value in fields.items())


def log(logger, level, message, **fields):
    """One line: ``message`` (a fixed text) and its fields, in the order given."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", render(message, fields), extra={"cos2oms_message": message, "cos2oms_fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object a line; the same fields as the text line, as first-level keys."""

    def format(self, record):
        fields = getattr(record, "cos2oms_fields", None)
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
            ".%03dZ" % record.msecs), "level": record.levelname, "logger": record.name}
        if fields is None:  # a library's line, or one not written through log()
            line["message"] = record.getMessage()[:TEXT_CAP * 4]
        else:
            line["message"] = record.cos2oms_message
            line.update((name, _json_value(name, value)) for name, value in fields.items())
        line.setdefault("request_id", _context["request_id"])
        if record.exc_info and fields is not None:
            line["exception"] = self.formatException(record.exc_info)[-TEXT_CAP * 4:]
        return json.dumps(line, ensure_ascii=False).translate(_UNSAFE)


_JSON_HANDLER = logging.StreamHandler(sys.stdout)
_JSON_HANDLER.setFormatter(JsonFormatter())


def configure(level, fmt="text"):
    """Set up logging for one invocation or command run (cheap; safe to call every time). ``json``: our lines
    and the SDKs' go to standard output as JSON, and not also through the root handler."""
    if not logging.getLogger().handlers:  # outside SCF (a script): print somewhere
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger(LOGGER_NAME).setLevel(level)
    quiet_library_loggers(level)
    _JSON_HANDLER.stream = sys.stdout
    for name in (LOGGER_NAME,) + QUIET_LOGGERS:
        target = logging.getLogger(name)
        if fmt == "json":
            if _JSON_HANDLER not in target.handlers:
                target.addHandler(_JSON_HANDLER)
            target.propagate = False
        else:
            if _JSON_HANDLER in target.handlers:
                target.removeHandler(_JSON_HANDLER)
            target.propagate = True
