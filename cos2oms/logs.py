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
import contextlib
import json
import logging
import math
import re
import traceback
import sys
import time

#: Characters of a network-supplied value shown in a log line, escaping included (object keys are never cut).
TEXT_CAP = 300
#: The COS SDK logs its signing key and Authorization at DEBUG, and raw error bodies at ERROR: its loggers
#: stay at WARNING or above and pass through ``EscapeFilter``.
QUIET_LOGGERS = ("qcloud_cos", "qcloud_cos_v5", "urllib3")
LOGGER_NAME = "cos2oms"
#: Where ``logging.captureWarnings`` sends the ``warnings`` module's messages.
WARNINGS_LOGGER = "py.warnings"
# What json.dumps leaves alone with ensure_ascii=False and a log line must not carry raw: DEL and the C1
# controls (0x9b starts a terminal escape sequence; 0x85 is a line break to str.splitlines), the Unicode line
# and paragraph separators, the bidirectional controls (they reorder what a terminal shows), invisible
# characters (a soft hyphen, zero-width spaces and joiners, the BOM: a name would look like another), and lone
# surrogates (a log handler cannot encode them: the whole line would be lost). ``_UNSAFE`` escapes all but the
# surrogates as ``\uXXXX``; ``_escape`` the surrogates the same way (a table of the 2,048 of them would cost
# every cold start about 6 million instructions to build).
_UNSAFE = dict((c, "\\u%04x" % c) for c in (
    list(range(0x7f, 0xa0)) + [0x00ad, 0x061c, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff]
    + list(range(0x202a, 0x202f)) + list(range(0x2066, 0x206a))))


def _escape(text):
    """``text`` with what ``_UNSAFE`` names, and lone surrogates, written as ``\\uXXXX``."""
    text = text.translate(_UNSAFE)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # only surrogates cannot be encoded: each becomes \udXXX, lower case, as above
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _quote(text):
    return _escape(json.dumps(text, ensure_ascii=False))


