# -*- coding: utf-8 -*-
"""``status``'s table and terminal chart, checked against a stored snapshot (a fixed report, a fixed time zone).

``UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_status_render.py`` rewrites the snapshot after an
intended change; the README's example is the same text.
"""
import io
import os
from datetime import timedelta, timezone

import pytest

from cos2oms import logs, status, status_figures as figures, status_view as view
from cos2oms.commands import base, status as status_command

SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots", "status_render.txt")
UTC_PLUS_8 = timezone(timedelta(hours=8))

REQUEST = [120, 96, 143, 88, 40, 12, 0, 3, 25, 310, 280, 64]
FAILURE = [0, 0, 2, 0, 0, 0, 0, 0, 0, 5, 0, 0]


def fixed_report():
    """A 12-hour window that crosses midnight in UTC+08:00, two hours with failures, three failed markers."""
    start = status.from_iso("2024-04-30T11:00:00Z")
    hourly = []
    for i, (requested, failed) in enumerate(zip(REQUEST, FAILURE)):
        hourly.append({"hour": figures.iso(start + i * 3600), "REQUEST": requested, "SUCCESS": requested - failed,
                       "FAILURE": failed, "SKIP": 0, "SIZE": (requested - failed) * 350000})
    report = {
        "task_id": "a8c1b3d5-task-4e2f-9b7a-0123456789ab", "project_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "log_bucket": "omslog-1253970026", "checked_at": "2024-04-30T22:20:00Z",
        "task": {"sync_task_id": "a8c1b3d5-task-4e2f-9b7a-0123456789ab", "status": "SYNCHRONIZING",
                 "src_cloud_type": "Tencent", "src_region": "ap-guangzhou", "src_bucket": "testpic-1253970026",
                 "dst_region": "cn-north-4", "dst_bucket": "obs-mirror", "description": None,
                 "create_time": "2024-03-02T08:00:00Z", "last_start_time": "2024-03-02T08:00:00Z",
                 "monthly_acceptance_request": 48211, "monthly_success_object": 48170,
                 "monthly_failure_object": 41, "monthly_skip_object": 0, "monthly_size": 16873000000},
        "window": {"hours": 12, "start": figures.iso(start), "end": "2024-04-30T22:20:00Z",
                   "statistic_time_type": "FIVE_MINUTES", "hourly": hourly, "totals": figures.totals(hourly),
                   "statistics_asked": True},
        "oms_errors": [],
        "markers": {"max_list": 10000, "success": None,
                    "failed": {"count": 3, "capped": False, "oldest": "2024-04-30T14:50:00Z",
                               "oldest_age_seconds": 27000, "error": None}},
        "audit": {"last": {"started": "2024-04-29T20:00:03Z", "finished": "2024-04-29T20:41:17Z", "complete": True,
                           "invocations": 9, "source": 48102, "matched": 48096, "missing": 5, "differ": 1,
                           "errors": 0, "missing_unmarked": 2, "missing_accepted": 1, "missing_failed": 2,
                           "recent": 23, "resubmitted": 4, "resubmit_capped": 0,
                           "report": "oms_source_record/a8c1b3d5-task-4e2f-9b7a-0123456789ab/audit/reports/"
                                     "20240429T200003Z.json"},
                  "in_progress": None, "error": None},
    }
    return status.assess(report)


def test_render_matches_the_snapshot():
    text = view.render(fixed_report(), tz=UTC_PLUS_8)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        with io.open(SNAPSHOT, "w", encoding="utf-8") as f:
            f.write(text)
    with io.open(SNAPSHOT, encoding="utf-8") as f:
        assert text == f.read()


def test_render_is_plain_ascii_and_fits_80_columns():
    text = view.render(fixed_report(), tz=UTC_PLUS_8)
    chart = text[text.index("Per hour"):text.index("Needs attention")]
    assert all(ord(c) < 128 for c in chart)  # no colour codes, no box-drawing characters
    assert max(len(line) for line in text.splitlines()) <= 80
    assert max(len(line) for line in chart.splitlines()) == 80  # the bars take the room there is


def hostile_report():
    """The longest values OMS and COS may send: a 255-character task id, 63-character bucket names, error
    messages at the cap, counts and sizes at the API's 2**63 - 1, every hour at the peak."""
    report = fixed_report()
    big = 2 ** 63 - 1
    report.update(task_id="t" * 255, project_id="p" * 64, log_bucket="l" * 63)
    report["task"].update(src_bucket="s" * 63, dst_bucket="d" * 63, src_region="r" * 40, status="X" * 300)
    report["task"].update((name, big) for name in figures.MONTHLY_FIELDS)
    for row in report["window"]["hourly"]:
        row.update((kind, big) for kind in figures.DATA_TYPES)
    report["window"]["hourly"][3]["FAILURE"] = None  # an unknown figure
    report["window"]["totals"] = figures.totals(report["window"]["hourly"])
    report["markers"]["failed"]["count"] = 10 ** 9
    problems = [(1, "OMS could not be asked: HTTP 503 error_msg=%s" % logs.short("m" * 5000), None)]
    return status.assess(report, problems)


