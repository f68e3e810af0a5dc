"""``replay.py`` end to end: the command (in-process through ``commands.replay.main``, and once as a real script) and
the timer entry point ``replay.main_handler``, against the loopback OMS and COS servers.

What must hold whatever happens (OMS refusals, the log bucket failing, Ctrl-C, the time limit):
every seeded key keeps at least one marker; a failed marker goes only once its success marker is written;
nothing outside ``oms_source_record/{task}/failed_object/`` is removed; the last line of output is the JSON
summary and its counts agree with what is in the bucket.

The servers run in this process (they compete with the replay for the GIL: about 200 keys/s), so the large
runs here are few; ``markers.COS_PAGE`` is shrunk where a test needs several pages but not 1,000 keys each.
"""

import io
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import replay
from cos2oms import cli, handler, markers, oms, settings
from cos2oms import replay as replay_engine
from cos2oms.commands import replay as replay_command
from cos2oms.deadline import Deadline
from local import world
from tests.e2e.terminal import run_on_terminal
from tests.support import TASK, TRICKY_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "logs-1250000000"
OTHER_TASK = "b7d2c4e6-task-5f3a-8c6b-9876543210fe"
PREFIX = "/1253970026/testpic/"
JSON_KEYS = ["listed", "replayed", "still_failed", "errors"]


# ----------------------------------------------------------------------------- helpers

def failed(key, task=TASK):
    return "oms_source_record/%s/failed_object/%s" % (task, key)


def success(key, task=TASK):
    return "oms_source_record/%s/success_object/%s" % (task, key)


def event_keys(n, stem="img"):
    """``n`` distinct event keys, tricky names first: spaces, ``+``, ``%41``, Chinese, ``?#&=``."""
    names = TRICKY_NAMES + ["中文 a+b%41?#&=.jpg", "x&amp;<y>.txt", "folder/", "tab\there"]
    names += ["%s/%05d a+b%%41 图片?#&=.jpg" % (stem, i) for i in range(max(0, n - len(names)))]
    return [PREFIX + name for name in names[:n]]


#: Seconds a bounded run may overrun its limit on a busy machine (thread scheduling, not the code under test).
LIMIT_TOLERANCE = 0.5


def single_deletes_only_for_names_xml_cannot_carry(cos):
    """Batch deletes carry every name they can; only the others are deleted one by one."""
    singles = [r.key for r in cos.requests if r.kind == "delete"]
    assert all(not markers.xml_safe(name) for name in singles), singles
    return len(singles)


def unsafe(keys):
    return [k for k in keys if not markers.xml_safe(failed(k))]


def seed(cos, keys, task=TASK):
    cos.put_keys(BUCKET, [failed(k, task) for k in keys])


def run(environ, *argv):
    """``replay.py ARGV`` in-process: (exit status, the summary of its last output line). One process unless
    ``--processes`` says otherwise: worker processes do not see a test's monkeypatches."""
    out = io.StringIO()
    argv = list(argv) if "--processes" in argv else ["--processes", "1"] + list(argv)
    status = replay_command.main(argv, environ=environ, out=out)
    return status, last_json(out.getvalue())


def last_json(text):
    lines = text.splitlines()
    assert lines, "no output"
    summary = json.loads(lines[-1])
    assert list(summary) == JSON_KEYS
    return summary


def states(cos, keys):
    """{key: (has success marker, has failed marker)} for this task."""
    names = set(cos.keys(BUCKET))
    return {k: (success(k) in names, failed(k) in names) for k in keys}


def assert_every_key_has_a_marker(cos, keys):
    lost = [k for k, (ok, fail) in states(cos, keys).items() if not (ok or fail)]
    assert lost == [], "keys with neither marker"


def drained(cos, keys):
    """The keys whose failed marker is gone; each must have its success marker."""
    gone = [(k, ok) for k, (ok, fail) in states(cos, keys).items() if not fail]
    assert all(ok for _, ok in gone), "failed marker removed without a success marker"
    return [k for k, _ in gone]


