# -*- coding: utf-8 -*-
"""status's gathering and verdict: ``gather`` asks OMS for the sync task and its per-hour statistics and counts
the failed markers in the log bucket; ``assess`` turns that report into what needs attention, the next steps
and the exit status (``commands.status``: the command, and what it promises; ``status_view``: the text)."""
import logging
import math
import time

from cos2oms import audit_state, bucket_settings, listings, logs, markers, oms_tasks, settings as settings_module
from cos2oms import storage
from cos2oms.commands.base import EXIT_ATTENTION, EXIT_CONFIG, EXIT_OK
from cos2oms.status_figures import (DATA_TYPES, HOUR, human_age, iso, parse_statistics, parse_task, shown,
                                    statistics_pieces, totals, window)

DEFAULT_HOURS = 24
MAX_HOURS = 168
DEFAULT_MAX_LIST = 10000
SYNCHRONIZING = "SYNCHRONIZING"
#: Keys per marker listing page (COS's largest), and the seconds one page may take as a whole.
LIST_PAGE = 1000
LIST_PAGE_SECONDS = 10.0
#: The IAM actions these queries need (Huawei's identity-policy names).
IAM_ACTIONS = ("oms:synctask:get", "oms:synctask:statistics")
REPLAY = "python -m cos2oms replay"
VERIFY = "python -m cos2oms verify"

logger = logging.getLogger("cos2oms.status")


# ----------------------------------------------------------------------------------------- small helpers

def from_iso(text):
    """``iso``'s inverse (also COS's ``LastModified``: offsets allowed, a fraction dropped), read by
    ``listings.parse_time``; None when unreadable."""
    if not isinstance(text, str):
        return None
    try:
        return math.floor(listings.parse_time(text))
    except ValueError:
        return None



# ----------------------------------------------------------------------------------------- OMS queries

def ask_statistics(client, start, end):
    """ListSyncTaskStatistic over the window, piece by piece (``client``: an ``oms_tasks.TaskClient``): (window fields,
    None), or (None, the answer that failed: nothing more is asked after it)."""
    types, rows, gaps = [], [], []
    for start_ms, end_ms in statistics_pieces(start, end):
        params = {"data_type": ",".join(DATA_TYPES), "start_time": start_ms, "end_time": end_ms}
        answer = client.list_statistics(params)
        if answer.ok:
            try:
                piece = parse_statistics(answer.body, start_ms / 1000.0, end_ms / 1000.0)
            except Exception as exc:  # ValueError: not the documented shape; anything else: still not usable
                answer.reason, answer.body = "answer not of the documented shape: %s" % logs.problem(exc), None
                logs.log(logger, logging.WARNING, "oms answer unreadable", query="statistics", reason=answer.reason)
        if not answer.ok:
            return None, answer
        if piece["statistic_time_type"] not in types:
            types.append(piece["statistic_time_type"])
        rows.extend(piece["hourly"])
        gaps.extend(gap for gap in piece["gaps"] if gap not in gaps)
    time_type = ",".join(kind or "-" for kind in types) if types != [None] else None
    return {"statistic_time_type": time_type, "hourly": rows, "totals": totals(rows), "gaps": gaps}, None


# ----------------------------------------------------------------------------------------- markers

class Listing(object):
    """What a capped listing of one marker prefix found."""

    def __init__(self):
        self.count = 0
        self.capped = False
        self.oldest = None  # epoch seconds of the oldest LastModified seen
        self.error = None
        self.config_error = False  # the bucket refused us or does not exist

    def as_dict(self, now):
        return {"count": self.count, "capped": self.capped, "oldest": iso(self.oldest),
                "oldest_age_seconds": None if self.oldest is None else max(0, int(now - self.oldest)),
                "error": self.error}


