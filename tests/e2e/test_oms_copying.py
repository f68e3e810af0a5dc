"""The loopback OMS's copying: what OMS does with an accepted event, in this process (``OmsServer.migrate``) and
run by hand (``python -m local.oms_server --source ... --destination ...``, copying over HTTP with the COS and
OBS SDKs, signatures checked by the servers it copies between).

What must hold: an accepted object is copied from the source bucket to the destination bucket unless the task's
object overwrite mode keeps the destination's, as OMS decides; a ``--no-copy`` key is accepted and not copied
(once), which ``verify`` finds and ``verify --resubmit`` repairs.
"""

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from cos2oms import markers
from cos2oms.commands import backfill, verify
from cos2oms.signer import SignerAuth
from local import fake_credentials
from local.obs_server import CRC64, FULL_OVERWRITE, NO_OVERWRITE, SIZE_LAST_MODIFIED, Migration, read_object
from tests.e2e import migration as world
from tests.e2e.migration import COPIED, EVENT_PREFIX, OBS_BUCKET, SOURCE_BUCKET, T0
from tests.support import PROJECT, TASK

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- overwrite modes

@pytest.mark.parametrize("mode, copied", [
    (NO_OVERWRITE, {"new"}),
    (SIZE_LAST_MODIFIED, {"new", "other size", "older copy"}),
    (CRC64, {"new", "other size", "older copy"}),  # no CRC64 in the objects' metadata: OMS compares as above
    (FULL_OVERWRITE, {"new", "other size", "older copy", "newer copy"}),
])
def test_a_copy_honours_the_tasks_overwrite_mode(cos_server, obs_server, mode, copied):
    for key in ("new", "other size", "older copy", "newer copy"):
        world.source(cos_server, key, b"source", mtime=T0)
    world.destination(obs_server, "other size", b"longer copy", mtime=COPIED)
    world.destination(obs_server, "older copy", b"copy!!", mtime=T0 - 1)
    world.destination(obs_server, "newer copy", b"copy!!", mtime=COPIED)  # same size, newer: "the same" by size
    migration = Migration(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0, overwrite=mode)

    migration.accepted([EVENT_PREFIX + key for key in ("new", "other size", "older copy", "newer copy")])
    records = migration.wait()

    assert {key for key in ("new", "other size", "older copy", "newer copy")
            if read_object(obs_server, OBS_BUCKET, key) == b"source"} == copied
    assert all(record.ok for record in records)
    assert {record.event_key[len(EVENT_PREFIX):] for record in records if record.skipped} == \
        {"new", "other size", "older copy", "newer copy"} - copied


def test_an_unknown_overwrite_mode_is_refused(cos_server, obs_server):
    with pytest.raises(ValueError, match="overwrite must be one of"):
        Migration(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, overwrite="SOMETIMES")


# ----------------------------------------------------------------------------- run by hand