def assert_summary_matches_bucket(summary, cos, keys):
    """``replayed`` is what left the failed prefix; every listed key is counted once."""
    assert summary["replayed"] == len(drained(cos, keys))
    assert summary["replayed"] + summary["still_failed"] <= summary["listed"]
    assert summary["listed"] <= summary["replayed"] + summary["still_failed"] + summary["errors"]
    assert min(summary.values()) >= 0


def expected_status(summary):
    return 0 if summary["still_failed"] == 0 and summary["errors"] == 0 else 1


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    """Each test builds its own HTTP session and COS client (the servers' ports differ per test)."""
    monkeypatch.setattr(handler, "CLIENTS", handler.ClientCache())


@pytest.fixture(autouse=True)
def removals_are_checked(request, monkeypatch):
    """Every batch delete the replay makes is checked as it is made: only this task's failed markers, and
    only those whose success marker is already in the bucket."""
    if "cos_server" not in request.fixturenames:
        yield
        return
    cos = request.getfixturevalue("cos_server")
    real_delete = markers.MarkerStore.delete
    wrong = []

    def delete(self, keys, deadline=None):
        present = set(cos.keys(BUCKET))
        for key in keys:
            if not key.startswith(failed("")):
                wrong.append(("not a failed marker of this task", key))
            elif success(key[len(failed("")):]) not in present:
                wrong.append(("no success marker yet", key))
        return real_delete(self, keys, deadline)

    monkeypatch.setattr(markers.MarkerStore, "delete", delete)
    yield
    assert wrong == []


@pytest.fixture
def environ(oms_server, cos_server):
    return world.environment(oms_server, cos_server, log_bucket=BUCKET, COS_REGION="ap-guangzhou")


@pytest.fixture
def os_environ(environ, monkeypatch):
    """The same settings in ``os.environ``, as SCF gives them to ``replay.main_handler``."""
    return world.install(environ, monkeypatch)


def child_env(environ):
    return {**environ, "PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"}


# ----------------------------------------------------------------------------- dry run

@pytest.mark.parametrize("n", [0, 1234])
def test_dry_run_changes_nothing_and_counts_everything_as_still_failed(environ, oms_server, cos_server, n):
    keys = event_keys(n)
    seed(cos_server, keys)
    cos_server.put_keys(BUCKET, ["data/file.txt", success(PREFIX + "done.jpg"), failed(keys[0] if keys else "/x",
                                                                                          OTHER_TASK)])
    before = cos_server.keys(BUCKET)

    status, summary = run(environ, "--dry-run")

    assert summary == {"listed": n, "replayed": 0, "still_failed": n, "errors": 0}
    assert status == (1 if n else 0)
    assert cos_server.keys(BUCKET) == before
    assert oms_server.request_count == 0
    assert set(cos_server.counts) <= {"list"}
    assert cos_server.counts.get("list", 0) <= math.ceil(n / 1000) + 2  # then the long-key markers' listing


def test_script_entry_point_prints_the_summary_last_and_no_progress_bar_in_a_pipe(environ, oms_server, cos_server):
    keys = event_keys(25)
    seed(cos_server, keys)

    done = subprocess.run([sys.executable, "replay.py", "--dry-run"], cwd=REPO_ROOT, env=child_env(environ),
                          capture_output=True, timeout=60)

    assert done.returncode == 1, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout.decode().splitlines()[-1]) == {
        "listed": 25, "replayed": 0, "still_failed": 25, "errors": 0}
    assert b"\r" not in done.stderr and b"key/s" not in done.stderr and b"replay:" not in done.stderr
    assert oms_server.request_count == 0
    assert cos_server.keys(BUCKET) == sorted(failed(k) for k in keys)


def test_progress_bar_on_a_terminal(environ, cos_server):
    """The control for the test above: on a TTY the same run shows tqdm's bar (on stderr; stdout stays clean)."""
    seed(cos_server, event_keys(25))
    status, stdout, terminal = run_on_terminal([sys.executable, "replay.py", "--dry-run"], REPO_ROOT,
                                               child_env(environ), timeout=60)
    assert status == 1
    assert b"replay:" in terminal and b"25key" in terminal
    assert json.loads(stdout.decode().splitlines()[-1])["listed"] == 25


