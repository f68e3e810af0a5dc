# -*- coding: utf-8 -*-
"""``python -m cos2oms status [--hours N] [--json]``: is the sync keeping up?

From the function's settings it asks OMS for the sync task (``GET .../sync-tasks/{id}?query_time=``: its
status, buckets and the month's counters) and for its statistics over the last ``--hours`` hours
(``GET .../sync-tasks/{id}/statistics?data_type=...&start_time=&end_time=``, in OMS's 5-minute or 1-hour
buckets, summed here per hour), and counts the failed markers in the log bucket (the objects OMS never
accepted) with the age of the oldest. A person gets a short table and, per hour, REQUEST / SUCCESS /
FAILURE as a plain-text bar chart, as wide as the terminal (80 columns when the output is not one);
``--json`` prints the same facts as one JSON object.

The API documents at most 1,000 points per series, and 168 hours of 5-minute buckets are 2,016: the window is
asked for in pieces of at most ``PIECE_HOURS`` hours (864 five-minute points), one request each. A series that
still holds the documented maximum may have been cut short: the hours it does not reach have no figures
(None), and the output says so.

Whether anything failed is read from the window's FAILURE figures. Where they do not cover the window (not
asked with ``--no-statistics``, not available, or cut short), the month's ``monthly_failure_object`` stands
in, and the output says that it did: it never says that nothing failed in hours nobody counted.

Exit status: 0 when the task is SYNCHRONIZING, OMS counted no FAILURE (in the window, or this month where the
window's figures are missing) and there is no failed marker; 1 when something needs attention, also when OMS
or COS could not be asked (a timeout, a connection error, 408, 429 or 5xx, an answer not of the documented
shape) or status itself failed unexpectedly; 2 on bad configuration: a setting is invalid, OMS refuses the key
(401/403), knows no such task (404) or rejects the query (any other 4xx, e.g. 400 ``OMS.0054``), or the log
bucket refuses the listing or does not exist. With ``--json`` every outcome is one JSON object.

Each OMS request is made once, bounded as a whole by ``OMS_TIMEOUT``; after a refusal (401/403), or any failed
query, nothing more is sent to OMS (failed signatures lock the key for a while). Logging follows the other
commands (``cli.Output``: ``LOG_LEVEL``, ``LOG_FORMAT``, ``-v``, ``--log-file``).
"""
import argparse
import json
import logging
import os
import re
import shutil
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import requests

from cos2oms import cli, logs, markers, settings as settings_module, storage, transport
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
#: 4xx answers worth asking again later (with every 5xx); any other 4xx is about what was asked.
RETRYABLE_4XX = (408, 429)
#: The API's ``Long``: counts and ``time_stamp`` are documented as integers from 0 to this.
MAX_LONG = 2 ** 63 - 1
#: The documented maximum length of a series' ``data`` (ListSyncTaskStatistic's "array length 0 - 1000").
POINTS_MAX = 1000
#: The statistics are asked for in pieces of at most this many hours: 864 five-minute points, under POINTS_MAX.
PIECE_HOURS = 72
#: ``statistic_time_type`` -> the seconds of one bucket.
BUCKET_SECONDS = {"FIVE_MINUTES": 300, "ONE_HOUR": 3600}
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
    """A count or time stamp from OMS's JSON: an integer from 0 to 2**63 - 1 (the API's ``Long``), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LONG:
        return None
    return value


def _text(value):
    return value if isinstance(value, str) else None


def _json_type(value):
    """What a JSON value is, in words (for a message; never the value, which may be huge or hostile)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a negative integer" if value < 0 else "an integer above 2**63 - 1"
    if isinstance(value, float):
        return "a number with a fraction or an exponent"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def iso(seconds):
    """Epoch seconds as ``2024-05-01T10:00:00Z``; None for None and for a moment no calendar date can name
    (before 1970 or after 9999, infinite, not a number)."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return None


def from_iso(text):
    """``iso``'s inverse (also COS's ``LastModified``: fractions and offsets allowed); None when unreadable."""
    if not isinstance(text, str):
        return None
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$", text)
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
    milliseconds since 1973 is taken as seconds. None for anything but a number from 0 to 2**63 - 1."""
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not 0 <= stamp <= MAX_LONG:
        return None
    return stamp / 1000.0 if stamp >= 10 ** 11 else float(stamp)


def hour_floor(seconds):
    return int(seconds) // HOUR * HOUR


def window(now, hours):
    """(start, end) epoch seconds: ``hours`` clock hours (UTC hours), the last one the current, partial one."""
    return hour_floor(now) - (hours - 1) * HOUR, now