@pytest.mark.parametrize("width", [view.MIN_WIDTH, 80, 132])
def test_every_line_fits_the_width_whatever_the_values(width):
    text = view.render(hostile_report(), tz=UTC_PLUS_8, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "9.2E" in text and "8.0 EiB" in text and "101.5E+" in text  # 11 known hours of FAILURE, summed


def test_the_bars_grow_with_the_terminal():
    rows = fixed_report()["window"]["hourly"]
    narrow, wide = view.render_chart(rows, UTC_PLUS_8, 80), view.render_chart(rows, UTC_PLUS_8, 132)
    peak = [line.split()[1] for line in narrow + wide if " 310 " in line]  # the REQUEST bar at the peak
    assert [view.bar_width(80), view.bar_width(132)] == [11, 28]
    assert len(peak[0]) == 11 and 26 <= len(peak[1]) <= 28  # the peak bar fills its room, as whole marks allow
    assert max(len(line) for line in wide) <= 132


def test_values_from_the_network_reach_the_terminal_escaped():
    report = fixed_report()
    report["task"].update(src_bucket="evil\x9b2J\u202eexe.gpj", dst_bucket="iso\u2066late\ud800",
                          status="SYNCHRONIZING\x1b[31m")
    text = view.render(status.assess(report), tz=UTC_PLUS_8)
    assert not any(c in text for c in "\x9b\u202e\u2066\ud800\x1b")
    assert '"evil\\u009b2J\\u202eexe.gpj"' in text and "\\u2066" in text and "\\ud800" in text
    text.encode("utf-8")  # no lone surrogate left to stop the write
    assert 'The sync task is "SYNCHRONIZING\\u001b[31m", not SYNCHRONIZING' in " ".join(text.split())


def test_output_is_80_columns_unless_it_is_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(status_command.shutil, "get_terminal_size", lambda fallback=None: os.terminal_size((132, 40)))
    assert status_command.output_width(io.StringIO()) == 80
    assert status_command.output_width(Terminal()) == 132
    monkeypatch.setattr(status_command.shutil, "get_terminal_size", lambda fallback=None: os.terminal_size((20, 40)))
    assert status_command.output_width(Terminal()) == view.MIN_WIDTH


def test_every_nonzero_count_gets_a_mark_and_zero_none():
    rows = fixed_report()["window"]["hourly"]
    lines = view.render_chart(rows, UTC_PLUS_8)[2:]
    two_am = [line for line in lines if line.strip().startswith("02:00")]  # REQUEST 3 of a peak of 310
    assert two_am and "#" in two_am[0]
    one_am = [line for line in lines if line.strip().startswith("01:00")]  # REQUEST 0
    assert one_am and "#" not in one_am[0]
    assert sum(line.endswith(view.FAILURE_MARK) for line in lines) == 2


def test_a_failed_window_and_failed_markers_say_what_to_run():
    report = fixed_report()
    assert report["exit_status"] == base.EXIT_ATTENTION
    assert report["next_steps"] == [status.VERIFY, status.REPLAY]
    text = " ".join(view.render(report, tz=UTC_PLUS_8).split())
    assert "OMS counted 7 FAILURE(s) in the last 12 h" in text
    assert "3 failed marker(s) in the log bucket (the oldest written 7 h 30 min ago)" in text


def test_the_readme_shows_the_snapshot():
    readme = os.path.join(os.path.dirname(SNAPSHOT), "..", "..", "..", "README.md")
    with io.open(SNAPSHOT, encoding="utf-8") as f, io.open(readme, encoding="utf-8") as g:
        assert "```\n" + f.read() + "```\n" in g.read()


@pytest.mark.parametrize("audit,expected", [
    ({"last": None, "in_progress": None, "error": None},
     ["Audit             no pass yet (audit.main_handler, python -m cos2oms audit)"]),
    ({"last": None, "in_progress": None, "error": "reading the audit state failed: COS answered 403"},
     ["Audit             state not readable: reading the audit state failed: COS", "                  answered 403"]),
    ({"last": None, "in_progress": {"started": "2024-04-30T20:00:00Z", "cursor": "k", "invocations": 3, "pages": 7},
      "error": None},
     ["Audit running     since 2024-05-01 04:00 UTC+08:00: 3 invocation(s), 7 page(s)"]),
])
def test_the_audit_lines_without_a_last_report(audit, expected):
    assert view.render_audit(audit, UTC_PLUS_8, 80) == expected


def test_an_incomplete_capped_audit_pass_says_so_and_a_running_one_follows_it():
    audit = fixed_report()["audit"]
    audit["last"].update(complete=False, resubmit_capped=12, errors=1)
    audit["in_progress"] = {"started": "2024-04-30T20:00:00Z", "cursor": "k", "invocations": 1, "pages": 2}
    lines = view.render_audit(audit, UTC_PLUS_8)
    assert lines[0] == "Audit             last pass 2024-04-30 04:41 UTC+08:00: INCOMPLETE"
    assert lines[2] == "  resubmitted     4 (12 capped), 23 recent (not judged), 1 error(s)"
    assert lines[3] == "  running         since 2024-05-01 04:00 UTC+08:00: 1 invocation(s), 2 page(s)"


def test_a_report_without_audit_facts_renders_as_before():
    report = fixed_report()
    del report["audit"]
    assert "Audit" not in view.render(report, tz=UTC_PLUS_8)