def test_a_plain_progress_line_on_a_terminal_without_tqdm(environ, cos_server):
    """Where tqdm cannot be installed (Python 3.7) the terminal still shows progress: a plain line, rewritten in
    place, ended before the summary."""
    seed(cos_server, event_keys(25))
    without_tqdm = ("import runpy, sys; sys.modules['tqdm'] = None; sys.argv = ['replay.py', '--dry-run']; "
                    "runpy.run_path('replay.py', run_name='__main__')")
    status, stdout, terminal = run_on_terminal([sys.executable, "-c", without_tqdm], REPO_ROOT,
                                               child_env(environ), timeout=60)
    assert status == 1
    assert b"\rreplay: 25 keys" in terminal and b"25key" not in terminal
    assert terminal.index(b"\rreplay: 25 keys") < terminal.index(b"25 failed marker(s) listed")
    assert json.loads(stdout.decode().splitlines()[-1])["listed"] == 25


# ----------------------------------------------------------------------------- a full replay

def test_replay_of_2345_markers_with_two_refused_batches_then_a_second_run_drains_them(
        environ, oms_server, cos_server):
    keys = event_keys(2345)
    seed(cos_server, keys)
    # The first request is sent alone before the workers start: its first two attempts get 503 and 429, the
    # third is accepted. Then the 11th and the 58th requests are refused (400, final): both are batches of the
    # first page, so both hold 10 keys; which keys they hold is read from the server's records.
    oms_server.script(503, 429, None, *[None] * 10, 400, *[None] * 46, 400)

    status, summary = run(environ)

    requests = oms_server.requests
    refused = [k for r in requests if r.status == 400 for k in r.keys_unquote]
    assert len(refused) == 20
    assert [r.keys_unquote for r in requests[:3]] == [sorted(keys)[:10]] * 3
    assert status == 1
    assert summary == {"listed": 2345, "replayed": 2325, "still_failed": 20, "errors": 0}
    accepted = set(keys) - set(refused)
    # OMS got every key exactly once, as the event key whichever way it decodes.
    assert Counter(r.status for r in requests) == {200: 233, 400: 2, 503: 1, 429: 1}
    assert all(r.verified and 1 <= len(r.raw_keys) <= 10 for r in requests)
    assert sorted(oms_server.received_keys("unquote")) == sorted(accepted)
    assert sorted(oms_server.received_keys("unquote_plus")) == sorted(accepted)
    assert sorted(refused + oms_server.received_keys()) == sorted(keys)
    # Exactly the refused keys keep their failed marker, and only they lack a success marker.
    assert cos_server.keys(BUCKET, failed("")) == sorted(failed(k) for k in refused)
    assert cos_server.keys(BUCKET, success("")) == sorted(success(k) for k in accepted)
    # Request economy: one OMS request per 10 keys plus the two retries, one list per page (and one for the
    # long-key markers), batch deletes in chunks of at least DELETE_CHUNK as batches complete.
    counts = cos_server.counts
    assert len(requests) == math.ceil(2345 / 10) + 2
    assert counts.get("list", 0) <= math.ceil(2345 / 1000) + 2
    assert math.ceil(2325 / 1000) <= counts.get("batch_delete", 0) <= 2325 // replay_engine.DELETE_CHUNK + 1
    assert counts.get("put", 0) == 2325
    assert single_deletes_only_for_names_xml_cannot_carry(cos_server) == len(unsafe(accepted))

    oms_server.clear()
    cos_server.clear()
    status, summary = run(environ)

    assert (status, summary) == (0, {"listed": 20, "replayed": 20, "still_failed": 0, "errors": 0})
    assert sorted(oms_server.received_keys()) == sorted(refused)
    assert cos_server.keys(BUCKET, failed("")) == []
    assert cos_server.keys(BUCKET, success("")) == sorted(success(k) for k in keys)


