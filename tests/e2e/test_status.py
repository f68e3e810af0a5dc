"""``python -m cos2oms status`` end to end, against the loopback OMS (it answers ShowSyncTask and
ListSyncTaskStatistic from the POSTs it accepted and the copies it made, checking every signature) and the
loopback COS log bucket.

What must hold: the figures are what the loopback OMS received; each fault (401, 403, 404, 5xx, a hang)
gives a message that says what happened and the documented exit status (0 all well, 1 attention, 2
configuration); after a refusal nothing more is sent to OMS; a hang is bounded by OMS_TIMEOUT. The SDK
(huaweicloudsdkoms) is the oracle for the names of fields and parameters: its own client, pointed at the
loopback, must read the same figures as ours.
"""

import io
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

import index
from cos2oms import handler, markers, status, storage
from cos2oms import settings, status_figures as figures, status_view as view
from cos2oms.commands import status as status_command
from cos2oms.__main__ import main as cli_main
from local import world
from tests import support
from tests.support import PROJECT, TASK, TRICKY_NAMES

BUCKET = support.LOG_BUCKET
OMS_TIMEOUT = 0.5
#: OMS_MAX_ATTEMPTS's default (README): a query that fails in a way worth another attempt is made this often.
ATTEMPTS = 3


# ----------------------------------------------------------------------------- helpers

@pytest.fixture
def environ(oms_server, cos_server):
    return world.environment(oms_server, cos_server, log_bucket=BUCKET, COS_REGION="ap-guangzhou",
                             OMS_TIMEOUT=str(OMS_TIMEOUT))


@pytest.fixture
def os_environ(environ, monkeypatch):
    """The same settings in ``os.environ`` (for the function, which sends the events, and the CLI)."""
    world.install(environ, monkeypatch)
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    return environ


def run_raw(environ, *argv, out=None):
    """(exit status, the output as printed)."""
    out = out or io.StringIO()
    code = status_command.main(list(argv), environ=environ, out=out)
    return code, out.getvalue()


def run(environ, *argv):
    """(exit status, the output with its white space runs made single spaces: messages wrap at 80 columns)."""
    code, text = run_raw(environ, *argv)
    return code, " ".join(text.split())


def run_json(environ, *argv):
    out = io.StringIO()
    code = status_command.main(["--json"] + list(argv), environ=environ, out=out)
    report = json.loads(out.getvalue())  # one JSON object, nothing else
    assert report["exit_status"] == code
    return code, report


def sync(*names):
    """Objects created in the source bucket: the function sends them to the loopback OMS."""
    return index.main_handler(support.event(*[support.record(name) for name in names]), {"time_limit_in_ms": 10000})


def failed(key, task=TASK):
    return markers.marker_key(task, markers.FAILED, key)


def gets(oms):
    return [r for r in oms.requests if r.method == "GET"]


def expected_outcomes(oms):
    """SUCCESS, FAILURE, SIZE as the loopback OMS copied (all 0 while it copies nothing)."""
    copies = oms.copy_outcomes(TASK)
    return (sum(1 for _, ok, _, skipped in copies if ok and not skipped), sum(1 for _, ok, _, _ in copies if not ok),
            sum(size for _, ok, size, skipped in copies if ok and not skipped))


# ----------------------------------------------------------------------------- figures

def test_figures_match_what_the_loopback_oms_received(os_environ, oms_server, cos_server):
    names = ["photo-%02d.jpg" % i for i in range(13)]
    assert sync(*names) is True
    code, report = run_json(os_environ, "--count-success")

    assert len(oms_server.received_keys()) == 13
    succeeded, failures, size = expected_outcomes(oms_server)
    task = report["task"]
    assert (task["sync_task_id"], task["status"]) == (TASK, "SYNCHRONIZING")
    assert (task["monthly_acceptance_request"], task["monthly_success_object"], task["monthly_failure_object"],
            task["monthly_size"]) == (13, succeeded, failures, size)
    window = report["window"]
    assert len(window["hourly"]) == 24 and window["statistic_time_type"] == "FIVE_MINUTES"
    assert window["totals"] == {"REQUEST": 13, "SUCCESS": succeeded, "FAILURE": failures, "SKIP": 0, "SIZE": size}
    assert sum(row["REQUEST"] for row in window["hourly"]) == 13
    assert report["markers"]["success"]["count"] == 13 and report["markers"]["failed"]["count"] == 0
    assert report["oms_errors"] == []
    queries = gets(oms_server)
    assert [(r.path, r.verified, r.status) for r in queries] == [
        ("/v2/%s/sync-tasks/%s" % (PROJECT, TASK), True, 200),
        ("/v2/%s/sync-tasks/%s/statistics" % (PROJECT, TASK), True, 200)]
    assert code == (0 if failures == 0 else 1)


