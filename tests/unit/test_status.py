# -*- coding: utf-8 -*-
"""status: reading OMS's answers, summing them per hour, and the verdict (exit status, next steps)."""
import pytest
import responses

from cos2oms import oms_tasks, settings, status, transport
from cos2oms import status_figures as figures, status_view as view
from cos2oms.commands import base
from tests import support

HOUR = 3600
NOW = status.from_iso("2024-05-01T10:20:00Z")
MAX_LONG = 2 ** 63 - 1  # the API's Long (ListSyncTaskStatistic: time_stamp and statistic_num, 0 to 2^63-1)


def test_task_address_comes_from_sync_url():
    url, project, task = settings.task_address(support.SYNC_URL)
    assert (project, task) == (support.PROJECT, support.TASK)
    assert url == "https://oms.test.invalid/v2/%s/sync-tasks/%s" % (support.PROJECT, support.TASK)


def test_window_is_whole_clock_hours_up_to_now():
    start, end = figures.window(NOW, 3)
    assert (figures.iso(start), end) == ("2024-05-01T08:00:00Z", NOW)


def point(iso_time, n, unit=1000):
    return {"time_stamp": int(status.from_iso(iso_time) * unit), "statistic_num": n}


def test_statistics_are_summed_per_hour_and_clipped_to_the_window():
    start, end = figures.window(NOW, 2)  # 09:00 .. 10:20
    body = {"sync_task_id": support.TASK, "statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": "REQUEST", "data": [point("2024-05-01T08:55:00Z", 100),  # before the window
                                          point("2024-05-01T09:00:00Z", 3), point("2024-05-01T09:55:00Z", 4),
                                          point("2024-05-01T10:05:00Z", 5)]},
        {"data_type": "FAILURE", "data": [point("2024-05-01T10:15:00Z", 1, unit=1)]},  # seconds, not ms
        {"data_type": "NEW_KIND", "data": [point("2024-05-01T10:15:00Z", 9)]},  # unknown: left out
        {"data_type": "SIZE", "data": [point("2024-05-01T09:10:00Z", 0)]},
        {"data_type": "SUCCESS", "data": []},  # a series with no point: zero
    ]}
    got = figures.parse_statistics(body, start, end)
    rows = got["hourly"]
    assert got["statistic_time_type"] == "FIVE_MINUTES"
    assert [row["hour"] for row in rows] == ["2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"]
    assert [(row["REQUEST"], row["SUCCESS"], row["FAILURE"], row["SIZE"]) for row in rows] == [(7, 0, 0, 0),
                                                                                               (5, 0, 1, 0)]
    # SKIP was asked for and not answered: unknown, not zero.
    assert [row["SKIP"] for row in rows] == [None, None]
    assert got["gaps"] == [{"data_type": "SKIP", "why": "OMS's answer has no SKIP series"}]
    assert figures.totals(rows) == {"REQUEST": 12, "SUCCESS": 0, "FAILURE": 1, "SKIP": None, "SIZE": 0}


def series(kind, *points):
    return {"statistic_datas": [{"data_type": kind, "data": list(points)}]}


@pytest.mark.parametrize("body", [
    {}, {"statistic_datas": "x"}, {"statistic_datas": [{"data_type": "REQUEST"}]},
    series("REQUEST", {"statistic_num": 1}), series("REQUEST", "a point"),
    # statistic_num is a Long from 0 to 2^63-1: anything else is not zero, it is not an answer we can read
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": "12"}),
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": 12.0}),
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": -1}),
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": None}),
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": True}),
    series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": MAX_LONG + 1}),
    series("FAILURE", {"time_stamp": "1714557600000", "statistic_num": 1}),
    series("FAILURE", {"time_stamp": -5, "statistic_num": 1}),
], ids=["empty", "not-a-list", "no-data", "no-time-stamp", "point-not-object", "num-string", "num-float",
        "num-negative", "num-null", "num-bool", "num-too-big", "stamp-string", "stamp-negative"])
def test_statistics_not_of_the_documented_shape_are_refused(body):
    with pytest.raises(ValueError) as exc:
        figures.parse_statistics(body, NOW - HOUR, NOW)
    assert "12" not in str(exc.value) or "2**63" in str(exc.value)  # the message names the type, not the value


def test_a_failure_count_of_the_wrong_type_is_never_read_as_no_failure():
    body = series("FAILURE", {"time_stamp": 1714557600000, "statistic_num": "12"})
    with pytest.raises(ValueError, match="statistic_num is a string, not an integer from 0 to 2\\*\\*63 - 1"):
        figures.parse_statistics(body, NOW - HOUR, NOW)


