# -*- coding: utf-8 -*-
"""status: reading OMS's answers, summing them per hour, and the verdict (exit status, next steps)."""
import pytest
import responses

from cos2oms import status, transport
from cos2oms.signer import SignerAuth
from tests import support

HOUR = 3600
NOW = status.from_iso("2024-05-01T10:20:00Z")


def test_task_address_comes_from_sync_url():
    url, project, task = status.task_address(support.SYNC_URL)
    assert (project, task) == (support.PROJECT, support.TASK)
    assert url == "https://oms.test.invalid/v2/%s/sync-tasks/%s" % (support.PROJECT, support.TASK)


def test_window_is_whole_clock_hours_up_to_now():
    start, end = status.window(NOW, 3)
    assert (status.iso(start), end) == ("2024-05-01T08:00:00Z", NOW)


def point(iso_time, n, unit=1000):
    return {"time_stamp": int(status.from_iso(iso_time) * unit), "statistic_num": n}


def test_statistics_are_summed_per_hour_and_clipped_to_the_window():
    start, end = status.window(NOW, 2)  # 09:00 .. 10:20
    body = {"sync_task_id": support.TASK, "statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": "REQUEST", "data": [point("2024-05-01T08:55:00Z", 100),  # before the window
                                          point("2024-05-01T09:00:00Z", 3), point("2024-05-01T09:55:00Z", 4),
                                          point("2024-05-01T10:05:00Z", 5)]},
        {"data_type": "FAILURE", "data": [point("2024-05-01T10:15:00Z", 1, unit=1)]},  # seconds, not ms
        {"data_type": "NEW_KIND", "data": [point("2024-05-01T10:15:00Z", 9)]},  # unknown: left out
        {"data_type": "SIZE", "data": [{"time_stamp": point("2024-05-01T09:10:00Z", 0)["time_stamp"],
                                        "statistic_num": None}]},
    ]}
    time_type, rows = status.parse_statistics(body, start, end)
    assert time_type == "FIVE_MINUTES"
    assert [row["hour"] for row in rows] == ["2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"]
    assert [(row["REQUEST"], row["FAILURE"], row["SIZE"]) for row in rows] == [(7, 0, 0), (5, 1, 0)]
    assert status.totals(rows)["REQUEST"] == 12


@pytest.mark.parametrize("body", [{}, {"statistic_datas": "x"}, {"statistic_datas": [{"data_type": "REQUEST"}]},
                                  {"statistic_datas": [{"data_type": "REQUEST", "data": [{"statistic_num": 1}]}]}])
def test_statistics_not_of_the_documented_shape_are_refused(body):
    with pytest.raises(ValueError):
        status.parse_statistics(body, NOW - HOUR, NOW)


def test_task_fields_of_the_wrong_type_are_none():
    task = status.parse_task({"status": "SYNCHRONIZING", "src_bucket": 7, "monthly_size": True,
                              "monthly_failure_object": -1, "monthly_success_object": 12,
                              "create_time": 1714558800000})
    assert task["status"] == "SYNCHRONIZING" and task["src_bucket"] is None
    assert (task["monthly_size"], task["monthly_failure_object"], task["monthly_success_object"]) == (None, None, 12)
    assert task["create_time"] == "2024-05-01T10:20:00Z"


def report(task_status="SYNCHRONIZING", failure=0, failed_markers=0):
    rows = [{"hour": "2024-05-01T10:00:00Z", "REQUEST": 5, "SUCCESS": 5 - failure, "FAILURE": failure, "SKIP": 0,
             "SIZE": 0}]
    return {"task": {"status": task_status}, "window": {"hours": 1, "totals": status.totals(rows), "hourly": rows},
            "markers": {"failed": {"count": failed_markers, "capped": False, "oldest_age_seconds": 90}}}


def test_all_well_is_exit_0():
    done = status.assess(report())
    assert (done["exit_status"], done["attention"], done["next_steps"]) == (0, [], [])


@pytest.mark.parametrize("kwargs, step", [({"task_status": "STOPPED"}, status.REPLAY),
                                          ({"failure": 2}, status.VERIFY),
                                          ({"failed_markers": 4}, status.REPLAY)])
def test_each_thing_that_needs_attention_is_exit_1_with_a_next_step(kwargs, step):
    done = status.assess(report(**kwargs))
    assert done["exit_status"] == status.EXIT_ATTENTION and len(done["attention"]) == 1
    assert done["next_steps"] == [step]


def test_configuration_problems_outrank_the_rest():
    done = status.assess(report(failed_markers=1), [(status.EXIT_CONFIG, "OMS refused the key", None)])
    assert done["exit_status"] == status.EXIT_CONFIG
    assert done["attention"][0] == "OMS refused the key"


def test_times_and_sizes_for_people():
    assert status.from_iso("2024-05-01T18:20:00.123+08:00") == NOW
    assert status.from_iso("2024-05-01T10:20:00Z") == NOW
    assert status.from_iso("yesterday") is None
    assert [status.human_age(s) for s in (5, 600, 7 * HOUR + 1800, 3 * 86400 + 2 * HOUR)] == [
        "5 s", "10 min", "7 h 30 min", "3 d 2 h"]
    assert [status.compact(n) for n in (0, 999999, 1234567, 5 * 10 ** 9)] == ["0", "999,999", "1.2M", "5.0G"]
    assert [status.human_bytes(n) for n in (512, 1536, 16873000000)] == ["512 B", "1.5 KiB", "15.7 GiB"]


def test_network_names_are_shown_plainly_only_when_harmless():
    assert status.shown("testpic-1253970026") == "testpic-1253970026"
    assert status.shown("evil\nline") == '"evil\\nline"'


@responses.activate
@pytest.mark.parametrize("answer, expected", [
    (dict(status=200, body="<html>"), "answer is not a JSON object"),
    (dict(status=502, body="<html>Bad gateway</html>"), "HTTP 502"),
    (dict(status=302, headers={"Location": "https://elsewhere.invalid/"}), "redirect refused"),
])
def test_unusable_answers_are_described(answer, expected):
    url = "https://oms.test.invalid/v2/p/sync-tasks/t"
    responses.add(responses.GET, url, **answer)
    got = status.oms_get(transport.new_session(), url, {"query_time": 1}, SignerAuth("ak", "sk"), 1.0, "task")
    assert not got.ok and not got.refused
    assert expected in got.describe()