def test_request_economy_when_the_markers_fill_whole_pages(environ, oms_server, cos_server, monkeypatch):
    """The markers end exactly at a page boundary (pages shrunk to 50 keys: the logic is the same at 1,000)."""
    monkeypatch.setattr(markers, "COS_PAGE", 50)
    keys = event_keys(100)
    seed(cos_server, keys)

    status, summary = run(environ)

    assert (status, summary) == (0, {"listed": 100, "replayed": 100, "still_failed": 0, "errors": 0})
    assert oms_server.request_count == 10
    assert sorted(oms_server.received_keys()) == sorted(keys)
    counts = cos_server.counts
    assert counts.get("list", 0) <= 100 // 50 + 2
    assert 1 <= counts.get("batch_delete", 0) <= 100 // replay_engine.DELETE_CHUNK + 1
    assert counts.get("put", 0) == 100
    assert single_deletes_only_for_names_xml_cannot_carry(cos_server) == len(unsafe(keys))
    assert cos_server.keys(BUCKET, failed("")) == []


def test_other_tasks_markers_and_other_objects_are_never_touched(environ, oms_server, cos_server):
    keys = event_keys(30)
    seed(cos_server, keys)
    bystanders = (
        [failed(k, OTHER_TASK) for k in keys]  # the same objects, another sync task
        + [failed(k, TASK + "-2") for k in keys[:3]]  # a task id that starts with ours
        + [success(PREFIX + "done-earlier.jpg"), success(keys[0])]  # this task's success markers
        + ["oms_source_record/%s/failed_objects/%s" % (TASK, keys[1]), "oms_source_record/" + keys[2]]
        + ["data/file.txt", "data/" + failed(keys[3]), "failed_object" + keys[4]]
    )
    cos_server.put_keys(BUCKET, bystanders)

    status, summary = run(environ, "--workers", "4")

    assert (status, summary) == (0, {"listed": 30, "replayed": 30, "still_failed": 0, "errors": 0})
    assert sorted(oms_server.received_keys()) == sorted(keys)
    assert cos_server.keys(BUCKET) == sorted(set(bystanders) | {success(k) for k in keys})
    puts = [r.key for r in cos_server.requests if r.kind == "put"]
    assert sorted(puts) == sorted(success(k) for k in keys)


def test_an_unreadable_marker_is_an_error_and_is_left_alone(environ, oms_server, cos_server):
    """An object named like the failed prefix itself (what a console "create folder" makes) names no key."""
    keys = event_keys(5)
    seed(cos_server, keys)
    cos_server.put_keys(BUCKET, [failed("")])

    status, summary = run(environ)

    assert (status, summary) == (1, {"listed": 6, "replayed": 5, "still_failed": 0, "errors": 1})
    assert cos_server.keys(BUCKET, failed("")) == [failed("")]
    assert sorted(oms_server.received_keys()) == sorted(keys)


# ----------------------------------------------------------------------------- configuration and limits

@pytest.mark.parametrize("variable, overrides", [
    ("SYNC_URL", {"SYNC_URL": None}),
    ("SYNC_URL", {"SYNC_URL": "http://127.0.0.1:1/v2/proj/events"}),
    ("HW_SK", {"HW_SK": None}),
    ("LOG_BUCKET", {"LOG_BUCKET": "no_appid"}),
    ("COS_ADDRESS", {"COS_ADDRESS": "127.0.0.1"}),
])
def test_bad_configuration_exits_2_naming_the_variable(environ, oms_server, cos_server, capsys, variable, overrides):
    environ = {k: v for k, v in {**environ, **overrides}.items() if v is not None}

    assert replay_command.main([], environ=environ, out=io.StringIO()) == 2

    assert variable in capsys.readouterr().err
    assert oms_server.request_count == 0 and cos_server.counts == {}


def test_timer_mode_with_bad_configuration_fails_the_invocation_naming_the_variable(os_environ, monkeypatch):
    monkeypatch.delenv("SYNC_URL")
    with pytest.raises(settings.ConfigError, match="SYNC_URL"):
        replay.main_handler(None, {"time_limit_in_ms": 3000})


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--workers", "0"], ["--limit", "x"]])
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exited:
        replay_command.main(argv, environ={}, out=io.StringIO())
    assert exited.value.code == 2