def test_time_stamps_far_outside_the_window_are_left_out_not_fatal():
    body = series("FAILURE", {"time_stamp": 10 ** 17, "statistic_num": 5}, {"time_stamp": MAX_LONG, "statistic_num": 1},
                  {"time_stamp": 0, "statistic_num": 2})
    rows = figures.parse_statistics(body, NOW - HOUR, NOW)["hourly"]
    assert [row["FAILURE"] for row in rows] == [0, 0]


def five_minute_series(first, count, n=1):
    return [{"time_stamp": int((first + i * 300) * 1000), "statistic_num": n} for i in range(count)]


def test_a_series_holding_the_documented_maximum_covers_only_the_hours_it_reaches():
    # 168 h asked at once would be 2,016 five-minute points; an API keeping the first 1,000 reaches 83 h 20 min.
    start, end = figures.window(NOW, 168)
    body = {"statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": kind, "data": five_minute_series(start, figures.POINTS_MAX)} for kind in figures.DATA_TYPES]}
    got = figures.parse_statistics(body, start, end)
    known = [row for row in got["hourly"] if row["FAILURE"] is not None]
    assert len(got["hourly"]) == 168 and len(known) == 83  # 83 whole hours; the 84th is only partly reached
    assert known[-1]["hour"] == figures.iso(start + 82 * HOUR) and known[0]["REQUEST"] == 12
    assert figures.totals(got["hourly"])["REQUEST"] == 83 * 12
    why = [gap["why"] for gap in got["gaps"] if gap["data_type"] == "FAILURE"]
    assert why == ["its FAILURE series holds 1,000 points, the most the API documents, and reaches only from "
                   "%s to %s" % (figures.iso(start), figures.iso(start + 1000 * 300))]


def test_a_full_series_that_reaches_the_whole_window_is_complete():
    start, end = figures.window(NOW, 24)
    body = {"statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": kind, "data": five_minute_series(end - 999 * 300, figures.POINTS_MAX)}
        for kind in figures.DATA_TYPES]}  # the last 1,000 points: 83 h up to now
    got = figures.parse_statistics(body, start, end)
    assert got["gaps"] == [] and all(row["FAILURE"] is not None for row in got["hourly"])


