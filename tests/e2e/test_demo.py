"""``make demo`` (``python -m local.demo [EVENT.json]``) on a fresh process: what a newcomer runs first."""

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def demo(*args):
    return subprocess.run([sys.executable, "-m", "local.demo", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)


def test_demo_shows_the_verified_request_the_marker_and_true():
    done = demo()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signature verified  -> HTTP 200" in done.stdout
    assert "oms_source_record/demo-task/success_object//1253970026/testpic/testfile" in done.stdout
    assert 'object accepted key="/1253970026/testpic/testfile"' in done.stdout  # the function's own log
    assert "main_handler returned True" in done.stdout


def test_demo_exits_1_when_the_handler_does_not_return_true(tmp_path):
    event = tmp_path / "not-an-event.json"
    event.write_text(json.dumps(["not", "a", "COS", "event"]))
    done = demo(str(event))
    assert done.returncode == 1
    assert "main_handler raised ValueError" in done.stdout