def shown(text):
    """A network-supplied name for the table: ``logs.short``'s escaped (controls C0 and C1, bidi controls, lone
    surrogates...), capped, quoted form, without the quotes when nothing in it needed escaping or cutting.
    Every value from OMS or COS that status prints passes through ``logs.short``, here or in the messages."""
    quoted = logs.short(text)
    if text and quoted == '"%s"' % text:
        return text
    return quoted


#: Units past a million, each a thousand times the one before (SI prefixes; R and Q since 2022).
COUNT_UNITS = ("M", "G", "T", "P", "E", "Z", "Y", "R", "Q")
#: Units of sizes past 1023 bytes.
BYTE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def compact(n):
    """An object count in at most 7 characters: ``999,999`` up to 999,999, then ``1.2M``, ``3.4G``, ``5.6T``,
    ... ``999.9Q``, and ``>999Q`` past that; ``-`` for None (unknown)."""
    if n is None:
        return "-"
    n = int(n)
    if n < 0:
        return "?"
    if n < 1000000:
        return "{:,}".format(n)
    size = 10 ** 6
    for unit in COUNT_UNITS:
        tenths = (n * 10 + size // 2) // size  # integers: exact at any size
        if tenths < 10000:
            return "%d.%d%s" % (tenths // 10, tenths % 10, unit)
        size *= 1000
    return ">999Q"


def human_bytes(n):
    """A size in at most 10 characters: ``512 B``, ``1.5 KiB``, ... ``1023.9 YiB``, ``>1024 YiB`` past that."""
    if n is None:
        return "-"
    n = int(n)
    if n < 1024:
        return "%d B" % n if n >= 0 else "?"
    size = 1024
    for unit in BYTE_UNITS:
        tenths = (n * 10 + size // 2) // size
        if tenths < 10240:
            return "%d.%d %s" % (tenths // 10, tenths % 10, unit)
        size *= 1024
    return ">1024 YiB"


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


def _problem(exc):
    """An exception met reading an answer, for a message: a ValueError's own words, else its type too."""
    if type(exc) is ValueError:
        return str(exc)
    return "%s: %s" % (type(exc).__name__, logs.short(str(exc)))


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

    def __init__(self, query, status=None, body=None, error_code=None, error_msg=None, reason=None,
                 request_id=None):
        self.query = query
        self.status = status
        self.body = body
        self.error_code = error_code
        self.error_msg = error_msg
        self.reason = reason
        self.request_id = request_id

    @property
    def ok(self):
        return self.body is not None

    @property
    def refused(self):
        return self.status in AUTH_STATUSES

    @property
    def retryable(self):
        """Worth asking again later: no answer (timeout, connection), 408, 429, 5xx, or an unreadable 200."""
        return self.status is None or self.status == 200 or self.status in RETRYABLE_4XX or self.status >= 500

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
                "error_msg": self.error_msg[:cap] if self.error_msg else None, "reason": self.reason,
                "oms_request_id": self.request_id[:cap] if self.request_id else None}


def _json_body(response):
    """(the body parsed, or None when it is not JSON or nested too deeply to parse; its text)."""
    text = (response.content or b"").decode("utf-8", "replace")
    try:
        return json.loads(text), text
    except (ValueError, RecursionError):
        return None, text


def _ask(session, url, params, auth, seconds, query):
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
    except Exception as exc:  # what the HTTP stack raises on an answer nothing foresaw: still no answer
        return OmsAnswer(query, reason="no usable answer: %s" % _problem(exc))
    request_id = _text(response.headers.get("X-Request-Id"))
    body, text = _json_body(response)
    if response.status_code == 200:
        if isinstance(body, dict):
            return OmsAnswer(query, 200, body, request_id=request_id)
        return OmsAnswer(query, 200, reason="answer is not a JSON object: %s" % logs.short(text[:200]),
                         request_id=request_id)
    answer = OmsAnswer(query, response.status_code, request_id=request_id)
    if isinstance(body, dict) and ("error_code" in body or "error_msg" in body):
        answer.error_code, answer.error_msg = _text(body.get("error_code")), _text(body.get("error_msg"))
    else:
        answer.error_msg = text.strip()[:logs.TEXT_CAP] or None
    return answer


def oms_get(session, url, params, auth, seconds, query):
    """One signed GET, bounded as a whole by ``seconds``; an ``OmsAnswer`` (never an exception), logged."""
    started = time.monotonic()
    answer = _ask(session, url, params, auth, seconds, query)
    logs.log(logger, logging.INFO if answer.ok else logging.WARNING, "oms query" if answer.ok else "oms query failed",
             query=query, status=answer.status, error_code=answer.error_code, error_msg=answer.error_msg,
             reason=answer.reason, oms_request_id=answer.request_id, elapsed_ms=(time.monotonic() - started) * 1000)
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
    """ListSyncTaskStatistic's answer for [start, end] (epoch seconds), summed per hour: a dict of
    ``statistic_time_type``, ``hourly`` (rows) and ``gaps`` (``{"data_type", "why"}``: why figures are missing).

    A row: ``{"hour": ISO, "REQUEST": n, "SUCCESS": n, "FAILURE": n, "SKIP": n, "SIZE": n}``, where a figure
    the answer does not give is None: every hour of a data type that has no series, and the hours a series
    holding the documented maximum of ``POINTS_MAX`` points (perhaps cut short) does not reach. Points outside
    the window and unknown data types are left out. ValueError when the answer is not of the documented shape,
    a ``time_stamp`` or ``statistic_num`` that is not an integer from 0 to 2**63 - 1 included.
    """
    series = body.get("statistic_datas")
    if not isinstance(series, list):
        raise ValueError("no statistic_datas list")
    time_type = _text(body.get("statistic_time_type"))
    bucket = BUCKET_SECONDS.get(time_type, min(BUCKET_SECONDS.values()))  # unknown: the finer, claiming less
    hours = list(range(hour_floor(start), int(end) + 1, HOUR))
    sums = dict((hour, dict((kind, 0) for kind in DATA_TYPES)) for hour in hours)
    reach = {}  # data type -> (first, last + one bucket) of a series that may have been cut short
    sizes = {}
    for entry in series:
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
            raise ValueError("a statistic_datas entry without a data list")
        kind = entry.get("data_type")
        if kind not in DATA_TYPES:
            continue
        moments = []
        for point in entry["data"]:
            if not isinstance(point, dict):
                raise ValueError("a %s data point that is not an object" % kind)
            for name in ("time_stamp", "statistic_num"):
                if _count(point.get(name)) is None:
                    raise ValueError("a %s data point whose %s is %s, not an integer from 0 to 2**63 - 1" % (
                        kind, name, _json_type(point.get(name))))
            moment = epoch_seconds(point["time_stamp"])
            moments.append(moment)
            hour = hour_floor(moment)
            if hour in sums:
                sums[hour][kind] += point["statistic_num"]
        sizes[kind] = sizes.get(kind, 0) + len(moments)
        if len(moments) >= POINTS_MAX:
            reach[kind] = (min(moments), max(moments) + bucket)
    rows = []
    for hour in hours:
        row = {"hour": iso(hour)}
        for kind in DATA_TYPES:
            value = sums[hour][kind] if kind in sizes else None
            if kind in reach and not (reach[kind][0] <= hour and min(hour + HOUR, end) <= reach[kind][1]):
                value = None
            row[kind] = value
        rows.append(row)
    gaps = []
    for kind in DATA_TYPES:
        if kind not in sizes:
            gaps.append({"data_type": kind, "why": "OMS's answer has no %s series" % kind})
        elif kind in reach and any(row[kind] is None for row in rows):
            gaps.append({"data_type": kind, "why": "its %s series holds %s points, the most the API documents, and "
                                                   "reaches only from %s to %s" % (
                                                       kind, "{:,}".format(sizes[kind]), iso(reach[kind][0]),
                                                       iso(reach[kind][1]))})
    return {"statistic_time_type": time_type, "hourly": rows, "gaps": gaps}


def totals(rows):
    """Per data type, the sum of the hours that have a figure; None when none has."""
    sums = {}
    for kind in DATA_TYPES:
        known = [row[kind] for row in rows if row.get(kind) is not None]
        sums[kind] = sum(known) if known else None
    return sums


def statistics_pieces(start, end, piece_hours=None):
    """[start, end] as consecutive (start_time, end_time) in milliseconds, each at most ``piece_hours`` hours
    (default ``PIECE_HOURS``) from a whole hour; each piece but the last ends a millisecond before the next
    begins."""
    step = (piece_hours or PIECE_HOURS) * HOUR * 1000
    first, last = int(start) * 1000, int(end * 1000)
    pieces = []
    while first + step <= last:
        pieces.append((first, first + step - 1))
        first += step
    pieces.append((first, last))
    return pieces


def ask_statistics(session, url, auth, seconds, start, end):
    """ListSyncTaskStatistic over the window, piece by piece: (window fields, None), or (None, the answer that
    failed: nothing more is asked after it)."""
    types, rows, gaps = [], [], []
    for start_ms, end_ms in statistics_pieces(start, end):
        params = {"data_type": ",".join(DATA_TYPES), "start_time": start_ms, "end_time": end_ms}
        answer = oms_get(session, url + "/statistics", params, auth, seconds, "statistics")
        if answer.ok:
            try:
                piece = parse_statistics(answer.body, start_ms / 1000.0, end_ms / 1000.0)
            except Exception as exc:  # ValueError: not the documented shape; anything else: still not usable
                answer.reason, answer.body = "answer not of the documented shape: %s" % _problem(exc), None
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
        entries, following, cause = markers.read_listing(answer, prefix, marker)
        if cause is not None:  # never "no failed markers" about markers it could not see
            listing.error = cause
            return listing
        for item in entries:
            modified = from_iso(item.get("LastModified"))
            if modified is not None and (listing.oldest is None or modified < listing.oldest):
                listing.oldest = modified
        listing.count += len(entries)
        if following is None:
            return listing
        if listing.count >= cap:
            listing.capped = True
            return listing
        marker = following


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
                   "totals": None, "hourly": None, "gaps": [], "statistics_asked": statistics},
        "oms_errors": [],
        "markers": {"max_list": max_list, "failed": None, "success": None},
    }
    problems = []  # (severity, message, next step or None)

    answer = oms_get(session, url, {"query_time": int(now * 1000)}, auth, settings.oms_timeout, "task")
    if answer.ok:
        try:
            report["task"] = parse_task(answer.body)
        except Exception as exc:  # parse_task reads any dict; this is the net under it
            answer.reason, answer.body = "answer not of the documented shape: %s" % _problem(exc), None
    if not answer.ok:
        report["oms_errors"].append(answer.as_dict())
        problems.append(_oms_problem(answer, project, task_id))
    elif statistics:
        fields, failed = ask_statistics(session, url, auth, settings.oms_timeout, start, end)
        if failed is None:
            report["window"].update(fields)
        else:
            report["oms_errors"].append(failed.as_dict())
            problems.append(_oms_problem(failed, project, task_id))

    cos = cos or storage.build_cos_client(settings)
    kinds = [("failed", markers.FAILED)] + ([("success", markers.SUCCESS)] if count_success else [])
    for name, kind in kinds:
        listing = list_markers(cos, settings.log_bucket, marker_listing_prefix(task_id, kind), max_list)
        report["markers"][name] = listing.as_dict(now)
        if listing.error:
            problems.append((EXIT_CONFIG if listing.config_error else EXIT_ATTENTION,
                             "Listing the %s markers in the log bucket %s failed: %s%s" % (
                                 name, shown(settings.log_bucket), listing.error,
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


# ----------------------------------------------------------------------------------------- rendering

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


# ----------------------------------------------------------------------------------------- command

def bounded_int(low, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("must be a whole number, got %r" % text) from None
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
    cli.add_arguments(parser)


def output_width(out):
    """The terminal's columns when ``out`` is a terminal (at least ``MIN_WIDTH``), else ``DEFAULT_WIDTH``: a
    pipe or a file gets the same text whatever terminal it was started from."""
    if not cli.isatty(out):
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def _write(out, text):
    """Write ``text``; what the stream's encoding cannot carry (an ASCII locale) is written backslash-escaped."""
    encoding = getattr(out, "encoding", None)
    if encoding:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            text = text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            pass
    out.write(text)


def _unfinished(prog, why, as_json):
    """The report of a run that could not finish: exit 1, one JSON object with ``--json``."""
    report = {"attention": ["status could not finish: %s" % why], "next_steps": [], "exit_status": EXIT_ATTENTION}
    text = json.dumps(report, sort_keys=True) + "\n" if as_json else "%s: %s\n" % (prog, report["attention"][0])
    return report, text


def run(args, environ=None, out=None, prog="cos2oms status"):
    """The command: returns its exit status. ``out``: default ``sys.stdout`` as it is at the call."""
    out = out or sys.stdout
    environ = os.environ if environ is None else environ
    try:
        settings = settings_module.load_settings(environ=environ)
    except ConfigError as exc:
        print("%s: configuration error: %s" % (prog, exc), file=sys.stderr)
        if args.json:
            print(json.dumps({"attention": ["configuration error: %s" % exc], "next_steps": [],
                              "exit_status": EXIT_CONFIG}, sort_keys=True), file=out)
        return EXIT_CONFIG
    try:
        with cli.Output(args, settings, environ):
            report = gather(settings, hours=args.hours, statistics=not args.no_statistics, max_list=args.max_list,
                            count_success=args.count_success)
            logs.log(logger, logging.INFO, "status done", task=report["task_id"], exit_status=report["exit_status"],
                     attention=len(report["attention"]))
            text = json.dumps(report, sort_keys=True) + "\n" if args.json else render(report, width=output_width(out))
    except KeyboardInterrupt:
        report, text = _unfinished(prog, "interrupted", args.json)
    except Exception as exc:  # a bug, or something nothing above foresaw: still a clear message and exit 1
        cause = _problem(exc)
        logs.log(logger, logging.ERROR, "status failed", cause=cause)
        report, text = _unfinished(prog, "%s (a bug: please report it)" % cause, args.json)
    _write(out, text)
    return report["exit_status"]


def main(argv=None, environ=None, out=None, prog="cos2oms status"):
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv), environ, out, prog)