def show(text, cap=None):
    """``text`` as it appears in a log line: JSON-quoted, control characters, line separators and the like
    escaped, at most about ``cap`` characters of the result (escapes count), then ``...(+N chars)`` saying
    how many characters of ``text`` were left out. ``-`` for None or empty."""
    if text is None or text == "":
        return "-"
    if not isinstance(text, str):
        text = str(text)
    if cap is None:
        return _quote(text)
    n = min(len(text), cap)
    quoted = _quote(text[:n])
    while len(quoted) > cap + 2 and n > 1:  # heavily escaped text: keep fewer characters of it
        n = max(1, n * (cap + 2) // len(quoted))
        quoted = _quote(text[:n])
    return quoted + ("...(+%d chars)" % (len(text) - n) if n < len(text) else "")


def short(text):
    """A network-supplied value (error message, request id, Location) for a log line: escaped and capped."""
    return show(text, TEXT_CAP)


def problem(exc):
    """An exception met reading an answer, for a message: a ValueError's own words, else its type too."""
    if type(exc) is ValueError:
        return str(exc)
    return "%s: %s" % (type(exc).__name__, short(str(exc)))


class EscapeFilter(logging.Filter):
    """Makes a library's log record one escaped, capped line (the COS SDK logs raw error bodies)."""

    def filter(self, record):
        if getattr(record, "cos2oms_library", None) is not None:  # already done (a second handler)
            return True
        try:
            message = record.getMessage()
        except Exception:  # a library's malformed format string: keep the template only
            message = str(record.msg)
        record.cos2oms_library = message[:TEXT_CAP * 4]  # for the JSON formatter, which escapes by itself
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


class _DropNoSuchKey(logging.Filter):
    """Drops the COS SDK's error record of a 404 ``NoSuchKey``: for a read that expects one (the audit's state
    before its first pass), it is no error."""

    def filter(self, record):
        try:
            return "<Code>NoSuchKey</Code>" not in record.getMessage()
        except Exception:
            return True


_DROP_NO_SUCH_KEY = _DropNoSuchKey()


@contextlib.contextmanager
def no_such_key_expected():
    """While in the block, the COS SDK does not log a missing object as an error."""
    loggers = [logging.getLogger(name + ".cos_client") for name in QUIET_LOGGERS[:2]]
    for library in loggers:
        library.addFilter(_DROP_NO_SUCH_KEY)
    try:
        yield
    finally:
        for library in loggers:
            library.removeFilter(_DROP_NO_SUCH_KEY)


#: Fields shown quoted in text lines; those from the network are also capped (keys and markers never are).
QUOTED = ("key", "marker", "event", "problem")
NETWORK = ("error_code", "error_msg", "oms_request_id", "reason", "cause", "location", "exception")
#: Characters of a traceback kept in a JSON line (its last part: where it was raised).
TRACEBACK_CAP = TEXT_CAP * 4
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
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and Infinity are not JSON
    if isinstance(value, float) and name.endswith("_ms"):
        return int(round(value))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return text[:TEXT_CAP] if name in NETWORK else text


def render(message, fields):
    """The text line: ``message name=value ...``."""
    return message + "".join(" %s=%s" % (name, _text_value(name, value)) for name, value in fields.items())


def log(logger, level, message, exc=None, **fields):
    """One line: ``message`` (a fixed text) and its fields, in the order given. ``exc``: an exception being
    handled, shown as the field ``exception`` (its type and message); a JSON line also carries its
    traceback, as one field. Never more than one line, whatever the exception says."""
    if logger.isEnabledFor(level):
        extra = {"cos2oms_message": message, "cos2oms_fields": fields}
        if exc is not None:
            fields["exception"] = "%s: %s" % (type(exc).__name__, exc)
            extra["cos2oms_traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        logger.log(level, "%s", render(message, fields), extra=extra)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; the same fields as the text line, as first-level keys."""

    def format(self, record):
        fields = getattr(record, "cos2oms_fields", None)
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
            ".%03dZ" % record.msecs), "level": record.levelname, "logger": record.name}
        if fields is None:  # a library's line, or one not written through log()
            library = getattr(record, "cos2oms_library", None)
            line["message"] = library if library is not None else record.getMessage()[:TEXT_CAP * 4]
        else:
            line["message"] = record.cos2oms_message
            line.update((name, _json_value(name, value)) for name, value in fields.items())
        line.setdefault("request_id", _context["request_id"])
        trace = getattr(record, "cos2oms_traceback", None)
        if trace is None and record.exc_info and fields is not None:
            trace = self.formatException(record.exc_info)
        if trace:
            line["traceback"] = trace[-TRACEBACK_CAP:]
        return _escape(json.dumps(line, ensure_ascii=False))


_JSON_HANDLER = logging.StreamHandler(sys.stdout)
_JSON_HANDLER.setFormatter(JsonFormatter())


def configure(level, fmt="text", stream=None):
    """Set up logging for one invocation or command run (cheap; safe to call every time). ``json``: our lines
    and the SDKs' go to ``stream`` (default: standard output, as SCF collects it) as JSON, and not also
    through the root handler. The commands pass standard error: their standard output is their report."""
    if not logging.getLogger().handlers:  # outside SCF (a script): print somewhere
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger(LOGGER_NAME).setLevel(level)
    quiet_library_loggers(level)
    _JSON_HANDLER.stream = stream or sys.stdout
    logging.captureWarnings(fmt == "json")  # a warning is then one JSON line too, not two lines of text
    for name in (LOGGER_NAME, WARNINGS_LOGGER) + QUIET_LOGGERS:
        target = logging.getLogger(name)
        if fmt == "json":
            if _JSON_HANDLER not in target.handlers:
                target.addHandler(_JSON_HANDLER)
            target.propagate = False
        else:
            if _JSON_HANDLER in target.handlers:
                target.removeHandler(_JSON_HANDLER)
            target.propagate = True