class HandRunOms:
    """``python -m local.oms_server ARGV`` in a process of its own: its sync URL, and its log lines as they come."""

    def __init__(self, *argv):
        self.process = subprocess.Popen([sys.executable, "-m", "local.oms_server", "--port", "0", *argv], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()  # printed once it listens
        if not self.url:
            self.process.wait(timeout=10)
            raise RuntimeError("the OMS server did not start: %s" % self.process.stderr.read())
        self._lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        self.ak, self.sk = fake_credentials.HW_AK, fake_credentials.HW_SK

    def _read(self):
        for line in self.process.stderr:
            self._lines.put(line)

    def sync_url(self, project, task):
        assert self.url.endswith("/v2/%s/sync-tasks/%s/events" % (project, task))
        return self.url

    def wait_for_line(self, text, timeout=30.0):
        """The first log line holding ``text``, waiting for it (``timeout`` bounds a failure, not a success)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            try:
                self.seen.append(self._lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError("no log line with %r; the server logged:\n%s"
                                     % (text, "".join(self.seen))) from None
        return next(line for line in self.seen if text in line)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # run_until_interrupted's way out
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def hand_run_oms(cos_server, obs_server):
    servers = []

    def start(*argv):
        server = HandRunOms("--project", PROJECT, "--task", TASK, "--source", cos_server.address,
                            "--source-bucket", SOURCE_BUCKET, "--destination", obs_server.endpoint,
                            "--destination-bucket", OBS_BUCKET, "--copy-delay", "0", *argv)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_the_hand_run_oms_server_copies_what_it_accepts_but_its_no_copy_keys(hand_run_oms, cos_server, obs_server):
    lost = "photos/lost 中文.jpg"
    oms = hand_run_oms("--no-copy", EVENT_PREFIX + lost)
    environ = world.environ(oms, cos_server, obs_server)
    for key in ("photos/kept.jpg", lost):
        world.source(cos_server, key, b"photo " + key.encode(), mtime=T0)

    assert world.run(backfill, environ, "--since", "2024-05-01")[2]["accepted"] == 2
    oms.wait_for_line("OMS copied %r" % (EVENT_PREFIX + "photos/kept.jpg"))
    oms.wait_for_line("OMS did not copy %r: fault: accepted and not copied" % (EVENT_PREFIX + lost))
    assert read_object(obs_server, OBS_BUCKET, "photos/kept.jpg") == b"photo photos/kept.jpg"

    assert world.run(verify, environ) == (
        1, ['missing "%s": success marker: OMS accepted it and did not copy it' % lost],
        {"source": 2, "matched": 1, "missing": 1, "differ": 0, "extra": 0, "errors": 0, "missing_unmarked": 0,
         "missing_accepted": 1, "missing_failed": 0, "differ_kept": 0, "resubmitted": 0})
    assert world.run(verify, environ, "--resubmit")[2]["resubmitted"] == 1
    oms.wait_for_line("OMS copied %r" % (EVENT_PREFIX + lost))  # not copied once, then copied
    status, lines, result = world.run(verify, environ)
    assert (status, lines, result["matched"]) == (0, [], 2)
    assert world.markers_of(cos_server, markers.SUCCESS, ["photos/kept.jpg", lost]) == {"photos/kept.jpg", lost}


def test_the_hand_run_oms_server_honours_its_overwrite_mode(hand_run_oms, cos_server, obs_server):
    world.source(cos_server, "a.jpg", b"abcd", mtime=T0)
    world.destination(obs_server, "a.jpg", b"abcX", mtime=COPIED)  # same size, newer
    oms = hand_run_oms()  # OMS's default: size and last-modified comparison
    environ = world.environ(oms, cos_server, obs_server)
    # verify knows the task would keep it (differ_kept) and does not resubmit it; backfill sends it anyway.
    assert world.run(verify, environ, "--checksum", "--resubmit")[2]["differ_kept"] == 1
    assert world.run(backfill, environ, "--since", "2024-05-01")[2]["accepted"] == 1
    oms.wait_for_line("OMS skipped %r" % (EVENT_PREFIX + "a.jpg"))
    assert read_object(obs_server, OBS_BUCKET, "a.jpg") == b"abcX"


def test_copying_options_go_together():
    done = subprocess.run([sys.executable, "-m", "local.oms_server", "--no-copy", "/1/b/k"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--no-copy needs copying" in done.stderr
    done = subprocess.run([sys.executable, "-m", "local.oms_server", "--source", "127.0.0.1:1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "copying needs --source, --source-bucket, --destination" in done.stderr



def test_an_object_the_overwrite_mode_keeps_counts_as_skip_for_status(oms_server, cos_server, obs_server):
    """OMS's figures: a copy the task's overwrite mode skipped is SKIP (monthly_skip_object), not SUCCESS."""
    world.source(cos_server, "kept", b"source", mtime=T0)
    world.source(cos_server, "fresh", b"source", mtime=T0)
    world.destination(obs_server, "kept", b"copy!!", mtime=COPIED)
    migration = oms_server.migrate(cos_server, SOURCE_BUCKET, obs_server, OBS_BUCKET, delay=0.0,
                                   overwrite=NO_OVERWRITE)
    url = oms_server.sync_url(PROJECT, TASK)
    auth = SignerAuth(oms_server.ak, oms_server.sk)
    body = {"object_keys": [EVENT_PREFIX + "kept", EVENT_PREFIX + "fresh"]}
    assert requests.post(url, json=body, auth=auth).status_code == 200
    migration.wait()

    task = requests.get(url[:-len("/events")], params={"query_time": int(time.time() * 1000)}, auth=auth).json()

    assert (task["monthly_success_object"], task["monthly_skip_object"], task["monthly_size"]) == (1, 1, 6)
