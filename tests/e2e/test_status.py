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
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

import index
from cos2oms import handler, markers, settings, status
from cos2oms.__main__ import main as cli_main
from tests import support
from tests.support import PROJECT, TASK, TRICKY_NAMES

BUCKET = support.LOG_BUCKET
OMS_TIMEOUT = 0.5


# ----------------------------------------------------------------------------- helpers

@pytest.fixture
def environ(oms_server, cos_server):
    return {
        "SYNC_URL": oms_server.sync_url(PROJECT, TASK), "HW_AK": oms_server.ak, "HW_SK": oms_server.sk,
        "LOG_BUCKET": BUCKET, "COS_SECRET_ID": cos_server.secret_id, "COS_SECRET_KEY": cos_server.secret_key,
        "COS_ADDRESS": cos_server.address, "COS_SCHEME": "http", "COS_REGION": "ap-guangzhou",
        "OMS_TIMEOUT": str(OMS_TIMEOUT),
    }


@pytest.fixture
def os_environ(environ, monkeypatch):
    """The same settings in ``os.environ`` (for the function, which sends the events, and the CLI)."""
    for name in settings.VARIABLES + settings.ROLE_VARIABLES + ("TENCENTCLOUD_REGION",):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    return environ


def run(environ, *argv):
    """(exit status, the output with its white space runs made single spaces: messages wrap at 100 columns)."""
    out = io.StringIO()
    code = status.main(list(argv), environ=environ, out=out)
    return code, " ".join(out.getvalue().split())


def run_json(environ, *argv):
    out = io.StringIO()
    code = status.main(["--json"] + list(argv), environ=environ, out=out)
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
    return (sum(1 for _, ok, _ in copies if ok), sum(1 for _, ok, _ in copies if not ok),
            sum(size for _, ok, size in copies if ok))


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
    code, text = run(os_environ)
    assert "OMS counted 1 FAILURE(s) in the last 24 h" in text
    assert "<- failures" in text
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


# ----------------------------------------------------------------------------- OMS faults

def no_such_task(oms):
    oms.set_task_status(TASK, None)


@pytest.mark.parametrize("stage, code, words, queries", [
    (lambda oms: oms.script(401), 2,
     ['OMS refused the key when asked for the sync task: HTTP 401 error_code="APIG.0301"',
      "Check HW_AK/HW_SK and that the key may call oms:synctask:get and oms:synctask:statistics."], 1),
    (no_such_task, 2, ["OMS knows no sync task %s in project %s: HTTP 404 error_code=\"OMS.0404\"" % (TASK, PROJECT),
                       "Check SYNC_URL."], 1),
    (lambda oms: oms.script(503), 1, ["OMS could not be asked for the sync task: HTTP 503", "Try again later."], 1),
    (lambda oms: oms.script("hang"), 1, ["OMS could not be asked for the sync task: no answer within 0.5 s "
                                         "(OMS_TIMEOUT)"], 1),
    (lambda oms: oms.script(None, 403), 2, ["OMS refused the key when asked for the task's statistics: HTTP 403"], 2),
    (lambda oms: oms.script(None, 500), 1, ["OMS could not be asked for the task's statistics: HTTP 500"], 2),
], ids=["401", "404-no-such-task", "503", "hang", "statistics-403", "statistics-500"])
def test_each_oms_fault_has_a_clear_message_and_its_exit_status(os_environ, oms_server, stage, code, words,
                                                                 queries):
    stage(oms_server)
    got, text = run(os_environ)
    assert got == code
    assert "Traceback" not in text
    for phrase in words:
        assert phrase in text
    assert len(gets(oms_server)) == queries  # after a refusal or a failed task query nothing more is sent
    assert "failed markers 0" in text  # the log bucket is still looked at


@pytest.mark.timing
def test_a_hanging_oms_is_bounded_by_oms_timeout(os_environ, oms_server):
    oms_server.script("hang", "hang")
    started = time.monotonic()
    code, report = run_json(os_environ)
    assert code == 1 and report["oms_errors"][0]["reason"] == "no answer within 0.5 s (OMS_TIMEOUT)"
    assert time.monotonic() - started < OMS_TIMEOUT + 2.5  # one query only; the rest is the COS listing


def test_no_statistics_asks_only_for_the_task(os_environ, oms_server):
    code, text = run(os_environ, "--no-statistics")
    assert code == 0 and len(gets(oms_server)) == 1
    assert "not asked (--no-statistics)" in text and "Per hour" not in text


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
    assert set(status.TASK_TEXT_FIELDS + status.TASK_TIME_FIELDS + status.MONTHLY_FIELDS) <= task_fields
    assert {"statistic_time_type", "statistic_datas"} <= set(ListSyncTaskStatisticResponse.attribute_map.values())
    assert set(StatisticTypeData.attribute_map.values()) == {"data_type", "data"}
    assert set(StatisticData.attribute_map.values()) == {"time_stamp", "statistic_num"}
    assert set(ShowSyncTaskRequest.attribute_map.values()) == {"sync_task_id", "query_time"}
    assert set(ListSyncTaskStatisticRequest.attribute_map.values()) == {"sync_task_id", "data_type", "start_time",
                                                                         "end_time"}
    documented = ListSyncTaskStatisticRequest.data_type.fset.__doc__
    assert all(kind + "：" in documented for kind in status.DATA_TYPES)
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
    report = status.gather(handler.load_settings(environ=environ), hours=3, session=spy)

    # Our two GETs: the SDK's paths and query parameter names, in the SDK's order.
    (task_url, task_params), (stats_url, stats_params) = spy.calls
    start_ms, end_ms = stats_params["start_time"], stats_params["end_time"]
    show = OmsClient._show_sync_task_http_info(ShowSyncTaskRequest(sync_task_id=TASK, query_time=end_ms))
    listing = OmsClient._list_sync_task_statistic_http_info(ListSyncTaskStatisticRequest(
        sync_task_id=TASK, data_type=",".join(status.DATA_TYPES), start_time=start_ms, end_time=end_ms))
    for (url, params), info in (((task_url, task_params), show), ((stats_url, stats_params), listing)):
        assert urlsplit(url).path == info["resource_path"].format(project_id=PROJECT, sync_task_id=TASK)
        assert list(params) == [name for name, _ in info["query_params"]]

    # The SDK's own client, against the same loopback OMS, reads the same figures.
    client = sdk_client(oms_server)
    task = client.show_sync_task(ShowSyncTaskRequest(sync_task_id=TASK, query_time=task_params["query_time"]))
    for name in status.TASK_TEXT_FIELDS + status.MONTHLY_FIELDS:
        assert report["task"][name] == getattr(task, name), name
    assert report["task"]["create_time"] == status.iso(task.create_time / 1000.0)
    stats = client.list_sync_task_statistic(ListSyncTaskStatisticRequest(
        sync_task_id=TASK, data_type=",".join(status.DATA_TYPES), start_time=start_ms, end_time=end_ms))
    assert stats.statistic_time_type == report["window"]["statistic_time_type"]
    sdk_totals = {series.data_type: sum(point.statistic_num for point in series.data)
                  for series in stats.statistic_datas}
    assert sdk_totals == report["window"]["totals"] == {"REQUEST": 3, "SUCCESS": 1, "FAILURE": 0, "SKIP": 0,
                                                         "SIZE": 700}
    assert all(r.verified for r in gets(oms_server))  # the SDK's signatures and ours
