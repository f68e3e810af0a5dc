"""Nothing lost when the network is hostile: redirects, trickled answers, huge or lying bodies, forged log text.

OMS or the log bucket is replaced by ``local.hostile.HostileServer``, which answers as scripted; a second
one stands as the target of redirects and records whether anything (a session token) ever reached it. The
promise checked everywhere: a key ends either accepted by OMS or recorded as failed (a failed marker, or the
invocation raises so that SCF retries it), a redirect is never success and never followed, and each request
as a whole stays within the invocation's time.
"""

import json
import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

import index
import replay
from cos2oms import handler, retry
from cos2oms import markers as marker_names
from local import world
from cos2oms.commands import replay as replay_command
from local.hostile import Answer, HostileServer
from tests import support

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON36 = REPO_ROOT / ".venv36" / "bin" / "python"
SUCCESS, FAILED = marker_names.SUCCESS, marker_names.FAILED
#: Seconds a bounded invocation may overrun its limit on a busy machine (thread scheduling, not the function).
LIMIT_TOLERANCE = 0.5
TOKEN = "cos-session-token-must-never-leave"


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture
def elsewhere():
    """Where redirects point: it must never receive a request."""
    with HostileServer() as server:
        yield server


def configure(monkeypatch, oms_server, cos_server, **overrides):
    """The function's environment against these servers (hostile or not), a fresh client cache, a short back-off."""
    values = world.install(world.environment(oms_server, cos_server, **overrides), monkeypatch)
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)
    return values


@pytest.fixture
def hostile_oms(monkeypatch, hostile, cos_server):
    """OMS is the hostile server; the log bucket is the loopback COS."""
    configure(monkeypatch, hostile, cos_server)  # the fake HW_AK/HW_SK
    return hostile


@pytest.fixture
def hostile_cos(monkeypatch, hostile, oms_server):
    """The log bucket is the hostile server; OMS is the loopback OMS."""
    return configure(monkeypatch, oms_server, hostile, COS_SECRET_ID="AKIDhostile", COS_SECRET_KEY="hostile-cos-key",
                     COS_TOKEN=TOKEN)


@pytest.fixture(autouse=True)
def _restore_logger_levels():
    names = ("cos2oms", "qcloud_cos", "qcloud_cos_v5", "urllib3")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def events(*names):
    return support.event(*[support.record(n) for n in names])


def markers(cos_server, kind):
    return cos_server.keys(support.LOG_BUCKET, support.marker(kind, ""))


def lines(caplog, level=logging.ERROR):
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


# ============================================================================ OMS

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_an_oms_redirect_is_a_final_failure_and_is_never_followed(hostile_oms, elsewhere, cos_server, caplog,
                                                                  status):
    location = elsewhere.url + support.SYNC_PATH
    hostile_oms.script(Answer(status, headers={"Location": location}))

    assert index.main_handler(events("a.txt", "b.txt"), None) is False

    assert len(hostile_oms.requests) == 1  # not retried
    assert elsewhere.requests == []  # not followed: a 200 there would have said nothing about OMS
    keys = [support.event_key(n) for n in ("a.txt", "b.txt")]
    assert markers(cos_server, FAILED) == sorted(support.marker(FAILED, k) for k in keys)
    assert markers(cos_server, SUCCESS) == []
    assert any("redirect refused" in line and location in line for line in lines(caplog))


@pytest.mark.parametrize("answer", [
    Answer(200, body=b"{}" + b" " * 200, trickle=0.05),  # a byte every 50 ms: each read is quick
    Answer(200, headers={"X-Padding": "p" * 200}, trickle=0.05, trickle_headers=True),
], ids=["body", "headers"])
def test_a_trickled_oms_answer_is_cut_at_the_time_left(hostile_oms, cos_server, answer):
    hostile_oms.script(answer)
    started = time.monotonic()

    assert index.main_handler(events("a.txt"), {"time_limit_in_ms": 2000}) is False

    assert time.monotonic() - started < 2.0 + LIMIT_TOLERANCE  # the answer alone would take 10 s or more
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