def test_the_window_is_asked_in_pieces_no_series_of_which_can_need_more_than_1000_points():
    start, end = figures.window(NOW, 168)
    pieces = figures.statistics_pieces(start, end)
    assert len(pieces) == 3
    assert pieces[0][0] == start * 1000 and pieces[-1][1] == int(end * 1000)
    for (_, b), (c, _) in zip(pieces, pieces[1:]):
        assert c == b + 1  # contiguous, no millisecond asked twice
    assert all((b - a) // 300000 + 1 < figures.POINTS_MAX for a, b in pieces)  # even in 5-minute buckets
    assert all(a % 3600000 == 0 for a, _ in pieces)  # each from a whole hour: no hour split between pieces
    assert figures.statistics_pieces(*figures.window(NOW, 24)) == [(figures.window(NOW, 24)[0] * 1000,
                                                                   int(NOW * 1000))]


def test_task_fields_of_the_wrong_type_are_none():
    task = figures.parse_task({"status": "SYNCHRONIZING", "src_bucket": 7, "monthly_size": True,
                              "monthly_failure_object": -1, "monthly_success_object": 12,
                              "monthly_skip_object": MAX_LONG + 1, "create_time": 1714558800000})
    assert task["status"] == "SYNCHRONIZING" and task["src_bucket"] is None
    assert (task["monthly_size"], task["monthly_failure_object"], task["monthly_success_object"],
            task["monthly_skip_object"]) == (None, None, 12, None)
    assert task["create_time"] == "2024-05-01T10:20:00Z"


@pytest.mark.parametrize("stamp", [10 ** 17, MAX_LONG, MAX_LONG + 1, 10 ** 30])
def test_times_no_calendar_can_name_are_none_not_a_crash(stamp):
    task = figures.parse_task({"status": "SYNCHRONIZING", "create_time": stamp, "last_start_time": stamp})
    assert (task["create_time"], task["last_start_time"]) == (None, None)


def test_iso_and_epoch_seconds_are_total():
    assert [figures.iso(s) for s in (10 ** 14, float("inf"), float("nan"), -10 ** 14)] == [None] * 4
    assert [figures.epoch_seconds(s) for s in (None, "1", True, -1, MAX_LONG + 1, float("nan"))] == [None] * 6
    assert figures.epoch_seconds(1714558800000) == figures.epoch_seconds(1714558800) == NOW


def report(task_status="SYNCHRONIZING", failure=0, failed_markers=0, hourly=True, month_failures=0, asked=True):
    rows = [{"hour": "2024-05-01T10:00:00Z", "REQUEST": 5, "SUCCESS": 5 - failure, "FAILURE": failure, "SKIP": 0,
             "SIZE": 0}]
    task = dict((name, None) for name in figures.TASK_TEXT_FIELDS + figures.TASK_TIME_FIELDS + figures.MONTHLY_FIELDS)
    task.update(status=task_status, monthly_failure_object=month_failures)
    return {"task_id": support.TASK, "project_id": support.PROJECT, "log_bucket": support.LOG_BUCKET,
            "checked_at": "2024-05-01T10:20:00Z", "task": task, "oms_errors": [],
            "window": {"hours": 1, "start": "2024-05-01T10:00:00Z", "statistics_asked": asked,
                       "totals": figures.totals(rows) if hourly else None, "hourly": rows if hourly else None},
            "markers": {"failed": {"count": failed_markers, "capped": False, "oldest_age_seconds": 90,
                                   "error": None}, "success": None}}


def test_all_well_is_exit_0():
    done = status.assess(report())
    assert (done["exit_status"], done["attention"], done["next_steps"]) == (0, [], [])
    assert done["window"]["failures_from"] == "window"


@pytest.mark.parametrize("kwargs, step", [({"task_status": "STOPPED"}, status.REPLAY),
                                          ({"failure": 2}, status.VERIFY),
                                          ({"failed_markers": 4}, status.REPLAY)])
def test_each_thing_that_needs_attention_is_exit_1_with_a_next_step(kwargs, step):
    done = status.assess(report(**kwargs))
    assert done["exit_status"] == base.EXIT_ATTENTION and len(done["attention"]) == 1
    assert done["next_steps"] == [step]


def test_without_the_windows_figures_the_months_failures_need_attention():
    done = status.assess(report(hourly=False, asked=False, month_failures=41))
    assert done["exit_status"] == base.EXIT_ATTENTION and done["next_steps"] == [status.VERIFY]
    assert done["attention"] == ["OMS counted 41 FAILURE(s) this month, and the window's figures were not asked "
                                 "(--no-statistics): some may be in the last 1 h. Check the destination."]
    assert done["window"]["failures_from"] == "month"
    assert "nothing failed" not in view.render(done)


def test_without_the_windows_figures_no_failure_this_month_is_all_well_and_says_what_was_checked():
    done = status.assess(report(hourly=False, asked=False, month_failures=0))
    assert (done["exit_status"], done["attention"]) == (0, [])
    text = " ".join(view.render(done).split())
    assert "All well: the task is SYNCHRONIZING and the log bucket holds no failed marker; the window's figures " \
           "were not asked (--no-statistics), and OMS counted no FAILURE this month." in text
    assert "nothing failed in the last" not in text


def test_without_any_failure_figure_nothing_is_claimed():
    done = status.assess(report(hourly=False, month_failures=None))
    assert done["exit_status"] == base.EXIT_ATTENTION and done["window"]["failures_from"] is None
    assert done["attention"][0].startswith("Whether OMS failed to copy anything in the last 1 h is not known: the "
                                           "window's figures are not available, and its monthly_failure_object is")


def test_hours_without_a_failure_figure_fall_back_on_the_month():
    start, end = figures.window(NOW, 168)
    body = {"statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": kind, "data": five_minute_series(start, figures.POINTS_MAX, n=0)}
        for kind in figures.DATA_TYPES]}
    got = figures.parse_statistics(body, start, end)
    for month, code in ((0, 0), (3, 1)):
        done = report(month_failures=month)
        done["window"] = dict(got, hours=168, statistics_asked=True, totals=figures.totals(got["hourly"]))
        done = status.assess(done)
        assert done["exit_status"] == code
        assert done["window"]["unknown_hours"][0] == figures.iso(start + 83 * HOUR)
        text = " ".join(view.render(done).split())
        assert "OMS's figures give no FAILURE count for 85 of the window's 168 hours" in text
        assert "nothing failed in the last" not in text


def test_configuration_problems_outrank_the_rest():
    done = status.assess(report(failed_markers=1), [(base.EXIT_CONFIG, "OMS refused the key", None)])
    assert done["exit_status"] == base.EXIT_CONFIG
    assert done["attention"][0] == "OMS refused the key"


