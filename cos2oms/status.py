# -*- coding: utf-8 -*-
"""``python -m cos2oms status [--hours N] [--json]``: is the sync keeping up?

From the function's settings it asks OMS for the sync task (``GET .../sync-tasks/{id}?query_time=``: its
status, buckets and the month's counters) and for its statistics over the last ``--hours`` hours
(``GET .../sync-tasks/{id}/statistics?data_type=...&start_time=&end_time=``, in OMS's 5-minute or 1-hour
buckets, summed here per hour), and counts the failed markers in the log bucket (the objects OMS never
accepted) with the age of the oldest. A person gets a short table and, per hour, REQUEST / SUCCESS /
FAILURE as a plain-text bar chart; ``--json`` prints the same facts as one JSON object.

Exit status: 0 when the task is SYNCHRONIZING, OMS counted no FAILURE in the window and there is no
failed marker; 1 when something needs attention (also when OMS or COS could not be asked); 2 on bad
configuration: a setting is invalid, OMS refuses the key (401/403) or knows no such task (404), or the log
bucket refuses the listing or does not exist.

Each OMS request is made once, bounded as a whole by ``OMS_TIMEOUT``; after a refusal (401/403) nothing more
is sent to OMS (failed signatures lock the key for a while).
"""
import argparse
import json
import logging
import math
import re
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from cos2oms import handler, logs, markers, storage, transport
from cos2oms.settings import ConfigError
from cos2oms.signer import SignerAuth

DESCRIPTION = "Show the sync task as OMS sees it (per hour) and the failed markers in the log bucket."
EXIT_OK, EXIT_ATTENTION, EXIT_CONFIG = 0, 1, 2
DEFAULT_HOURS = 24
MAX_HOURS = 168
DEFAULT_MAX_LIST = 10000
#: ListSyncTaskStatistic's ``data_type`` values; the chart shows the first three.
DATA_TYPES = ("REQUEST", "SUCCESS", "FAILURE", "SKIP", "SIZE")
CHART_TYPES = ("REQUEST", "SUCCESS", "FAILURE")
#: ShowSyncTask's answer: the text fields and the counters read from it (names as in OMS's API).
TASK_TEXT_FIELDS = ("sync_task_id", "status", "src_cloud_type", "src_region", "src_bucket", "dst_region",
                    "dst_bucket", "description")
TASK_TIME_FIELDS = ("create_time", "last_start_time")
MONTHLY_FIELDS = ("monthly_acceptance_request", "monthly_success_object", "monthly_failure_object",
                  "monthly_skip_object", "monthly_size")
SYNCHRONIZING = "SYNCHRONIZING"
AUTH_STATUSES = (401, 403)
#: Keys per marker listing page (COS's largest), and the seconds one page may take as a whole.
LIST_PAGE = 1000
LIST_PAGE_SECONDS = 10.0
HOUR = 3600
#: The IAM actions these queries need (Huawei's identity-policy names).
IAM_ACTIONS = ("oms:synctask:get", "oms:synctask:statistics")
REPLAY = "python -m cos2oms replay"
VERIFY = "python -m cos2oms verify"

logger = logging.getLogger("cos2oms.status")


# ----------------------------------------------------------------------------------------- small helpers

def _count(value):
    """A non-negative integer from OMS's JSON, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value):
    return value if isinstance(value, str) else None


def iso(seconds):
    """Epoch seconds as ``2024-05-01T10:00:00Z``; None stays None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text):
    """``iso``'s inverse (also COS's ``LastModified``: fractions and offsets allowed); None when unreadable."""
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text or "")
    if not match:
        return None
    fields = [int(part) for part in match.groups()[:6]]
    offset = match.group(7) or "Z"
    seconds = 0
    if offset != "Z":
        digits = offset[1:].replace(":", "")
        seconds = (int(digits[:2]) * 60 + int(digits[2:])) * 60 * (1 if offset[0] == "+" else -1)
    try:
        moment = datetime(*fields, tzinfo=timezone(timedelta(seconds=seconds)))
    except ValueError:
        return None
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()


def epoch_seconds(stamp):
    """OMS's ``time_stamp`` as epoch seconds: milliseconds as OMS's other times are; a value too small to be
    milliseconds since 1973 is taken as seconds."""
    return stamp / 1000.0 if stamp >= 10 ** 11 else float(stamp)


def hour_floor(seconds):
    return int(seconds) // HOUR * HOUR


