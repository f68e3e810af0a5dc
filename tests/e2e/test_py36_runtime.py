"""The console PUT test event on the emulated SCF Python 3.6 runtime (``make py36``: cos-python-sdk-v5 1.6.6
installed as ``qcloud_cos_v5``, requests 2.21.0, no ``qcloud_cos``), against loopback servers run here."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from local.world import environment
from tests import support

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON36 = REPO_ROOT / ".venv36" / "bin" / "python"
PUT_KEY = "/1253970026/testpic/testfile"

pytestmark = pytest.mark.skipif(not PYTHON36.exists(),
                                reason="no Python 3.6 SCF runtime emulation: run `make py36`")


def test_console_put_event_on_python_3_6_with_the_built_in_cos_sdk(oms_server, cos_server):
    env = environment(oms_server, cos_server, base=os.environ, PYTHONPATH=None)
    script = Path(__file__).with_name("invoke_handler.py").read_text(encoding="utf-8")
    done = subprocess.run([str(PYTHON36), "-c", script, os.path.join(support.EVENTS_DIR, "cos_put_console.json")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["python"] == [3, 6]
    assert report["qcloud_cos"] is False and report["qcloud_cos_v5"] is True
    assert report["cos_sdk"].startswith("qcloud_cos_v5.") and report["sdk_version"] == [1, 6, 6]
    assert report["result"] is True, done.stderr
    assert [(r.verified, r.status, r.keys_unquote) for r in oms_server.requests] == [(True, 200, [PUT_KEY])]
    assert cos_server.keys(support.LOG_BUCKET) == [support.marker("success_object", PUT_KEY)]