def marker_listing_prefix(task_id, kind):
    """``oms_source_record/{task}/failed_object``: without the final ``/``, so that the listing also finds the
    markers of keys too long for the guide's naming (``failed_object_long/``)."""
    return "%s%s/%s" % (markers.MARKER_ROOT, task_id, kind)


def list_markers(store, prefix, cap):
    """Count the objects under ``prefix`` (at most ``cap``) in the log bucket (``store``: a
    ``markers.MarkerStore``), in pages of at most ``LIST_PAGE`` names."""
    listing = Listing()
    try:
        for entries, goes_on in store.listing(prefix, "markers", limit=cap, page_size=LIST_PAGE,
                                              seconds=LIST_PAGE_SECONDS):
            for entry in entries:
                modified = math.floor(entry.mtime)  # to the second, as ``iso`` shows it
                if listing.oldest is None or modified < listing.oldest:
                    listing.oldest = modified
            listing.count += len(entries)
            listing.capped = goes_on
    except listings.ListingError as exc:  # never "no failed markers" about markers it could not see
        listing.error = exc.last
        listing.config_error = exc.status in (401, 403, 404)  # the bucket refused us or does not exist
    return listing


# ----------------------------------------------------------------------------------------- gathering

def contradictions(body, environ, force=False):
    """Problems (exit 2) for each of SOURCE_BUCKET, SOURCE_REGION, OBS_BUCKET in ``environ`` that the sync task's
    ShowSyncTask answer (``body``) contradicts, naming both; none with ``force``."""
    task = oms_tasks.sync_task_settings(body)
    problems = []
    for variable, field in (("SOURCE_BUCKET", "src_bucket"), ("SOURCE_REGION", "src_region"),
                            ("OBS_BUCKET", "dst_bucket")):
        configured = (environ.get(variable) or "").strip() or None
        try:
            bucket_settings.agreed(variable, configured, getattr(task, field), field, force)
        except settings_module.ConfigError as exc:
            problems.append((EXIT_CONFIG, "Configuration: %s." % exc, None))
    return problems


def gather(settings, hours=DEFAULT_HOURS, statistics=True, max_list=DEFAULT_MAX_LIST, count_success=False,
           now=None, session=None, cos=None, environ=None, force=False):
    """Ask OMS and the log bucket; returns the report (a JSON-ready dict), ``assess``-ed. The one ShowSyncTask
    answer also checks the configured SOURCE_BUCKET, SOURCE_REGION and OBS_BUCKET of ``environ`` against the
    task (``contradictions``; not with ``force``)."""
    now = time.time() if now is None else now
    start, end = window(now, hours)
    _, project, task_id = settings_module.task_address(settings.sync_url)
    client = oms_tasks.TaskClient.from_settings(settings, session)
    report = {
        "task_id": task_id, "project_id": project, "log_bucket": settings.log_bucket, "checked_at": iso(now),
        "task": None,
        "window": {"hours": hours, "start": iso(start), "end": iso(end), "statistic_time_type": None,
                   "totals": None, "hourly": None, "gaps": [], "statistics_asked": statistics},
        "oms_errors": [],
        "markers": {"max_list": max_list, "failed": None, "success": None},
    }
    problems = []  # (severity, message, next step or None)

    answer = client.show_sync_task(now * 1000)
    if answer.ok:
        try:
            report["task"] = parse_task(answer.body)
        except Exception as exc:  # parse_task reads any dict; this is the net under it
            answer.reason, answer.body = "answer not of the documented shape: %s" % logs.problem(exc), None
    if answer.ok and environ is not None:
        problems += contradictions(answer.body, environ, force)
    if not answer.ok:
        report["oms_errors"].append(answer.as_dict())
        problems.append(_oms_problem(answer, project, task_id))
    elif statistics:
        fields, failed = ask_statistics(client, start, end)
        if failed is None:
            report["window"].update(fields)
        else:
            report["oms_errors"].append(failed.as_dict())
            problems.append(_oms_problem(failed, project, task_id))

    store = markers.MarkerStore(cos or storage.build_cos_client(settings), settings.log_bucket, task_id)
    kinds = [("failed", markers.FAILED)] + ([("success", markers.SUCCESS)] if count_success else [])
    for name, kind in kinds:
        listing = list_markers(store, marker_listing_prefix(task_id, kind), max_list)
        report["markers"][name] = listing.as_dict(now)
        if listing.error:
            problems.append((EXIT_CONFIG if listing.config_error else EXIT_ATTENTION,
                             "Listing the %s markers in the log bucket %s failed: %s%s" % (
                                 name, shown(settings.log_bucket), listing.error,
                                 " (check LOG_BUCKET, the COS credentials and cos:GetBucket on the bucket)"
                                 if listing.config_error else ""), None))
    report["audit"] = read_audit(store, task_id)
    return assess(report, problems)