def test_all_well_is_exit_0_and_says_so(os_environ, oms_server, monkeypatch):
    monkeypatch.setattr(oms_server, "copies", [], raising=False)  # nothing copied, nothing failed
    assert sync("a.jpg", "b.jpg") is True
    code, text = run(os_environ)
    assert code == 0
    assert "OMS task SYNCHRONIZING" in text
    assert "All well: the task is SYNCHRONIZING and nothing failed in the last 24 h." in text
    assert "Needs attention" not in text


def test_copies_count_as_success_or_failure_and_a_failure_says_run_verify(os_environ, oms_server, monkeypatch):
    assert sync("a.jpg", "b.jpg", "c.jpg") is True
    now = time.time()
    copies = [SimpleNamespace(time=now, event_key=support.event_key("a.jpg"), dest_key="a.jpg", size=1000, ok=True),
              SimpleNamespace(time=now, event_key=support.event_key("b.jpg"), dest_key="b.jpg", size=0, ok=False),
              SimpleNamespace(time=now, event_key="/1/other/not-this-task.jpg", dest_key="x", size=5, ok=True)]
    monkeypatch.setattr(oms_server, "copies", copies, raising=False)

    code, report = run_json(os_environ)
    assert code == 1
    assert report["window"]["totals"] == {"REQUEST": 3, "SUCCESS": 1, "FAILURE": 1, "SKIP": 0, "SIZE": 1000}
    assert (report["task"]["monthly_success_object"], report["task"]["monthly_failure_object"]) == (1, 1)
    assert report["next_steps"] == ["python -m cos2oms verify"]
    code, raw = run_raw(os_environ)
    text = " ".join(raw.split())
    assert "OMS counted 1 FAILURE(s) in the last 24 h" in text
    assert len([line for line in raw.splitlines() if line.endswith(view.FAILURE_MARK)]) == 1  # the hour marked
    assert "Next: python -m cos2oms verify" in text


def test_a_stopped_task_needs_attention(os_environ, oms_server):
    oms_server.set_task_status(TASK, "STOPPED")
    code, text = run(os_environ)
    assert code == 1
    assert "The sync task is STOPPED, not SYNCHRONIZING" in text


# ----------------------------------------------------------------------------- markers

NAMES = TRICKY_NAMES + ["100%.txt", "a+b.txt", "x&amp;<y>.txt", "tab\there", "中文 a+b%41?#&=.jpg"]


def test_failed_markers_are_counted_page_by_page_whatever_their_names(os_environ, cos_server, monkeypatch):
    keys = [support.event_key(name) for name in NAMES]
    cos_server.put_keys(BUCKET, [failed(k) for k in keys] + [
        failed(support.event_key("other.jpg"), task="b7d2c4e6-task-5f3a-8c6b-9876543210fe"),
        markers.marker_key(TASK, markers.SUCCESS, keys[0])])
    monkeypatch.setattr(status, "LIST_PAGE", 4)

    code, report = run_json(os_environ)
    found = report["markers"]["failed"]
    assert (found["count"], found["capped"], found["error"]) == (len(keys), False, None)
    assert 0 <= found["oldest_age_seconds"] < 3600
    lists = [r for r in cos_server.requests if r.kind == "list"]
    assert len(lists) == math.ceil(len(keys) / 4.0)
    assert all("encoding-type=url" in r.query for r in lists)
    assert code == 1 and report["next_steps"] == ["python -m cos2oms replay"]
    assert report["attention"][-1].startswith("%d failed marker(s) in the log bucket" % len(keys))


