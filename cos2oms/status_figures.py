# -*- coding: utf-8 -*-
"""status's figures (pure): the report's vocabulary, OMS's ShowSyncTask and ListSyncTaskStatistic answers read
into it (counts and times checked against the documented shapes), and the figures written for a person."""
from datetime import datetime, timezone

from cos2oms import logs

#: ListSyncTaskStatistic's ``data_type`` values; the chart shows the first three.
DATA_TYPES = ("REQUEST", "SUCCESS", "FAILURE", "SKIP", "SIZE")
CHART_TYPES = ("REQUEST", "SUCCESS", "FAILURE")
#: ShowSyncTask's answer: the text fields and the counters read from it (names as in OMS's API).
TASK_TEXT_FIELDS = ("sync_task_id", "status", "src_cloud_type", "src_region", "src_bucket", "dst_region",
                    "dst_bucket", "description")
TASK_TIME_FIELDS = ("create_time", "last_start_time")
MONTHLY_FIELDS = ("monthly_acceptance_request", "monthly_success_object", "monthly_failure_object",
                  "monthly_skip_object", "monthly_size")
#: The API's ``Long``: counts and ``time_stamp`` are documented as integers from 0 to this.
MAX_LONG = 2 ** 63 - 1
#: The documented maximum length of a series' ``data`` (ListSyncTaskStatistic's "array length 0 - 1000").
POINTS_MAX = 1000
#: The statistics are asked for in pieces of at most this many hours: 864 five-minute points, under POINTS_MAX.
PIECE_HOURS = 72
#: ``statistic_time_type`` -> the seconds of one bucket.
BUCKET_SECONDS = {"FIVE_MINUTES": 300, "ONE_HOUR": 3600}
HOUR = 3600


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