def test_limit_across_pages_lists_exactly_n(environ, oms_server, cos_server):
    seed(cos_server, event_keys(1234))

    status, summary = run(environ, "--dry-run", "--limit", "1003")

    assert (status, summary) == (1, {"listed": 1003, "replayed": 0, "still_failed": 1003, "errors": 0})
    assert cos_server.counts.get("list", 0) == 2


def test_limit_replays_the_first_n_and_the_status_covers_only_them(environ, oms_server, cos_server):
    keys = sorted(event_keys(40))
    seed(cos_server, keys)

    status, summary = run(environ, "--limit", "7")

    assert (status, summary) == (0, {"listed": 7, "replayed": 7, "still_failed": 0, "errors": 0})
    assert sorted(oms_server.received_keys()) == keys[:7]
    assert cos_server.keys(BUCKET, failed("")) == [failed(k) for k in keys[7:]]
    assert cos_server.keys(BUCKET, success("")) == [success(k) for k in keys[:7]]


# ----------------------------------------------------------------------------- OMS refuses the credentials

@pytest.mark.parametrize("how", ["wrong_sk", "scripted_403"])
def test_refused_credentials_cost_exactly_one_oms_request(environ, oms_server, cos_server, how):
    keys = event_keys(1500)
    seed(cos_server, keys)
    if how == "wrong_sk":
        environ["HW_SK"] = "wrongsk0000000000000000000000000000000000"
    else:
        oms_server.script(403)
    before = cos_server.keys(BUCKET)

    status, summary = run(environ, "--workers", "16")

    assert oms_server.request_count == 1
    assert oms_server.requests[0].status == (401 if how == "wrong_sk" else 403)
    assert (status, summary) == (1, {"listed": 1500, "replayed": 0, "still_failed": 1500, "errors": 0})
    assert cos_server.keys(BUCKET) == before
    assert set(cos_server.counts) == {"list"}


def test_refused_credentials_are_named_in_the_summary_not_a_run_it_again(environ, oms_server, cos_server):
    seed(cos_server, event_keys(3))
    environ["HW_SK"] = "wrongsk0000000000000000000000000000000000"

    summary = replay_engine.replay(settings.load(environ), Deadline(None), workers=2)

    assert summary.credentials_refused and summary.still_failed == 3
    assert "fix HW_AK/HW_SK before running it again" in summary.describe()


# ----------------------------------------------------------------------------- the log bucket fails

def _everything_fails_after_five_oms_requests(cos_server, monkeypatch):
    real_submit = oms.OmsClient.submit
    calls = itertools.count(1)

    def submit(self, keys, deadline, request_id="-"):
        result = real_submit(self, keys, deadline, request_id)
        if next(calls) == 5:
            cos_server.fail_all(500)
        return result

    monkeypatch.setattr(oms.OmsClient, "submit", submit)


@pytest.mark.parametrize("scenario", ["put_fails_for_some_keys", "batch_delete_fails", "first_list_fails",
                                      "everything_fails_midway"])
def test_log_bucket_failures_never_lose_a_key(environ, oms_server, cos_server, monkeypatch, scenario):
    monkeypatch.setattr(markers, "COS_PAGE", 25)  # several pages without thousands of keys
    keys = sorted(event_keys(40, stem="a") + [PREFIX + "b/%03d a+b%%41 中文?#&=" % i for i in range(20)])
    seed(cos_server, keys)
    b_keys = [k for k in keys if k.startswith(PREFIX + "b/")]
    if scenario == "put_fails_for_some_keys":
        cos_server.fail_all(500, kind="put", key_prefix=success(PREFIX + "b/"))
    elif scenario == "batch_delete_fails":
        cos_server.fail_all(500, kind="batch_delete")
    elif scenario == "first_list_fails":
        cos_server.fail_all(503, kind="list")
    else:
        _everything_fails_after_five_oms_requests(cos_server, monkeypatch)

    status, summary = run(environ)

    assert_every_key_has_a_marker(cos_server, keys)
    assert_summary_matches_bucket(summary, cos_server, keys)
    assert summary["errors"] > 0 and status == 1
    if scenario == "put_fails_for_some_keys":
        assert summary == {"listed": len(keys), "replayed": len(keys) - len(b_keys), "still_failed": 0,
                           "errors": len(b_keys)}
        assert cos_server.keys(BUCKET, failed("")) == [failed(k) for k in b_keys]
        assert sorted(oms_server.received_keys()) == keys
    elif scenario == "batch_delete_fails":
        singles = unsafe(keys)  # deleted one by one, so the failing batch deletes do not concern them
        assert summary == {"listed": len(keys), "replayed": len(singles), "still_failed": 0,
                           "errors": len(keys) - len(singles)}
        assert all(states(cos_server, keys)[k] == (True, k not in singles) for k in keys)
    elif scenario == "first_list_fails":
        assert summary == {"listed": 0, "replayed": 0, "still_failed": 0, "errors": 1}
        assert oms_server.request_count == 0
    single_deletes_only_for_names_xml_cannot_carry(cos_server)