def window(now, hours):
    """(start, end) epoch seconds: ``hours`` clock hours (UTC hours), the last one the current, partial one."""
    return hour_floor(now) - (hours - 1) * HOUR, now


def shown(text):
    """A network-supplied name for the table: through ``logs.short``, without its quotes when nothing in it
    needed escaping or cutting."""
    quoted = logs.short(text)
    if text and quoted == '"%s"' % text:
        return text
    return quoted


def compact(n):
    """An object count in at most 7 characters: ``999,999`` up to 999,999, then ``1.2M``, ``3.4G``."""
    if n is None:
        return "-"
    if n < 1000000:
        return "{:,}".format(n)
    for unit, size in (("G", 10 ** 9), ("M", 10 ** 6)):
        if n >= size:
            return "%.1f%s" % (n / float(size), unit)


def human_bytes(n):
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return "%d B" % n if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024


def human_age(seconds):
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "%d s" % seconds
    minutes = seconds // 60
    if minutes < 60:
        return "%d min" % minutes
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return "%d h %d min" % (hours, minutes)
    days, hours = divmod(hours, 24)
    return "%d d %d h" % (days, hours)


# ----------------------------------------------------------------------------------------- OMS queries

def task_address(sync_url):
    """(task URL, project id, task id) from ``SYNC_URL`` (``https://host/v2/{project}/sync-tasks/{task}/events``)."""
    parts = urlsplit(sync_url)
    segments = parts.path.split("/")
    for i, segment in enumerate(segments[:-1]):
        if segment == "sync-tasks" and segments[i + 1]:
            path = "/".join(segments[:i + 2])
            project = segments[i - 1] if i >= 1 else ""
            return urlunsplit((parts.scheme, parts.netloc, path, "", "")), project, segments[i + 1]
    raise ConfigError("SYNC_URL", "names no sync task")


class OmsAnswer(object):
    """One OMS query's outcome: ``body`` (a dict) when OMS answered 200 with JSON, else why not."""

    def __init__(self, query, status=None, body=None, error_code=None, error_msg=None, reason=None):
        self.query = query
        self.status = status
        self.body = body
        self.error_code = error_code
        self.error_msg = error_msg
        self.reason = reason

    @property
    def ok(self):
        return self.body is not None

    @property
    def refused(self):
        return self.status in AUTH_STATUSES

    def describe(self):
        """``HTTP 401 APIG.0301: ...`` or the reason; network values escaped and capped."""
        if self.status is None:
            return self.reason or "no answer"
        text = "HTTP %s" % self.status
        if self.error_code or self.error_msg:
            text += " error_code=%s error_msg=%s" % (logs.short(self.error_code), logs.short(self.error_msg))
        if self.reason:
            text += " (%s)" % self.reason
        return text

    def as_dict(self):
        cap = logs.TEXT_CAP
        return {"query": self.query, "status": self.status,
                "error_code": self.error_code[:cap] if self.error_code else None,
                "error_msg": self.error_msg[:cap] if self.error_msg else None, "reason": self.reason}


def _json_body(response):
    text = (response.content or b"").decode("utf-8", "replace")
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def oms_get(session, url, params, auth, seconds, query):
    """One signed GET, bounded as a whole by ``seconds``; an ``OmsAnswer``."""
    try:
        with transport.time_limit(seconds):
            response = session.get(url, params=params, auth=auth, timeout=seconds, allow_redirects=False,
                                   headers={"Content-Type": "application/json"})
    except transport.RedirectRefused as exc:
        return OmsAnswer(query, reason="redirect refused: HTTP %s to %s" % (exc.status, logs.short(exc.location)))
    except requests.Timeout:
        return OmsAnswer(query, reason="no answer within %g s (OMS_TIMEOUT)" % seconds)
    except requests.RequestException as exc:
        return OmsAnswer(query, reason="%s: %s" % (type(exc).__name__, logs.short(str(exc))))
    body, text = _json_body(response)
    if response.status_code == 200:
        if isinstance(body, dict):
            return OmsAnswer(query, 200, body)
        return OmsAnswer(query, 200, reason="answer is not a JSON object: %s" % logs.short(text[:200]))
    answer = OmsAnswer(query, response.status_code)
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        answer.error_code, answer.error_msg = _text(body.get("error_code")), _text(body.get("error_msg"))
    else:
        answer.error_msg = text.strip()[:logs.TEXT_CAP] or None
    return answer


