# -*- coding: utf-8 -*-
"""verify's report: the line of an object that is not matched, and rclone check's combined report
(``--combined``)."""
import json
import re

from cos2oms import logs
from cos2oms.verify_merge import ACCEPTED, DIFFER, ERROR, EXTRA, FAILED, MATCH, MISSING, UNMARKED

WHY_MISSING = {
    UNMARKED: "no marker: the event never reached the function",
    ACCEPTED: "success marker: OMS accepted it and did not copy it",
    FAILED: "failed marker: waiting for replay",
}
LABELS = {MISSING: "missing", DIFFER: "differ", EXTRA: "extra", ERROR: "error", MATCH: "match"}
#: The last line of an interrupted run's --combined report.
INTERRUPTED = "verify interrupted: keys after the last line were not compared"


def describe(result):
    """The report line of an object that is not matched (keys escaped as in log lines)."""
    why = result.why
    if result.symbol == MISSING:
        why = WHY_MISSING.get(why, "marker " + why)
    return "%-7s %s: %s" % (LABELS[result.symbol], logs.show(result.key), why)


# What ends a line for some reader: universal newlines split on \n and \r, str.splitlines also on \v, \f,
# \x1c-\x1e, \x85, U+2028 and U+2029.
_LINE_BREAKS = re.compile(u"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Those json.dumps(ensure_ascii=False) leaves as they are (it escapes every character below U+0020).
_JSON_LINE_BREAKS = {0x85: u"\\u0085", 0x2028: u"\\u2028", 0x2029: u"\\u2029"}


def _json_string(text):
    return json.dumps(text, ensure_ascii=False).translate(_JSON_LINE_BREAKS)


def combined_path(key):
    """A key as ``--combined`` writes it: as it is (rclone's format), unless it holds a character that breaks
    a line for some reader, or starts with a double quote: then as a JSON string (UTF-8, those characters
    escaped). So a path starting with ``"`` is always JSON, and no other path is."""
    if key[:1] == '"' or _LINE_BREAKS.search(key):
        return _json_string(key)
    return key


def combined_line(result):
    """rclone check's combined report: ``= key``, ``+ key``, ``* key``, ``- key``, ``! key`` (keys as
    ``combined_path`` writes them). An error about no key (a listing that failed) is ``! "what failed"``: a
    JSON string whose text neither starts with ``"`` nor holds a line break, which no key's path can be."""
    if result.key is None:
        text = _LINE_BREAKS.sub(" ", result.why or "error")
        return "%s %s\n" % (ERROR, _json_string(text if text[:1] != '"' else "error: " + text))
    return "%s %s\n" % (result.symbol, combined_path(result.key))