@pytest.mark.parametrize("answer, code, words", [
    (oms_tasks.OmsAnswer("task", 400, error_code="OMS.0054", error_msg="Invalid task id"), 2, "Check SYNC_URL"),
    (oms_tasks.OmsAnswer("task", 409), 2, "asking again will not help"),
    (oms_tasks.OmsAnswer("statistics", 400, error_code="OMS.0002"), 2, "or try a shorter --hours"),
    (oms_tasks.OmsAnswer("task", 429), 1, "Try again later"),
    (oms_tasks.OmsAnswer("task", 408), 1, "Try again later"),
    (oms_tasks.OmsAnswer("task", 502), 1, "Try again later"),
    (oms_tasks.OmsAnswer("task", reason="ConnectionError: refused"), 1, "Try again later"),
    (oms_tasks.OmsAnswer("task", 200, reason="answer is not a JSON object"), 1, "could not be read"),
])
def test_what_an_oms_refusal_means(answer, code, words):
    severity, message, _ = status._oms_problem(answer, support.PROJECT, support.TASK)
    assert severity == code and words in message
    assert ("Try again later" in message) == (code == 1 and answer.status != 200)


def test_times_and_sizes_for_people():
    assert status.from_iso("2024-05-01T18:20:00.123+08:00") == NOW
    assert status.from_iso("2024-05-01T10:20:00Z") == NOW
    assert status.from_iso("yesterday") is None and status.from_iso(None) is None and status.from_iso(5) is None
    assert [figures.human_age(s) for s in (5, 600, 7 * HOUR + 1800, 3 * 86400 + 2 * HOUR)] == [
        "5 s", "10 min", "7 h 30 min", "3 d 2 h"]
    assert [figures.compact(n) for n in (0, 999999, 1234567, 5 * 10 ** 9)] == ["0", "999,999", "1.2M", "5.0G"]
    assert [figures.compact(n) for n in (10 ** 12, 10 ** 15, MAX_LONG, 10 ** 30, 999949 * 10 ** 6)] == [
        "1.0T", "1.0P", "9.2E", "1.0Q", "999.9G"]
    assert figures.compact(999999999) == "1.0G"  # rounded up into the next unit, never "1000.0M"
    assert [figures.human_bytes(n) for n in (512, 1536, 16873000000, MAX_LONG)] == [
        "512 B", "1.5 KiB", "15.7 GiB", "8.0 EiB"]


def test_compact_is_at_most_7_characters_and_sizes_at_most_10_at_any_magnitude():
    for digits in range(0, 60):
        for lead in (1, 5, 9999999):
            n = lead * 10 ** digits
            assert len(figures.compact(n)) <= 7, n
            assert len(figures.compact(n - 1)) <= 7, n - 1
            assert len(figures.human_bytes(n)) <= 10, n


def test_network_names_are_shown_plainly_only_when_harmless():
    assert figures.shown("testpic-1253970026") == "testpic-1253970026"
    assert figures.shown("evil\nline") == '"evil\\nline"'
    for hostile in ("csi\x9b31m", "bidi\u202etxt.exe", "iso\u2066late", "lone\ud800"):
        got = figures.shown(hostile)
        assert got.startswith('"') and not any(c in got for c in "\x9b\u202e\u2066\ud800")  # quoted, escaped
    assert figures.shown("\u4e2d\u6587-bucket") == "\u4e2d\u6587-bucket"  # letters are not escaped


@responses.activate
@pytest.mark.parametrize("answer, expected", [
    (dict(status=200, body="<html>"), "answer is not a JSON object"),
    (dict(status=200, body="[" * 3000 + "]" * 3000), "answer is not a JSON object"),  # too deep to parse
    (dict(status=502, body="<html>Bad gateway</html>"), "HTTP 502"),
    (dict(status=502, body="[" * 3000 + "]" * 3000), "HTTP 502"),
    (dict(status=302, headers={"Location": "https://elsewhere.invalid/"}), "redirect refused"),
])
def test_unusable_answers_are_described(answer, expected):
    url = "https://oms.test.invalid/v2/p/sync-tasks/t"
    responses.add(responses.GET, url, **answer)
    client = oms_tasks.TaskClient(transport.new_session(), url + "/events", "ak", "sk", 1.0, 3, sleep=lambda s: None)
    got = client.show_sync_task(1)
    assert not got.ok and not got.refused
    assert expected in got.describe()