def parse_task(body):
    """The fields of ShowSyncTask's answer that status uses; anything missing or of the wrong type is None."""
    task = dict((name, _text(body.get(name))) for name in TASK_TEXT_FIELDS)
    for name in TASK_TIME_FIELDS:
        stamp = _count(body.get(name))
        task[name] = iso(epoch_seconds(stamp)) if stamp else None
    for name in MONTHLY_FIELDS:
        task[name] = _count(body.get(name))
    return task


def parse_statistics(body, start, end):
    """ListSyncTaskStatistic's answer summed per hour of [start, end]: (statistic_time_type, hourly rows).

    A row: ``{"hour": ISO, "REQUEST": n, "SUCCESS": n, "FAILURE": n, "SKIP": n, "SIZE": n}``. Points outside the
    window and unknown data types are left out. ValueError when the answer is not of the documented shape.
    """
    series = body.get("statistic_datas")
    if not isinstance(series, list):
        raise ValueError("no statistic_datas list")
    hours = list(range(hour_floor(start), int(end) + 1, HOUR))
    sums = dict((hour, dict((kind, 0) for kind in DATA_TYPES)) for hour in hours)
    for entry in series:
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
            raise ValueError("a statistic_datas entry without a data list")
        kind = entry.get("data_type")
        if kind not in DATA_TYPES:
            continue
        for point in entry["data"]:
            stamp = _count(point.get("time_stamp")) if isinstance(point, dict) else None
            if stamp is None:
                raise ValueError("a data point without a time_stamp")
            hour = hour_floor(epoch_seconds(stamp))
            if hour in sums:
                sums[hour][kind] += _count(point.get("statistic_num")) or 0
    rows = []
    for hour in hours:
        row = {"hour": iso(hour)}
        row.update(sums[hour])
        rows.append(row)
    return _text(body.get("statistic_time_type")), rows


def totals(rows):
    return dict((kind, sum(row[kind] for row in rows)) for kind in DATA_TYPES)


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


def list_markers(client, bucket, prefix, cap):
    """Count the objects under ``prefix`` (at most ``cap``), in pages listed with ``EncodingType='url'``."""
    listing = Listing()
    marker = ""
    while True:
        page_size = min(LIST_PAGE, cap - listing.count)
        try:
            with transport.time_limit(LIST_PAGE_SECONDS):
                answer = client.list_objects(Bucket=bucket, Prefix=prefix, Marker=marker, MaxKeys=page_size,
                                             EncodingType="url")
        except Exception as exc:  # the SDK raises others than its own too (e.g. on a malformed answer)
            listing.error = storage.describe_error(exc)
            status = exc.get_status_code() if isinstance(exc, storage.CosServiceError) else None
            listing.config_error = status in (401, 403, 404)
            return listing
        contents = answer.get("Contents") or []
        if isinstance(contents, dict):  # one key: some SDK versions give the dict itself
            contents = [contents]
        for item in contents:
            modified = from_iso(item.get("LastModified"))
            if modified is not None and (listing.oldest is None or modified < listing.oldest):
                listing.oldest = modified
        listing.count += len(contents)
        truncated = str(answer.get("IsTruncated", "false")).lower() == "true"
        if not truncated or not contents:
            return listing
        if listing.count >= cap:
            listing.capped = True
            return listing
        # The last key, decoded: NextMarker is not URL-encoded by every COS-compatible server.
        marker = unquote(contents[-1]["Key"])


# ----------------------------------------------------------------------------------------- gathering