#: What status shows of the last audit report (``audit``), and of a pass in progress.
AUDIT_FIELDS = ("started", "finished", "complete", "invocations", "source", "matched", "missing", "differ",
                "errors", "missing_unmarked", "missing_accepted", "missing_failed", "recent", "resubmitted",
                "resubmit_capped", "report")
AUDIT_PASS_FIELDS = ("cursor", "invocations", "pages")
MAX_AUDIT_TEXT = 1000


def read_audit(store, task_id):
    """The audit's state (one GET): ``{"last": the last report's AUDIT_FIELDS or None, "in_progress": the pass
    in progress (``started`` and AUDIT_PASS_FIELDS) or None, "error": why the state could not be read, or
    None}``. Shown only: it changes no exit status."""
    try:
        state = audit_state.StateStore(store, task_id).read()
    except audit_state.AuditError as exc:
        return {"last": None, "in_progress": None, "error": logs.short(str(exc))}
    last, current = state.get("last"), state.get("pass")
    started = current.get("started") if current else None
    return {"last": None if not last else dict((name, _audit_value(last.get(name))) for name in AUDIT_FIELDS),
            "in_progress": None if not current else dict(
                [("started", audit_state.iso(started) if isinstance(started, (int, float)) else None)]
                + [(name, _audit_value(current.get(name))) for name in AUDIT_PASS_FIELDS]),
            "error": None}


def _audit_value(value):
    """A value of the audit's state as status may show it: a count, a flag or a short text; else None."""
    if isinstance(value, (bool, int)) and (isinstance(value, bool) or 0 <= value < 2 ** 63):
        return value
    return value[:MAX_AUDIT_TEXT] if isinstance(value, str) else None


def _oms_problem(answer, project, task_id):
    what = "the sync task" if answer.query == "task" else "the task's statistics"
    if answer.refused:
        return (EXIT_CONFIG, "OMS refused the key when asked for %s: %s. Check HW_AK/HW_SK and that the key may "
                             "call %s." % (what, answer.describe(), " and ".join(IAM_ACTIONS)), None)
    if answer.status == 404 and answer.query == "task":
        return (EXIT_CONFIG, "OMS knows no sync task %s in project %s: %s. Check SYNC_URL." % (
            shown(task_id), shown(project), answer.describe()), None)
    if answer.status == 404:
        return (EXIT_ATTENTION, "OMS has no statistics for the task: %s. The statistics API exists only in some "
                                "regions; use --no-statistics there." % answer.describe(), None)
    if answer.status == 200:
        return (EXIT_ATTENTION, "OMS's answer for %s could not be read: %s." % (what, answer.describe()), None)
    if not answer.retryable:
        return (EXIT_CONFIG, "OMS rejected the query for %s: %s. Check SYNC_URL (project %s, sync task %s) and "
                             "that the task exists there%s; asking again will not help." % (
                                 what, answer.describe(), shown(project), shown(task_id),
                                 "" if answer.query == "task" else ", or try a shorter --hours"), None)
    return (EXIT_ATTENTION, "OMS could not be asked for %s: %s. Try again later." % (what, answer.describe()), None)