def test_the_listing_stops_at_max_list_and_says_so(os_environ, cos_server, monkeypatch):
    cos_server.put_keys(BUCKET, [failed(support.event_key("f%02d.jpg" % i)) for i in range(25)])
    monkeypatch.setattr(status, "LIST_PAGE", 4)
    code, report = run_json(os_environ, "--max-list", "10")
    assert (report["markers"]["failed"]["count"], report["markers"]["failed"]["capped"]) == (10, True)
    assert len([r for r in cos_server.requests if r.kind == "list"]) == 3  # 4 + 4 + 2
    code, text = run(os_environ, "--max-list", "10")
    assert "failed markers 10+ (stopped at --max-list)" in text
    assert "At least 10 failed marker(s)" in text


def test_a_log_bucket_that_refuses_the_listing_is_a_configuration_error(os_environ, cos_server):
    cos_server.fail_all(403, "AccessDenied", kind="list")
    code, text = run(os_environ)
    assert code == 2
    assert 'Listing the failed markers in the log bucket %s failed: COS answered 403 "AccessDenied"' % BUCKET in text


class LyingListing(object):
    """A log bucket whose listing says there is more but sends no names (or is not a listing at all)."""

    def __init__(self, answer):
        self.answer = answer

    def list_objects(self, **kwargs):
        return self.answer


@pytest.mark.parametrize("answer", [
    {"Name": BUCKET, "Prefix": "oms_source_record/%s/failed_object" % TASK, "IsTruncated": "true"},
    {"Code": "SlowDown", "Message": "later"},  # an error document answered with 200
], ids=["truncated-without-names", "not-a-listing"])
def test_a_listing_it_could_not_read_is_never_no_failed_markers(os_environ, monkeypatch, answer):
    monkeypatch.setattr(storage, "build_cos_client", lambda settings: LyingListing(answer))
    code, report = run_json(os_environ, "--no-statistics")
    assert code == 1 and report["markers"]["failed"]["error"]
    assert not report["attention"][-1].startswith("All well")


# ----------------------------------------------------------------------------- OMS faults

def no_such_task(oms):
    oms.set_task_status(TASK, None)


@pytest.mark.parametrize("stage, code, words, queries", [
    (lambda oms: oms.script(401), 2,
     ['OMS refused the key when asked for the sync task: HTTP 401 error_code="APIG.0301"',
      "Check HW_AK/HW_SK and that the key may call oms:synctask:get and oms:synctask:statistics."], 1),
    (no_such_task, 2, ["OMS knows no sync task %s in project %s: HTTP 404 error_code=\"OMS.0404\"" % (TASK, PROJECT),
                       "Check SYNC_URL."], 1),
    (lambda oms: oms.script(*[503] * ATTEMPTS), 1, ["OMS could not be asked for the sync task: HTTP 503",
                                                    "Try again later."], ATTEMPTS),
    (lambda oms: oms.script(*["hang"] * ATTEMPTS), 1, ["OMS could not be asked for the sync task: no answer within "
                                                       "0.5 s (OMS_TIMEOUT)"], ATTEMPTS),
    (lambda oms: oms.script(None, 403), 2, ["OMS refused the key when asked for the task's statistics: HTTP 403"], 2),
    (lambda oms: oms.script(None, *[500] * ATTEMPTS), 1, ["OMS could not be asked for the task's statistics: "
                                                          "HTTP 500"], 1 + ATTEMPTS),
    (lambda oms: oms.script((400, {"error_code": "OMS.0054", "error_msg": "Invalid sync task id"})), 2,
     ['OMS rejected the query for the sync task: HTTP 400 error_code="OMS.0054" error_msg="Invalid sync task id". '
      "Check SYNC_URL (project %s, sync task %s) and that the task exists there; asking again will not help."
      % (PROJECT, TASK)], 1),
    (lambda oms: oms.script(409), 2, ["OMS rejected the query for the sync task: HTTP 409", "Check SYNC_URL"], 1),
    (lambda oms: oms.script(None, 400), 2, ["OMS rejected the query for the task's statistics: HTTP 400",
                                            "or try a shorter --hours"], 2),
    (lambda oms: oms.script(*[429] * ATTEMPTS), 1, ["OMS could not be asked for the sync task: HTTP 429",
                                                    "Try again later."], ATTEMPTS),
    (lambda oms: oms.script(*["reset"] * ATTEMPTS), 1, ["OMS could not be asked for the sync task: ConnectionError",
                                                        "Try again later."], ATTEMPTS),
    (lambda oms: oms.script(*[408] * ATTEMPTS), 1, ["OMS could not be asked for the sync task: HTTP 408",
                                                    "Try again later."], ATTEMPTS),
], ids=["401", "404-no-such-task", "503", "hang", "statistics-403", "statistics-500", "400-OMS.0054", "409",
        "statistics-400", "429", "reset", "408"])