def gather(settings, hours=DEFAULT_HOURS, statistics=True, max_list=DEFAULT_MAX_LIST, count_success=False,
           now=None, session=None, cos=None):
    """Ask OMS and the log bucket; returns the report (a JSON-ready dict), ``assess``-ed."""
    now = time.time() if now is None else now
    start, end = window(now, hours)
    url, project, task_id = task_address(settings.sync_url)
    session = session or transport.new_session()
    auth = SignerAuth(settings.hw_ak, settings.hw_sk)
    report = {
        "task_id": task_id, "project_id": project, "log_bucket": settings.log_bucket, "checked_at": iso(now),
        "task": None,
        "window": {"hours": hours, "start": iso(start), "end": iso(end), "statistic_time_type": None,
                   "totals": None, "hourly": None, "statistics_asked": statistics},
        "oms_errors": [],
        "markers": {"max_list": max_list, "failed": None, "success": None},
    }
    problems = []  # (severity, message, next step or None)

    answer = oms_get(session, url, {"query_time": int(now * 1000)}, auth, settings.oms_timeout, "task")
    if answer.ok:
        report["task"] = parse_task(answer.body)
    else:
        report["oms_errors"].append(answer.as_dict())
        problems.append(_oms_problem(answer, project, task_id))
    if statistics and answer.ok:
        params = {"data_type": ",".join(DATA_TYPES), "start_time": int(start * 1000), "end_time": int(end * 1000)}
        stats = oms_get(session, url + "/statistics", params, auth, settings.oms_timeout, "statistics")
        if stats.ok:
            try:
                time_type, rows = parse_statistics(stats.body, start, end)
            except ValueError as exc:
                stats.reason = "answer not of the documented shape: %s" % exc
                stats.body = None
            else:
                report["window"].update(statistic_time_type=time_type, hourly=rows, totals=totals(rows))
        if not stats.ok:
            report["oms_errors"].append(stats.as_dict())
            problems.append(_oms_problem(stats, project, task_id))

    cos = cos or storage.build_cos_client(settings)
    kinds = [("failed", markers.FAILED)] + ([("success", markers.SUCCESS)] if count_success else [])
    for name, kind in kinds:
        listing = list_markers(cos, settings.log_bucket, marker_listing_prefix(task_id, kind), max_list)
        report["markers"][name] = listing.as_dict(now)
        if listing.error:
            problems.append((EXIT_CONFIG if listing.config_error else EXIT_ATTENTION,
                             "Listing the %s markers in the log bucket %s failed: %s%s" % (
                                 name, settings.log_bucket, listing.error,
                                 " (check LOG_BUCKET, the COS credentials and cos:GetBucket on the bucket)"
                                 if listing.config_error else ""), None))
    return assess(report, problems)


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
    return (EXIT_ATTENTION, "OMS could not be asked for %s: %s. Try again later." % (what, answer.describe()), None)


def assess(report, problems=()):
    """Add ``attention``, ``next_steps`` and ``exit_status`` to a report from what it holds."""
    problems = list(problems)
    task = report.get("task")
    hours = report["window"]["hours"]
    if task is not None and task.get("status") != SYNCHRONIZING:
        problems.append((EXIT_ATTENTION, "The sync task is %s, not %s: OMS migrates nothing until it is started "
                                         "again (OMS console). Objects created meanwhile get failed markers." % (
                                             shown(task.get("status")), SYNCHRONIZING), REPLAY))
    window_totals = report["window"].get("totals")
    if window_totals and window_totals.get("FAILURE"):
        problems.append((EXIT_ATTENTION, "OMS counted %d FAILURE(s) in the last %d h: it accepted these objects "
                                         "but could not copy them. Check the destination." % (
                                             window_totals["FAILURE"], hours), VERIFY))
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


# ----------------------------------------------------------------------------------------- rendering

BAR_WIDTH = 14
#: Columns the messages are wrapped to.
WRAP = 100


def _local_tz():
    return datetime.now(timezone.utc).astimezone().tzinfo


def _offset_label(tz, moment):
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return "UTC%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)


def render_chart(rows, tz, bar_width=BAR_WIDTH):
    """Per hour, REQUEST / SUCCESS / FAILURE as bars of ``#`` on one shared scale (any count above zero gets at
    least one ``#``); plain ASCII, no colour."""
    peak = max([row[kind] for row in rows for kind in CHART_TYPES] + [0])
    per_mark = max(1, int(math.ceil(peak / float(bar_width))))
    first = datetime.fromtimestamp(from_iso(rows[0]["hour"]), timezone.utc) if rows else None
    lines = ["Per hour (%s; one # = %s object%s):" % (
        _offset_label(tz, first) if first else "UTC", compact(per_mark), "" if per_mark == 1 else "s")]
    lines.append(("  %-11s  " % "hour" + "  ".join("%-*s" % (bar_width + 8, kind) for kind in CHART_TYPES)).rstrip())
    previous_day = None
    for row in rows:
        moment = datetime.fromtimestamp(from_iso(row["hour"]), timezone.utc).astimezone(tz)
        day = moment.strftime("%m-%d")
        label = (day if day != previous_day else "     ") + moment.strftime(" %H:%M")
        previous_day = day
        cells = []
        for kind in CHART_TYPES:
            n = row[kind]
            bar = "#" * int(math.ceil(n / float(per_mark)))
            cells.append("%-*s %7s" % (bar_width, bar, compact(n)))
        line = "  %-11s  " % label + "  ".join(cells)
        if row["FAILURE"]:
            line += "  <- failures"
        lines.append(line.rstrip())
    return lines