def _window_hours(window_):
    start = from_iso(window_.get("start"))
    return [] if start is None else [iso(start + i * HOUR) for i in range(window_["hours"])]


def _why_not_counted(window_, unknown):
    """Why the window's FAILURE figures do not cover ``unknown`` (its hours without one), in words."""
    if not window_.get("statistics_asked", True):
        return "the window's figures were not asked (--no-statistics)"
    if window_.get("hourly") is None:
        return "the window's figures are not available"
    whys = [gap["why"] for gap in window_.get("gaps") or () if gap.get("data_type") == "FAILURE"]
    return "OMS's figures give no FAILURE count for %d of the window's %d hours (%s to %s)%s" % (
        len(unknown), len(window_["hourly"]), unknown[0], unknown[-1], ": " + "; ".join(whys) if whys else "")


def assess(report, problems=()):
    """Add ``attention``, ``next_steps`` and ``exit_status`` to a report from what it holds, and to its window
    ``unknown_hours`` (without a FAILURE figure), ``failures_from`` (``window``, ``month`` when the month's
    counter stood in for missing figures, or None when neither could) and ``failures_note`` (why)."""
    problems = list(problems)
    task = report.get("task")
    window_ = report["window"]
    hours = window_["hours"]
    if task is not None and task.get("status") != SYNCHRONIZING:
        problems.append((EXIT_ATTENTION, "The sync task is %s, not %s: OMS migrates nothing until it is started "
                                         "again (OMS console). Objects created meanwhile get failed markers." % (
                                             shown(task.get("status")), SYNCHRONIZING), REPLAY))
    hourly = window_.get("hourly")
    unknown = _window_hours(window_) if hourly is None else [row["hour"] for row in hourly
                                                              if row.get("FAILURE") is None]
    complete = hourly is not None and not unknown
    failures = (window_.get("totals") or {}).get("FAILURE")
    note, basis = None, "window"
    if failures:
        problems.append((EXIT_ATTENTION, "OMS counted %s%d FAILURE(s) in the last %d h: it accepted these objects "
                                         "but could not copy them. Check the destination." % (
                                             "" if complete else "at least ", failures, hours), VERIFY))
    elif not complete:
        note, basis = _why_not_counted(window_, unknown), None
        month = None if task is None else task.get("monthly_failure_object")
        if task is None:
            pass  # OMS could not be asked for the task: that is reported already
        elif month is None:
            problems.append((EXIT_ATTENTION, "Whether OMS failed to copy anything in the last %d h is not known: %s, "
                                             "and its monthly_failure_object is missing or not of the documented "
                                             "shape (an integer from 0 to 2**63 - 1)." % (hours, note), VERIFY))
        else:
            basis = "month"
            if month:
                problems.append((EXIT_ATTENTION, "OMS counted %d FAILURE(s) this month, and %s: some may be in the "
                                                 "last %d h. Check the destination." % (month, note, hours), VERIFY))
    window_.update(unknown_hours=unknown, failures_from=basis, failures_note=note)
    failed = report["markers"].get("failed")
    if failed and failed["count"]:
        oldest = failed["oldest_age_seconds"]
        problems.append((EXIT_ATTENTION, "%s%d failed marker(s) in the log bucket%s: OMS never accepted these "
                                         "objects. Resubmit them." % (
                                             "At least " if failed["capped"] else "", failed["count"],
                                             "" if oldest is None else " (the oldest%s written %s ago)" % (
                                                 " listed" if failed["capped"] else "", human_age(oldest))),
                         REPLAY))
    report["attention"] = [message for _, message, _ in problems]
    steps = []
    for _, _, step in problems:
        if step and step not in steps:
            steps.append(step)
    report["next_steps"] = steps
    report["exit_status"] = max([EXIT_OK] + [severity for severity, _, _ in problems])
    return report