def test_worker_processes_replay_every_key_once(environ, oms_server, cos_server):
    """The first chunk in this process (the credentials probe), the others in two worker processes."""
    keys = event_keys(2200)
    seed(cos_server, keys)
    oms_server.script(*[None] * 60 + [400])  # one batch refused, in a worker

    status, summary = run(environ, "--processes", "2", "--workers", "4")

    assert (status, summary) == (1, {"listed": 2200, "replayed": 2190, "still_failed": 10, "errors": 0})
    assert_every_key_has_a_marker(cos_server, keys)
    assert_summary_matches_bucket(summary, cos_server, keys)
    assert sorted(k for r in oms_server.requests for k in r.keys_unquote) == sorted(keys)  # each sent once
    assert oms_server.request_count == 220


def test_worker_processes_are_not_started_when_the_credentials_are_refused(environ, oms_server, cos_server):
    keys = event_keys(1500)
    seed(cos_server, keys)
    oms_server.script(403)

    status, summary = run(environ, "--processes", "2")

    assert (status, summary) == (1, {"listed": 1500, "replayed": 0, "still_failed": 1500, "errors": 0})
    assert oms_server.request_count == 1


# ----------------------------------------------------------------------------- timer mode

def test_timer_mode_replays_everything_within_a_generous_limit(os_environ, oms_server, cos_server):
    keys = event_keys(30)
    seed(cos_server, keys)

    summary = replay.main_handler({"Type": "Timer"}, {"time_limit_in_ms": 30000, "request_id": "timer-1"})

    assert summary == {"listed": 30, "replayed": 30, "still_failed": 0, "errors": 0}
    assert cos_server.keys(BUCKET, failed("")) == []
    assert sorted(oms_server.received_keys()) == sorted(keys)


def test_timer_mode_stops_before_the_time_limit_with_every_key_still_marked(os_environ, oms_server, cos_server):
    """Deterministic: OMS accepts five requests, then hangs every request. The run must cut the hung requests
    at its request budget, keep the reserve for the success markers and deletes of the 50 keys replayed, and
    return before the limit (plus a stated tolerance for a busy machine)."""
    keys = event_keys(3000)
    seed(cos_server, keys)
    oms_server.script(*["normal"] * 5 + ["hang"] * 100)

    started = time.monotonic()
    summary = replay.main_handler(None, {"time_limit_in_ms": 3000})
    elapsed = time.monotonic() - started

    assert elapsed < 3.0 + LIMIT_TOLERANCE
    assert summary == {"listed": 1000, "replayed": 50, "still_failed": 950, "errors": 0}
    assert_every_key_has_a_marker(cos_server, keys)
    assert_summary_matches_bucket(summary, cos_server, keys)


# ----------------------------------------------------------------------------- Ctrl-C

class InterruptingProgress(object):
    """A progress bar whose ``update`` raises KeyboardInterrupt once ``after`` keys were counted: Ctrl-C
    arriving in the main thread while it collects the workers' results."""

    def __init__(self, after):
        self.after = after
        self.seen = 0
        self.fired = False

    def update(self, n=1):
        self.seen += n
        if self.seen >= self.after and not self.fired:
            self.fired = True
            raise KeyboardInterrupt

    def close(self):
        pass