def test_each_oms_fault_has_a_clear_message_and_its_exit_status(os_environ, oms_server, stage, code, words,
                                                                 queries):
    stage(oms_server)
    got, text = run(os_environ)
    assert got == code
    assert "Traceback" not in text
    for phrase in words:
        assert phrase in text
    assert ("Try again later" in text) == (code == 1)  # a rejected query is not a passing fault
    assert len(gets(oms_server)) == queries  # after a refusal or a failed task query nothing more is sent
    assert "failed markers 0" in text  # the log bucket is still looked at


@pytest.mark.parametrize("fault", [503, 429, 408, "reset", "hang", (200, b"[" * 3000 + b"]" * 3000)],
                         ids=["503", "429", "408", "reset", "hang", "200-not-json"])
def test_a_fault_worth_another_attempt_is_asked_again(os_environ, oms_server, fault):
    oms_server.script(fault)  # then answered normally
    code, report = run_json(os_environ)
    assert code == 0 and report["oms_errors"] == [] and report["task"]["status"] == "SYNCHRONIZING"
    assert len(gets(oms_server)) == 3  # the task twice, then the statistics


@pytest.mark.timing
def test_a_hanging_oms_is_bounded_by_oms_timeout(os_environ, oms_server):
    oms_server.script(*["hang"] * ATTEMPTS)
    started = time.monotonic()
    code, report = run_json(os_environ)
    assert code == 1 and report["oms_errors"][0]["reason"] == "no answer within 0.5 s (OMS_TIMEOUT)"
    assert len(gets(oms_server)) == ATTEMPTS  # the task query's attempts only
    # each attempt bounded by OMS_TIMEOUT, with at most 0.25 s and 0.5 s of back-off between them; the rest is
    # the COS listing
    assert time.monotonic() - started < ATTEMPTS * OMS_TIMEOUT + 0.75 + 2.5


def test_no_statistics_asks_only_for_the_task_and_says_what_stood_in(os_environ, oms_server):
    code, text = run(os_environ, "--no-statistics")
    assert code == 0 and len(gets(oms_server)) == 1
    assert "not asked (--no-statistics)" in text and "Per hour" not in text
    assert "the window's figures were not asked (--no-statistics), and OMS counted no FAILURE this month" in text
    assert "nothing failed in the last" not in text  # nobody counted the window


def test_no_statistics_and_failures_this_month_need_attention(os_environ, oms_server, monkeypatch):
    assert sync("a.jpg", "b.jpg") is True
    monkeypatch.setattr(oms_server, "copies", [
        SimpleNamespace(time=time.time(), event_key=support.event_key("b.jpg"), size=0, ok=False)], raising=False)
    code, report = run_json(os_environ, "--no-statistics")
    assert code == 1 and report["task"]["monthly_failure_object"] == 1
    assert report["window"]["failures_from"] == "month" and report["next_steps"] == ["python -m cos2oms verify"]
    code, text = run(os_environ, "--no-statistics")
    assert "OMS counted 1 FAILURE(s) this month, and the window's figures were not asked (--no-statistics): some " \
           "may be in the last 24 h." in text
    assert "All well" not in text