def test_a_200_cut_short_is_not_taken_for_acceptance(hostile_oms, cos_server):
    hostile_oms.script(Answer(200, headers={"Content-Length": "100"}, body=b"{}", cut=True))

    assert index.main_handler(events("a.txt"), None) is False

    assert len(hostile_oms.requests) == 3  # a broken answer is a network error: retried, then failed
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


def test_huge_and_forged_oms_error_fields_are_escaped_and_capped(hostile_oms, cos_server, caplog):
    forged = "OMS.0400\nINFO cos2oms.sync object accepted key=\"/1/b/x\""
    body = json.dumps({"error_code": forged, "error_msg": "m" * 10 ** 6}).encode()
    hostile_oms.script(Answer(400, headers={"Content-Type": "application/json",
                                            "X-Request-Id": "r\r\nforged: header-line" + "i" * 5000}, body=body))

    assert index.main_handler(events("a.txt", "b.txt"), None) is False

    messages = [r.getMessage() for r in caplog.records]
    assert all("\n" not in m and "\r" not in m for m in messages)
    assert all(len(m) < 3000 for m in messages)  # not the 1 MB message, once per key
    assert not any(r.levelno < logging.ERROR and "object accepted" in r.getMessage() for r in caplog.records)
    assert markers(cos_server, FAILED) == sorted(support.marker(FAILED, support.event_key(n))
                                                 for n in ("a.txt", "b.txt"))


def test_a_huge_non_json_error_body_is_read_only_up_to_the_cap(hostile_oms, cos_server, caplog):
    hostile_oms.script(Answer(400, body="é".encode() * (5 * 10 ** 6)))  # 10 MB, no charset: no detection run

    assert index.main_handler(events("a.txt"), None) is False

    failed = [m for m in lines(caplog) if "object failed" in m]
    assert len(failed) == 1 and len(failed[0]) < 1000
    assert markers(cos_server, FAILED) == [support.marker(FAILED, support.event_key("a.txt"))]


# ============================================================================ the log bucket

def test_a_cos_redirect_is_not_success_and_never_carries_the_token_away(hostile_cos, hostile, elsewhere,
                                                                        oms_server, caplog):
    hostile.script(Answer(301, headers={"Location": elsewhere.url + "/stolen"}))

    # OMS accepted: the key is safe there, so a success marker that cannot be stored is an error line only.
    assert index.main_handler(events("a.txt"), None) is True

    assert elsewhere.requests == []
    assert len(hostile.requests) == 1  # the marker PUT, not retried
    assert hostile.requests[0].headers.get("x-cos-security-token") == TOKEN  # sent to the configured host only
    assert any("marker not written" in m and "redirect refused" in m for m in lines(caplog))


def test_a_key_with_neither_acceptance_nor_a_stored_marker_makes_the_invocation_raise(hostile_cos, hostile,
                                                                                      oms_server, caplog):
    oms_server.script(400)
    hostile.script(Answer(403, body=b"<Error><Code>AccessDenied</Code></Error>"))

    with pytest.raises(index.SyncFailed, match="1 object"):
        index.main_handler(events("a.txt"), None)

    assert any(support.event_key("a.txt") in m and "marker not written" in m for m in lines(caplog))


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirected_failed_marker_raises_too(hostile_cos, hostile, elsewhere, oms_server, status):
    oms_server.script(400)
    hostile.script(Answer(status, headers={"Location": elsewhere.url + "/x"}))

    with pytest.raises(index.SyncFailed):
        index.main_handler(events("a.txt"), None)

    assert elsewhere.requests == []


def test_a_trickled_cos_answer_is_cut_at_the_time_left(hostile_cos, hostile, oms_server):
    oms_server.script(400)
    hostile.script(Answer(200, headers={"X-Padding": "p" * 400}, trickle=0.05, trickle_headers=True))
    started = time.monotonic()

    with pytest.raises(index.SyncFailed):
        index.main_handler(events("a.txt", "b.txt"), {"time_limit_in_ms": 2000})

    assert time.monotonic() - started < 2.0 + LIMIT_TOLERANCE


