# -*- coding: utf-8 -*-
"""status's report as a person reads it: the table and the per-hour chart, plain text fitted to a width."""
import textwrap
from datetime import datetime, timedelta, timezone

from cos2oms.status import SYNCHRONIZING, from_iso
from cos2oms.status_figures import CHART_TYPES, DATA_TYPES, TASK_TEXT_FIELDS, compact, human_age, human_bytes, shown

#: Columns of the output when it is not a terminal, and the least it is made for (the table's figures need 72).
DEFAULT_WIDTH = 80
MIN_WIDTH = 72
MIN_BAR, MAX_BAR = 4, 30
FAILURE_MARK = "  <-"
#: A chart line but its three bars: "  " hour(11) "  ", three cells of bar + " " + count(7) two apart, the mark.
CHART_FIXED = 2 + 11 + 2 + 3 * (1 + 7) + 2 * 2 + len(FAILURE_MARK)
#: The columns of the table's figures, and where a table row's value begins.
TABLE_INDENT = 18


def bar_width(width):
    """The longest bar that lets a chart line fit ``width`` columns."""
    return max(MIN_BAR, min(MAX_BAR, (width - CHART_FIXED) // 3))


def _local_tz():
    return datetime.now(timezone.utc).astimezone().tzinfo


def _offset_label(tz, moment):
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return "UTC%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)


def _ceil_div(n, d):
    return -(-n // d)


def render_chart(rows, tz, width=DEFAULT_WIDTH):
    """Per hour, REQUEST / SUCCESS / FAILURE as bars of ``#`` on one shared scale (any count above zero gets at
    least one ``#``; an unknown figure, ``-``, none), each line at most ``width`` columns (at least
    ``CHART_FIXED + 3 * MIN_BAR``); plain ASCII, no colour."""
    bar = bar_width(width)
    peak = max([row[kind] for row in rows for kind in CHART_TYPES if row[kind] is not None] + [0])
    per_mark = max(1, _ceil_div(peak, bar))
    first = datetime.fromtimestamp(from_iso(rows[0]["hour"]), timezone.utc) if rows else None
    lines = ["Per hour (%s; one # = %s object%s; %s an hour with failures):" % (
        _offset_label(tz, first) if first else "UTC", compact(per_mark), "" if per_mark == 1 else "s",
        FAILURE_MARK.strip())]
    lines.append(("  %-11s  " % "hour" + "  ".join("%-*s" % (bar + 8, kind) for kind in CHART_TYPES)).rstrip())
    previous_day = None
    for row in rows:
        moment = datetime.fromtimestamp(from_iso(row["hour"]), timezone.utc).astimezone(tz)
        day = moment.strftime("%m-%d")
        label = (day if day != previous_day else "     ") + moment.strftime(" %H:%M")
        previous_day = day
        cells = []
        for kind in CHART_TYPES:
            n = row[kind]
            marks = "" if n is None else "#" * _ceil_div(n, per_mark)
            cells.append("%-*s %7s" % (bar, marks, compact(n)))
        line = "  %-11s  " % label + "  ".join(cells)
        if row["FAILURE"]:
            line += FAILURE_MARK
        lines.append(line.rstrip())
    return lines


def _wrap(text, width, subsequent=""):
    """``text`` wrapped to ``width`` columns (a word longer than a line is cut)."""
    return textwrap.wrap(text, width, subsequent_indent=subsequent, break_long_words=True,
                         break_on_hyphens=False) or [""]


def _local_time(text, tz):
    seconds = from_iso(text)
    if seconds is None:
        return "-"
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return "%s %s" % (moment.astimezone(tz).strftime("%Y-%m-%d %H:%M"), _offset_label(tz, moment))


def render_audit(audit, tz, width=DEFAULT_WIDTH):
    """The audit's lines (``status.read_audit``): the last pass's report, and the pass in progress."""
    row_indent = " " * TABLE_INDENT
    last, current = audit.get("last"), audit.get("in_progress")
    if audit.get("error"):
        return _wrap("Audit             state not readable: %s" % shown(audit["error"]), width, row_indent)
    if not last and not current:
        return _wrap("Audit             no pass yet (audit.main_handler, python -m cos2oms audit)", width, row_indent)
    lines = []
    if last:
        lines += _wrap("Audit             last pass %s: %s" % (
            _local_time(last.get("finished"), tz), "complete" if last.get("complete") else "INCOMPLETE"),
            width, row_indent)
        lines += _wrap("  judged          %s: %s missing (%s unmarked, %s accepted, %s failed), %s differ" % tuple(
            compact(last.get(name)) for name in ("source", "missing", "missing_unmarked", "missing_accepted",
                                                 "missing_failed", "differ")), width, row_indent)
        lines += _wrap("  resubmitted     %s%s, %s recent (not judged), %s error(s)" % (
            compact(last.get("resubmitted")), " (%s capped)" % compact(last["resubmit_capped"])
            if last.get("resubmit_capped") else "", compact(last.get("recent")), compact(last.get("errors"))),
            width, row_indent)
    if current:
        lines += _wrap("%-18s%s: %s invocation(s), %s page(s)" % (
            "  running" if last else "Audit running", "since " + _local_time(current.get("started"), tz),
            compact(current.get("invocations")), compact(current.get("pages"))), width, row_indent)
    return lines


def render(report, tz=None, width=DEFAULT_WIDTH):
    """The report as a person reads it: plain text, every line at most ``width`` columns (``MIN_WIDTH`` at
    least), ends with a newline."""
    tz = tz or _local_tz()
    width = max(MIN_WIDTH, width)
    window_ = report["window"]
    hours = window_["hours"]
    row_indent = " " * TABLE_INDENT
    checked = datetime.fromtimestamp(from_iso(report["checked_at"]), timezone.utc)
    lines = _wrap("Sync task %s" % shown(report["task_id"]), width, "    ")
    lines += _wrap("  project %s, checked %s %s" % (shown(report["project_id"]),
                                                    checked.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                                                    _offset_label(tz, checked)), width, "    ")
    lines.append("")
    task = report["task"]
    if task is None:
        lines.append("OMS task          not available (see below)")
    else:
        field = dict((name, shown(task[name] or "-")) for name in TASK_TEXT_FIELDS)
        lines += _wrap("OMS task          %(status)s" % field, width, row_indent)
        lines += _wrap("  source          %(src_cloud_type)s %(src_region)s / %(src_bucket)s" % field, width,
                       row_indent)
        lines += _wrap("  destination     %(dst_region)s / %(dst_bucket)s" % field, width, row_indent)
    lines.append("                  %10s %10s %10s %10s %10s" % ("requested", "succeeded", "failed", "skipped", "size"))
    if task is not None:
        lines.append("  this month      %10s %10s %10s %10s %10s" % (
            compact(task["monthly_acceptance_request"]), compact(task["monthly_success_object"]),
            compact(task["monthly_failure_object"]), compact(task["monthly_skip_object"]),
            human_bytes(task["monthly_size"])))
    sums = window_["totals"]
    label = "last %d h" % hours
    if sums is not None:
        rows = window_["hourly"] or []
        partial = set(kind for kind in DATA_TYPES if any(row[kind] is None for row in rows))

        def figure(kind, show=compact):
            return show(sums[kind]) + ("+" if kind in partial and sums[kind] is not None else "")
        lines.append("  %-16s%10s %10s %10s %10s %10s" % (
            label, figure("REQUEST"), figure("SUCCESS"), figure("FAILURE"), figure("SKIP"),
            figure("SIZE", human_bytes)))
    else:
        lines.append("  %-16s%s" % (label, "not available (see below)" if window_["statistics_asked"]
                                    else "not asked (--no-statistics)"))
    lines.append("")
    lines += _wrap("Log bucket %s" % shown(report["log_bucket"]), width, "    ")
    for name in ("failed", "success"):
        listing = report["markers"][name]
        if listing is None:
            value = "not counted (--count-success)"
        elif listing["error"]:
            value = "not listed (see below)"
        else:
            value = "%s%s" % (compact(listing["count"]), "+ (stopped at --max-list)" if listing["capped"] else "")
            if listing["count"] and listing["oldest_age_seconds"] is not None:
                value += " (oldest%s %s ago)" % (" listed" if listing["capped"] else "",
                                                 human_age(listing["oldest_age_seconds"]))
        lines += _wrap("  %-16s%s" % ("%s markers" % name, value), width, row_indent)
    lines.append("")
    if report.get("audit") is not None:
        lines += render_audit(report["audit"], tz, width) + [""]
    if window_["hourly"]:
        lines.extend(render_chart(window_["hourly"], tz, width))
        lines.append("")
    if report["attention"]:
        lines.append("Needs attention:")
        for message in report["attention"]:
            lines += _wrap("  - " + message, width, "    ")
        if report["next_steps"]:
            lines += _wrap("Next: %s" % "; then ".join(report["next_steps"]), width, "      ")
    elif window_.get("failures_from") == "month":
        lines += _wrap("All well: the task is %s and the log bucket holds no failed marker; %s, and OMS counted "
                       "no FAILURE this month." % (SYNCHRONIZING, window_.get("failures_note")), width)
    else:
        lines += _wrap("All well: the task is %s and nothing failed in the last %d h." % (SYNCHRONIZING, hours),
                       width)
    fitted = []
    for line in lines:  # the net under the above: nothing wider than the width
        fitted += _wrap(line, width, " " * (len(line) - len(line.lstrip()) + 4)) if len(line) > width else [line]
    return "\n".join(fitted) + "\n"