@pytest.mark.parametrize("after", [
    10,  # during the first request, sent alone
    50,  # in the middle of a page
])
def test_ctrl_c_prints_the_summary_and_keeps_every_key_marked(environ, oms_server, cos_server, monkeypatch, after):
    monkeypatch.setattr(markers, "COS_PAGE", 100)
    keys = event_keys(300)
    seed(cos_server, keys)
    oms_server.latency = 0.05
    progress = InterruptingProgress(after)
    monkeypatch.setattr(cli.Output, "progress", lambda self, desc, unit="key", total=None: progress)

    status, summary = run(environ, "--workers", "2")

    assert progress.fired
    assert_every_key_has_a_marker(cos_server, keys)
    assert summary["listed"] == 100  # stopped in the first page
    assert summary["errors"] == 0 and summary["still_failed"] > 0
    assert summary["replayed"] + summary["still_failed"] == summary["listed"]
    assert_summary_matches_bucket(summary, cos_server, keys)
    assert status == 1
    assert oms_server.request_count < 10  # the batches not yet sent were not sent


def test_ctrl_c_between_pages_exits_1(environ, oms_server, cos_server, monkeypatch):
    monkeypatch.setattr(markers, "COS_PAGE", 50)
    keys = event_keys(120)
    seed(cos_server, keys)
    real_list_page = markers.MarkerStore.list_page
    calls = itertools.count(1)

    def list_page(self, *args, **kwargs):
        if next(calls) == 2:
            raise KeyboardInterrupt
        return real_list_page(self, *args, **kwargs)

    monkeypatch.setattr(markers.MarkerStore, "list_page", list_page)

    status, summary = run(environ)

    assert summary == {"listed": 50, "replayed": 50, "still_failed": 0, "errors": 0}
    assert_summary_matches_bucket(summary, cos_server, keys)
    assert len(cos_server.keys(BUCKET, failed(""))) == 70
    assert status == 1


def test_sigint_to_the_script_prints_the_summary_and_exits_1(environ, oms_server, cos_server):
    keys = event_keys(1000)
    seed(cos_server, keys)
    oms_server.latency = 0.1
    process = subprocess.Popen([sys.executable, "replay.py", "--workers", "2"], cwd=REPO_ROOT,
                               env=child_env(environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        oms_server.wait_for_requests(12, timeout=30)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert b"Traceback" not in stderr, stderr.decode(errors="replace")
    summary = last_json(stdout.decode())
    assert_every_key_has_a_marker(cos_server, keys)
    assert summary["listed"] == 1000 and summary["errors"] == 0
    assert 0 < summary["replayed"] < 1000
    assert oms_server.request_count < 50
    assert_summary_matches_bucket(summary, cos_server, keys)
    assert summary["replayed"] + summary["still_failed"] == summary["listed"]
    assert process.returncode == 1 == expected_status(summary)


def test_on_a_terminal_only_warnings_and_errors_show_unless_asked(environ, oms_server, cos_server, tmp_path):
    """Per-key INFO lines would tear the progress bar apart: on a terminal they show with -v, and --log-file
    keeps them all whatever the terminal shows; the human summary comes before the JSON line."""
    keys = event_keys(30)
    seed(cos_server, keys)
    oms_server.script(None, 400)  # one refused batch: its error lines must show
    log_file = tmp_path / "replay.log"

    status, stdout, quiet = run_on_terminal([sys.executable, "replay.py", "--log-file", str(log_file)], REPO_ROOT,
                                            child_env(environ), timeout=60)

    assert status == 1
    assert b"object accepted" not in quiet and b"object failed" in quiet
    assert b"replay: 30 failed marker(s) listed, 20 replayed, 10 still failed" in quiet
    assert json.loads(stdout.decode().splitlines()[-1]) == {"listed": 30, "replayed": 20, "still_failed": 10,
                                                            "errors": 0}
    logged = log_file.read_text(encoding="utf-8")
    assert logged.count("object accepted") == 20 and logged.count("object failed") == 10

    seed(cos_server, keys)
    _, _, verbose = run_on_terminal([sys.executable, "replay.py", "-v"], REPO_ROOT, child_env(environ), timeout=60)
    assert b"object accepted" in verbose