@pytest.mark.skipif(not PYTHON36.exists(), reason="no Python 3.6 SCF runtime emulation: run `make unit-py36`")
def test_on_the_scf_36_sdk_line_a_cos_redirect_is_not_followed_and_the_token_stays(hostile_cos, hostile,
                                                                                   elsewhere, oms_server):
    """cos-python-sdk-v5 1.6.6 follows redirects itself when left alone (requests' default)."""
    hostile.script(Answer(302, headers={"Location": elsewhere.url + "/stolen"}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = Path(__file__).with_name("invoke_handler.py").read_text(encoding="utf-8")

    done = subprocess.run([str(PYTHON36), "-c", script, os.path.join(support.EVENTS_DIR, "cos_put_console.json")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["python"] == [3, 6] and report["cos_sdk"].startswith("qcloud_cos_v5.")
    assert report["result"] is True  # OMS accepted the key
    assert elsewhere.requests == []
    assert len(hostile.requests) == 1
    assert "redirect refused" in done.stderr


# ============================================================================ replay

def test_replay_listing_redirected_is_an_error_not_nothing_left(monkeypatch, oms_server, cos_server):
    configure(monkeypatch, oms_server, cos_server)
    cos_server.put_keys(support.LOG_BUCKET, [support.marker(FAILED, support.event_key("a.txt"))])
    cos_server.fail_all(301, kind="list")

    status = replay_command.main([], environ=dict(os.environ), out=open(os.devnull, "w"))

    assert status == 1
    assert oms_server.request_count == 0


def test_replay_of_long_and_control_character_keys(monkeypatch, oms_server, cos_server):
    """Names with control characters list and delete correctly (a carriage return in a batch-delete body
    names another key); keys too long for a marker name get a long-key marker that replay reads back."""
    configure(monkeypatch, oms_server, cos_server)
    # Not "\n": moto's routing cannot match a key holding one (a limit of the loopback server, not of COS).
    names = ["ctl\x01x", "cr\rlf", "tab\tx", " lead", "trail ", "del\x7f", "\x1b[31m", "长" * 270]  # 810 bytes
    keys = [support.event_key(n) for n in names]
    oms_server.script(400)
    assert index.main_handler(events(*names), None) is False
    store = marker_names.MarkerStore(None, support.LOG_BUCKET, support.TASK)
    failed = sorted(store.key(FAILED, k) for k in keys)
    assert cos_server.keys(support.LOG_BUCKET, support.marker(FAILED, "")[:-1]) == failed
    assert sum(1 for name in failed if "/failed_object_long/" in name) == 1

    summary = replay.main_handler(None, None)

    assert summary == {"listed": len(keys), "replayed": len(keys), "still_failed": 0, "errors": 0}
    assert sorted(oms_server.received_keys()[-len(keys):]) == sorted(keys)
    assert cos_server.keys(support.LOG_BUCKET, "oms_source_record/%s/failed" % support.TASK) == []
    assert cos_server.keys(support.LOG_BUCKET, "oms_source_record/%s/success" % support.TASK) == sorted(
        store.key(SUCCESS, k) for k in keys)


def test_cos_error_text_reaches_no_log_line_raw_not_even_through_the_sdks_own_loggers(hostile_cos, hostile,
                                                                                       oms_server, caplog):
    forged = "\nINFO cos2oms.sync object accepted key=\"/1/b/forged\"\n" + "x" * 100000
    hostile.script(Answer(500, body=("<Error><Code>Internal%s</Code><Message>%s</Message></Error>"
                                     % (forged, forged)).encode()))

    assert index.main_handler(events("a.txt"), None) is True  # OMS accepted; only the success marker failed

    messages = [r.getMessage() for r in caplog.records]
    assert any(r.name.startswith("qcloud_cos") for r in caplog.records)  # the SDK did log the error
    assert all("\n" not in m and len(m) < 5000 for m in messages)
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("qcloud_cos"))


# ============================================================================ interim answers, impostors, names

def test_an_interim_oms_answer_never_stands_for_acceptance(hostile_oms, cos_server):
    """A 103 before each answer: the 200 still on the connection must never be read as the next request's."""
    hostile_oms.script(Answer(200, interim=(103,)))
    names = ["k%02d" % i for i in range(12)]  # two OMS requests

    assert index.main_handler(events(*names), None) is False

    assert markers(cos_server, SUCCESS) == []
    assert len(markers(cos_server, FAILED)) == len(names)
    assert len(set(r.peer for r in hostile_oms.requests)) == len(hostile_oms.requests)  # no connection reused


COS_ID = {"x-cos-request-id": "NWQ0ZjAyXzE="}


@pytest.mark.parametrize("answer", [
    Answer(200, headers={"Content-Type": "text/html"}, body=b"<html>Wi-Fi login</html>"),  # a captive portal
    Answer(200, headers=dict(COS_ID), interim=(102,)),  # an interim answer first
], ids=["portal-200", "interim-102"])
def test_a_cos_answer_that_is_not_a_final_one_from_cos_is_not_a_stored_marker(hostile_cos, hostile, oms_server,
                                                                              caplog, answer):
    oms_server.script(400)
    hostile.script(answer)

    with pytest.raises(index.SyncFailed):
        index.main_handler(events("a.txt"), None)

    assert any("marker not written" in line for line in lines(caplog))


@pytest.mark.skipif(not PYTHON36.exists(), reason="no Python 3.6 SCF runtime emulation: run `make unit-py36`")
def test_on_the_scf_36_sdk_line_a_portal_200_is_not_a_stored_marker(hostile_cos, hostile, oms_server):
    oms_server.script(400)
    hostile.script(Answer(200, headers={"Content-Type": "text/html"}, body=b"<html>Wi-Fi login</html>"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = Path(__file__).with_name("invoke_handler.py").read_text(encoding="utf-8")

    done = subprocess.run([str(PYTHON36), "-c", script, os.path.join(support.EVENTS_DIR, "cos_put_console.json")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)

    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["cos_sdk"].startswith("qcloud_cos_v5.")
    assert report["raised"] and report["raised"].startswith("SyncFailed")


NOT_A_LISTING = [
    Answer(200, headers=dict(COS_ID, **{"Content-Type": "application/xml"}),
           body=b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>Log in</body></html>'),
    Answer(200, headers=dict(COS_ID, **{"Content-Type": "application/xml"}),
           body=b'<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>later</Message></Error>'),
]


@pytest.mark.parametrize("answer", NOT_A_LISTING, ids=["xhtml", "error-document"])
def test_replay_never_takes_a_200_that_is_not_a_listing_for_nothing_left(hostile_cos, hostile, oms_server, answer):
    hostile.script(answer)

    status = replay_command.main([], environ=dict(os.environ), out=open(os.devnull, "w"))

    assert status == 1
    assert oms_server.request_count == 0


@pytest.mark.skipif(not PYTHON36.exists(), reason="no Python 3.6 SCF runtime emulation: run `make unit-py36`")
@pytest.mark.parametrize("answer", NOT_A_LISTING, ids=["xhtml", "error-document"])
def test_on_the_scf_36_sdk_line_replay_never_takes_a_200_that_is_not_a_listing(hostile_cos, hostile, oms_server,
                                                                               answer):
    hostile.script(answer)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    done = subprocess.run([str(PYTHON36), "replay.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["errors"] == 1
    assert oms_server.request_count == 0


def test_keys_with_dot_segments_get_markers_that_replay_drains(monkeypatch, oms_server, cos_server):
    """urllib3 1.25+ resolves '.' and '..' in a request's path: a marker named after 'a/../b' would be written
    as another object (COS refuses the signature), so such keys get long-key markers, on every runtime."""
    configure(monkeypatch, oms_server, cos_server)
    names = ["a/./b", "tail/..", "up/../x", "./lead", "dots.../ok"]
    keys = [support.event_key(n) for n in names]
    oms_server.script(400)

    assert index.main_handler(events(*names), None) is False  # failed, and every failure recorded

    store = marker_names.MarkerStore(None, support.LOG_BUCKET, support.TASK)
    assert cos_server.keys(support.LOG_BUCKET, support.marker(FAILED, "")[:-1]) == sorted(
        store.key(FAILED, k) for k in keys)
    oms_server.script(200)
    assert replay.main_handler(None, None) == {"listed": 5, "replayed": 5, "still_failed": 0, "errors": 0}
    assert sorted(oms_server.received_keys()[-5:]) == sorted(keys)
    assert cos_server.keys(support.LOG_BUCKET, "oms_source_record/%s/failed" % support.TASK) == []