def test_a_week_is_asked_in_pieces_and_adds_up(environ, oms_server, os_environ):
    from cos2oms import transport

    assert sync("a.jpg", "b.jpg", "c.jpg") is True
    spy = SpySession(transport.new_session())
    report = status.gather(settings.load_settings(environ=environ), hours=168, session=spy)
    stats = [params for url, params in spy.calls if url.endswith("/statistics")]
    assert len(stats) == 3
    assert stats[0]["start_time"] == status.from_iso(report["window"]["start"]) * 1000
    for before, after in zip(stats, stats[1:]):
        assert after["start_time"] == before["end_time"] + 1
    assert all(p["end_time"] - p["start_time"] < figures.PIECE_HOURS * 3600000 for p in stats)
    window = report["window"]
    assert len(window["hourly"]) == 168 and window["gaps"] == [] and window["unknown_hours"] == []
    assert window["totals"]["REQUEST"] == 3 and report["exit_status"] == 0
    assert window["statistic_time_type"] == "ONE_HOUR,FIVE_MINUTES"  # the loopback: hourly past a day


def test_a_series_cut_at_the_documented_maximum_is_said_to_cover_only_part(os_environ, oms_server, monkeypatch):
    # The old single request for 168 h, answered as an API keeping the first 1,000 five-minute points would.
    monkeypatch.setattr(figures, "PIECE_HOURS", 168)
    start = figures.window(time.time(), 168)[0]
    oms_server.script(None, (200, {"sync_task_id": TASK, "statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": kind, "data": [{"time_stamp": (start + i * 300) * 1000, "statistic_num": 0}
                                     for i in range(1000)]} for kind in figures.DATA_TYPES]}))
    code, report = run_json(os_environ, "--hours", "168")
    unknown = report["window"]["unknown_hours"]  # from the hour the series stops in (83 h 20 min on) to now
    assert unknown[0] == figures.iso(figures.hour_floor(start + 1000 * 300))
    assert unknown[-1] == report["window"]["hourly"][-1]["hour"] and len(unknown) == len(set(unknown)) >= 84
    assert report["window"]["failures_from"] == "month" and code == 0  # the loopback's month counter: no FAILURE
    oms_server.script(None, (200, {"statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": kind, "data": [{"time_stamp": (start + i * 300) * 1000, "statistic_num": 0}
                                     for i in range(1000)]} for kind in figures.DATA_TYPES]}))
    code, text = run(os_environ, "--hours", "168")
    assert re.search(r"OMS's figures give no FAILURE count for 8[4-6] of the window's 168 hours", text)
    assert "its FAILURE series holds 1,000 points, the most the API documents" in text
    assert "nothing failed in the last" not in text


# ----------------------------------------------------------------------------- answers nothing foresaw

NESTED = b"[" * 3000 + b"]" * 3000  # deeper than the JSON parser recurses


@pytest.mark.parametrize("stage, code, words", [
    (lambda oms: oms.script(*[(200, NESTED)] * ATTEMPTS), 1, "OMS's answer for the sync task could not be read: "
                                                             "HTTP 200 (answer is not a JSON object"),
    (lambda oms: oms.script(*[(502, NESTED)] * ATTEMPTS), 1, "OMS could not be asked for the sync task: HTTP 502"),
    (lambda oms: oms.script(None, *[(200, NESTED)] * ATTEMPTS), 1, "OMS's answer for the task's statistics could not "
                                                                   "be read"),
    (lambda oms: oms.script(None, *[(502, NESTED)] * ATTEMPTS), 1, "OMS could not be asked for the task's "
                                                                   "statistics: HTTP 502"),
    (lambda oms: oms.script(None, (200, {"statistic_time_type": "FIVE_MINUTES", "statistic_datas": [
        {"data_type": "FAILURE", "data": [{"time_stamp": int(time.time() * 1000), "statistic_num": "12"}]}]})),
     1, "answer not of the documented shape: a FAILURE data point whose statistic_num is a string, not an integer "
        "from 0 to 2**63 - 1"),
], ids=["task-200-nested", "task-502-nested", "statistics-200-nested", "statistics-502-nested", "failure-as-string"])
def test_hostile_answers_give_a_message_an_exit_status_and_one_json_object(os_environ, oms_server, stage, code, words):
    stage(oms_server)
    got, report = run_json(os_environ)
    assert got == code and report["exit_status"] == code
    assert any(words in message for message in report["attention"])
    stage(oms_server)
    got, text = run(os_environ)
    assert got == code and words in text and "Traceback" not in text and "All well" not in text