def render(report, tz=None):
    """The report as a person reads it (plain text, ends with a newline)."""
    tz = tz or _local_tz()
    window_ = report["window"]
    hours = window_["hours"]
    checked = datetime.fromtimestamp(from_iso(report["checked_at"]), timezone.utc)
    lines = ["Sync task %s" % shown(report["task_id"]),
             "  project %s, checked %s %s" % (shown(report["project_id"]),
                                              checked.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                                              _offset_label(tz, checked)), ""]
    task = report["task"]
    if task is None:
        lines.append("OMS task          not available (see below)")
    else:
        field = dict((name, shown(task[name] or "-")) for name in TASK_TEXT_FIELDS)
        lines.append("OMS task          %(status)s" % field)
        lines.append("  source          %(src_cloud_type)s %(src_region)s / %(src_bucket)s" % field)
        lines.append("  destination     %(dst_region)s / %(dst_bucket)s" % field)
    lines.append("                  %10s %10s %10s %10s %10s" % ("requested", "succeeded", "failed", "skipped", "size"))
    if task is not None:
        lines.append("  this month      %10s %10s %10s %10s %10s" % (
            compact(task["monthly_acceptance_request"]), compact(task["monthly_success_object"]),
            compact(task["monthly_failure_object"]), compact(task["monthly_skip_object"]),
            human_bytes(task["monthly_size"])))
    sums = window_["totals"]
    if sums is not None:
        lines.append("  last %-6s     %10s %10s %10s %10s %10s" % (
            "%d h" % hours, compact(sums["REQUEST"]), compact(sums["SUCCESS"]), compact(sums["FAILURE"]),
            compact(sums["SKIP"]), human_bytes(sums["SIZE"])))
    else:
        lines.append("  last %-6s     %s" % ("%d h" % hours, "not available (see below)" if window_["statistics_asked"]
                                                              else "not asked (--no-statistics)"))
    lines.append("")
    lines.append("Log bucket %s" % shown(report["log_bucket"]))
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
        lines.append("  %-16s%s" % ("%s markers" % name, value))
    lines.append("")
    if window_["hourly"]:
        lines.extend(render_chart(window_["hourly"], tz))
        lines.append("")
    if report["attention"]:
        lines.append("Needs attention:")
        for message in report["attention"]:
            lines.extend(textwrap.wrap(message, WRAP, initial_indent="  - ", subsequent_indent="    ",
                                       break_long_words=False, break_on_hyphens=False))
        if report["next_steps"]:
            lines.append("Next: %s" % "; then ".join(report["next_steps"]))
    else:
        lines.append("All well: the task is %s and nothing failed in the last %d h." % (SYNCHRONIZING, hours))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------- command

def bounded_int(low, high):
    def parse(text):
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError("must be from %d to %d, got %s" % (low, high, text))
        return value
    return parse


def add_arguments(parser):
    parser.add_argument("--hours", type=bounded_int(1, MAX_HOURS), default=DEFAULT_HOURS,
                        help="the window: this many clock hours up to now (default %d, at most %d)" % (
                            DEFAULT_HOURS, MAX_HOURS))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--count-success", action="store_true", help="also count the success markers")
    parser.add_argument("--max-list", type=bounded_int(1, 10 ** 9), default=DEFAULT_MAX_LIST,
                        help="list at most this many markers of each kind (default %d)" % DEFAULT_MAX_LIST)
    parser.add_argument("--no-statistics", action="store_true",
                        help="do not ask OMS for the per-hour statistics (regions without that API)")


def run(args, environ=None, out=None, prog="cos2oms status"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    out = out or sys.stdout
    try:
        settings = handler.load_settings(environ=environ)
    except ConfigError as exc:
        print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
        if args.json:
            print(json.dumps({"attention": ["configuration error: %s" % exc], "next_steps": [],
                              "exit_status": EXIT_CONFIG}, sort_keys=True), file=out)
        return EXIT_CONFIG
    logs.configure(settings.log_level)
    report = gather(settings, hours=args.hours, statistics=not args.no_statistics, max_list=args.max_list,
                    count_success=args.count_success)
    if args.json:
        print(json.dumps(report, sort_keys=True), file=out)
    else:
        out.write(render(report))
    return report["exit_status"]


def main(argv=None, environ=None, out=None, prog="cos2oms status"):
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv), environ, out, prog)
