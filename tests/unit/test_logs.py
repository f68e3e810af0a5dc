# -*- coding: utf-8 -*-
"""logs: what reaches a log line from the network is escaped and capped, in text and JSON alike; an exception is
one line; library lines and warnings are JSON lines too when LOG_FORMAT=json."""
import json
import logging
import warnings

import pytest

from cos2oms import logs

NOT_RAW = [chr(c) for c in range(0x7f, 0xa0)] + ["\u00ad", "\u061c", "\u200b", "\u200c", "\u200d", "\u200e",
                                                 "\u200f", "\u2028", "\u2029", "\ufeff"] + \
    [chr(c) for c in range(0x202a, 0x202f)] + [chr(c) for c in range(0x2066, 0x206a)] + ["\ud800", "\udfff"]


@pytest.mark.parametrize("char", NOT_RAW, ids=lambda c: "U+%04X" % ord(c))
def test_controls_bidi_overrides_and_lone_surrogates_are_escaped(char):
    shown = logs.show("a" + char + "b")
    assert char not in shown
    shown.encode("utf-8")  # a handler can write it: no lone surrogate left
    assert json.loads(shown) == "a" + char + "b"  # and it reads back as what was received


def test_the_cap_counts_the_escapes():
    shown = logs.short("\x00" * 1000)
    assert len(shown) <= logs.TEXT_CAP + 2 + len("...(+1000 chars)")
    assert shown.endswith("chars)") and json.loads(shown.rsplit("...", 1)[0]) == "\x00" * (1000 - int(
        shown.rsplit("(+", 1)[1].split(" ")[0]))


def test_ordinary_text_under_the_cap_is_whole():
    assert logs.short("Invalid request") == '"Invalid request"'


@pytest.fixture
def json_lines(capsys):
    """Logs in JSON from the test's own standard output on (capsys's stream exists once the test runs); the
    lines it wrote, parsed strictly."""
    started = []

    def lines():
        assert started, "call json_lines.start() first"
        return [json.loads(line, parse_constant=_refuse) for line in capsys.readouterr().out.splitlines()]

    lines.start = lambda: started.append(logs.configure(logging.DEBUG, "json"))
    yield lines
    logs.configure(logging.INFO, "text")


def _refuse(constant):
    raise ValueError("not JSON: %s" % constant)


def test_an_exception_is_one_json_line_with_its_traceback(json_lines):
    json_lines.start()
    try:
        raise RuntimeError("boom\nINFO cos2oms forged line")
    except RuntimeError as exc:
        logs.log(logging.getLogger("cos2oms.test"), logging.ERROR, "oms request raised", exc=exc, keys=3)
    (line,) = json_lines()
    assert line["message"] == "oms request raised" and line["keys"] == 3
    assert line["exception"].startswith("RuntimeError: boom")
    assert "Traceback" in line["traceback"] and "RuntimeError" in line["traceback"]


def test_an_exception_is_one_text_line(caplog):
    try:
        raise RuntimeError("boom\nINFO forged")
    except RuntimeError as exc:
        logs.log(logging.getLogger("cos2oms.test"), logging.ERROR, "oms request raised", exc=exc, keys=3)
    (record,) = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert 'exception="RuntimeError: boom\\nINFO forged"' in record.getMessage()


def test_numbers_json_cannot_carry_are_strings(json_lines):
    json_lines.start()
    logs.log(logging.getLogger("cos2oms.test"), logging.ERROR, "object failed", error_code=float("nan"),
             elapsed_ms=float("inf"))
    (line,) = json_lines()
    assert (line["error_code"], line["elapsed_ms"]) == ("nan", "inf")


def test_a_library_line_is_one_json_message_not_a_quoted_one(json_lines):
    json_lines.start()
    logging.getLogger("qcloud_cos.cos_client").error("<Error>\n<Code>AccessDenied</Code>\n</Error>")
    (line,) = json_lines()
    assert line["message"] == "<Error>\n<Code>AccessDenied</Code>\n</Error>"
    assert line["logger"] == "qcloud_cos.cos_client"


def test_a_warning_is_a_json_line(json_lines):
    json_lines.start()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an SDK's deprecation", DeprecationWarning, stacklevel=1)
    lines = json_lines()
    assert [line["level"] for line in lines] == ["WARNING"] and "an SDK's deprecation" in lines[0]["message"]