def test_a_create_time_no_calendar_can_name_is_no_crash(os_environ, oms_server):
    body = oms_server._task_answer(TASK, {"query_time": str(int(time.time() * 1000))})[1]
    oms_server.script((200, dict(body, create_time=10 ** 17, last_start_time=2 ** 63 - 1)))
    code, report = run_json(os_environ)
    assert code == 0 and (report["task"]["create_time"], report["task"]["last_start_time"]) == (None, None)
    assert report["task"]["status"] == "SYNCHRONIZING"


def test_anything_else_unexpected_is_a_clear_message_exit_1_and_one_json_object(os_environ, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nINFO forged line")

    monkeypatch.setattr(status, "list_markers", broken)
    code, report = run_json(os_environ)
    assert code == 1 and report["attention"] == [
        'status could not finish: RuntimeError: "boom\\nINFO forged line" (a bug: please report it)']
    code, raw = run_raw(os_environ)
    assert code == 1 and raw.count("\n") == 1 and raw.startswith("cos2oms status: status could not finish: ")
    assert "Traceback" not in capsys.readouterr().err


# ----------------------------------------------------------------------------- the terminal

def test_network_values_reach_the_terminal_escaped(os_environ, oms_server, monkeypatch):
    monkeypatch.setattr(oms_server, "task_details", dict(oms_server.task_details, src_bucket="evil\x9b2J\u202egpj.exe",
                                                         dst_bucket="rtl\u2067x"))
    code, raw = run_raw(os_environ)
    assert not any(c in raw for c in "\x9b\u202e\u2067")
    assert '"evil\\u009b2J\\u202egpj.exe"' in raw and '"rtl\\u2067x"' in raw
    code, report = run_json(os_environ)
    assert report["task"]["src_bucket"] == "evil\x9b2J\u202egpj.exe"  # the JSON keeps the value (ASCII-escaped)


def test_the_output_fits_80_columns_or_the_terminal(os_environ, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert sync("a.jpg") is True
    code, raw = run_raw(os_environ)
    assert max(len(line) for line in raw.splitlines()) <= 80
    monkeypatch.setattr(status_command.shutil, "get_terminal_size", lambda fallback=None: os.terminal_size((132, 40)))
    code, wide = run_raw(os_environ, out=Terminal())
    assert 80 < max(len(line) for line in wide.splitlines()) <= 132


def test_bad_configuration_is_exit_2_with_one_json_object(environ, capsys):
    code, report = run_json(dict(environ, SYNC_URL=""), )
    assert code == 2 and report["attention"] == ["configuration error: SYNC_URL: is required (set it in the "
                                                 "function's environment variables)"]
    assert "configuration error" in capsys.readouterr().err


def test_the_command_is_registered(os_environ, capsys):
    assert cli_main(["status", "--json", "--hours", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["window"]["hours"] == 2 and len(report["window"]["hourly"]) == 2
    with pytest.raises(SystemExit) as exc:
        cli_main(["status", "--hours", "0"])
    assert exc.value.code == 2


# ----------------------------------------------------------------------------- the SDK as oracle

def sdk_client(oms):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkoms.v2 import OmsClient

    config = HttpConfig.get_default_config()
    config.timeout = (5, 5)
    return (OmsClient.new_builder().with_http_config(config)
            .with_credentials(BasicCredentials(oms.ak, oms.sk, PROJECT)).with_endpoints([oms.url]).build())


def test_field_and_parameter_names_are_the_sdks(oms_server):
    from huaweicloudsdkoms.v2 import (ListSyncTaskStatisticRequest, ListSyncTaskStatisticResponse,
                                      ShowSyncTaskRequest, ShowSyncTaskResponse, StatisticData, StatisticTypeData)

    task_fields = set(ShowSyncTaskResponse.attribute_map.values())
    assert set(figures.TASK_TEXT_FIELDS + figures.TASK_TIME_FIELDS + figures.MONTHLY_FIELDS) <= task_fields
    assert {"statistic_time_type", "statistic_datas"} <= set(ListSyncTaskStatisticResponse.attribute_map.values())
    assert set(StatisticTypeData.attribute_map.values()) == {"data_type", "data"}
    assert set(StatisticData.attribute_map.values()) == {"time_stamp", "statistic_num"}
    assert set(ShowSyncTaskRequest.attribute_map.values()) == {"sync_task_id", "query_time"}
    assert set(ListSyncTaskStatisticRequest.attribute_map.values()) == {"sync_task_id", "data_type", "start_time",
                                                                         "end_time"}
    documented = ListSyncTaskStatisticRequest.data_type.fset.__doc__
    assert all(kind + "：" in documented for kind in figures.DATA_TYPES)
    # The loopback answers with exactly the SDK's fields, so what passes here would pass against OMS's shape.
    now_ms = int(time.time() * 1000)
    assert set(oms_server._task_answer(TASK, {"query_time": str(now_ms)})[1]) == task_fields
    stats = oms_server._statistics_answer(TASK, {"data_type": "REQUEST", "start_time": str(now_ms - 3600000),
                                                 "end_time": str(now_ms)})[1]
    assert set(stats) == set(ListSyncTaskStatisticResponse.attribute_map.values())


class SpySession(object):
    """Records the GETs ``status`` makes, then makes them."""

    def __init__(self, session):
        self.session = session
        self.calls = []

    def get(self, url, params=None, **kwargs):
        self.calls.append((url, dict(params)))
        return self.session.get(url, params=params, **kwargs)


def test_our_requests_and_readings_agree_with_the_sdks(environ, oms_server, os_environ, monkeypatch):
    from huaweicloudsdkoms.v2 import ListSyncTaskStatisticRequest, OmsClient, ShowSyncTaskRequest

    from cos2oms import transport

    assert sync("a.jpg", "b.jpg", "c.jpg") is True
    monkeypatch.setattr(oms_server, "copies", [
        SimpleNamespace(time=time.time(), event_key=support.event_key("a.jpg"), size=700, ok=True)], raising=False)
    spy = SpySession(transport.new_session())
    report = status.gather(settings.load_settings(environ=environ), hours=3, session=spy)

    # Our two GETs: the SDK's paths and query parameter names, in the SDK's order.
    (task_url, task_params), (stats_url, stats_params) = spy.calls
    start_ms, end_ms = stats_params["start_time"], stats_params["end_time"]
    show = OmsClient._show_sync_task_http_info(ShowSyncTaskRequest(sync_task_id=TASK, query_time=end_ms))
    listing = OmsClient._list_sync_task_statistic_http_info(ListSyncTaskStatisticRequest(
        sync_task_id=TASK, data_type=",".join(figures.DATA_TYPES), start_time=start_ms, end_time=end_ms))
    for (url, params), info in (((task_url, task_params), show), ((stats_url, stats_params), listing)):
        assert urlsplit(url).path == info["resource_path"].format(project_id=PROJECT, sync_task_id=TASK)
        assert list(params) == [name for name, _ in info["query_params"]]

    # The SDK's own client, against the same loopback OMS, reads the same figures.
    client = sdk_client(oms_server)
    task = client.show_sync_task(ShowSyncTaskRequest(sync_task_id=TASK, query_time=task_params["query_time"]))
    for name in figures.TASK_TEXT_FIELDS + figures.MONTHLY_FIELDS:
        assert report["task"][name] == getattr(task, name), name
    assert report["task"]["create_time"] == figures.iso(task.create_time / 1000.0)
    stats = client.list_sync_task_statistic(ListSyncTaskStatisticRequest(
        sync_task_id=TASK, data_type=",".join(figures.DATA_TYPES), start_time=start_ms, end_time=end_ms))
    assert stats.statistic_time_type == report["window"]["statistic_time_type"]
    sdk_totals = {series.data_type: sum(point.statistic_num for point in series.data)
                  for series in stats.statistic_datas}
    assert sdk_totals == report["window"]["totals"] == {"REQUEST": 3, "SUCCESS": 1, "FAILURE": 0, "SKIP": 0,
                                                         "SIZE": 700}
    assert all(r.verified for r in gets(oms_server))  # the SDK's signatures and ours


# ----------------------------------------------------------------------------- JSON log lines

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_FIELDS = {"level", "message", "logger", "request_id"}


def run_subprocess(environ, *argv):
    """``python -m cos2oms status ...`` in a process of its own, as a person or a cron job runs it."""
    env = world.environment(base=os.environ, **environ)
    return subprocess.run([sys.executable, "-m", "cos2oms", "status"] + list(argv), cwd=str(REPO_ROOT), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("fault, code", [(None, 0), ((400, {"error_code": "OMS.0054\nINFO forged", "error_msg":
                                                            "m" * 5000}), 2), (503, 1)],
                         ids=["ok", "400-forged", "503"])
def test_with_log_format_json_every_line_is_a_json_object_and_no_secret_is_logged(environ, oms_server, cos_server,
                                                                                  fault, code):
    if fault is not None:
        oms_server.script(*[fault] * ATTEMPTS)  # a 400 is final: the rest of the script is never used
    done = run_subprocess(dict(environ, LOG_FORMAT="json", LOG_LEVEL="DEBUG"), "--json")
    assert done.returncode == code, done.stderr

    # Every line of both streams is one JSON object (the log lines go where logs.configure sends them); the
    # report is the last line of standard output, and every other line a log line with its fields.
    out, err = json_lines(done.stdout), json_lines(done.stderr)
    report, log_lines = out[-1], out[:-1] + err
    assert report["exit_status"] == code and "task" in report
    assert log_lines and all(LOG_FIELDS <= set(line) for line in log_lines)
    assert any(line["message"].startswith("canonical request") for line in log_lines)  # DEBUG was on
    queries = [line for line in log_lines if line["message"] in ("oms query", "oms query failed")]
    assert queries[0]["query"] == "task" and queries[0]["status"] == (200 if fault is None else
                                                                      fault if isinstance(fault, int) else fault[0])
    if fault is None:
        assert [line["query"] for line in queries] == ["task", "statistics"]
    else:
        assert queries[0]["level"] == "WARNING" and len(queries) == 1
    if isinstance(fault, tuple):
        assert queries[0]["error_code"] == "OMS.0054\nINFO forged" and len(queries[0]["error_msg"]) == 300
    done_line = [line for line in log_lines if line["message"] == "status done"]
    assert len(done_line) == 1 and done_line[0]["exit_status"] == code

    authorizations = [r.headers["authorization"] for r in oms_server.requests + cos_server.requests]
    assert len(authorizations) >= 2  # OMS's and COS's: signed requests were made
    secrets = [oms_server.sk, cos_server.secret_key, "Signature=", "q-signature"] + authorizations
    secrets += [a.rsplit("Signature=", 1)[1] for a in authorizations if "Signature=" in a]
    assert [s for s in secrets if s in done.stdout + done.stderr] == []


def test_a_configured_bucket_the_sync_task_contradicts_exits_2_unless_forced(environ, oms_server):
    """status checks SOURCE_BUCKET/OBS_BUCKET against the one ShowSyncTask answer it asks anyway."""
    environ = dict(environ, OBS_BUCKET="typo-bucket")
    code, report = run_json(environ, "--no-statistics")
    assert code == 2 and any("'typo-bucket'" in line and repr(oms_server.task_details["dst_bucket"]) in line
                             for line in report["attention"])
    assert [r.method for r in oms_server.requests] == ["GET"]  # ShowSyncTask once
    code, report = run_json(environ, "--no-statistics", "--force")
    assert not any("typo-bucket" in line for line in report["attention"])
