# -*- coding: utf-8 -*-
"""The function's cold start loads only what the function needs: importing ``index`` and handling a first
event in a fresh interpreter imports none of the commands' code (verify, status, bulk, backfill, the command
line, progress bars, the OBS SDK). The time it takes is bench/cold_start.py's; this is the invariant."""
import json
import os
import subprocess
import sys

from tests import support

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Modules (and their submodules) the function must not import. ``obs`` is esdk-obs-python's package.
#: ``oms_tasks`` (the task queries) and ``bucket_settings`` (the source and OBS buckets) are status's and
#: verify's and backfill's.
COMMANDS_ONLY = ("cos2oms.verify", "cos2oms.status", "cos2oms.bulk", "cos2oms.backfill", "cos2oms.cli",
                 "cos2oms.commands", "cos2oms.obs", "cos2oms.oms_tasks", "cos2oms.bucket_settings", "tqdm", "obs")

# In the child: OMS answers 200 (responses), the log bucket is an in-memory fake; one created object.
_CHILD = """
import json, sys
import responses
import index
from cos2oms import handler

class FakeCos(object):
    def __init__(self):
        self.keys = []
    def put_object(self, Bucket, Body, Key, **kwargs):
        self.keys.append(Key)
        return {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'}

cos = FakeCos()
handler.CLIENTS = handler.ClientCache(cos_factory=lambda settings: cos)
after_import = sorted(sys.modules)
with responses.RequestsMock() as mock:
    mock.add(responses.POST, %(sync_url)r, json={}, status=200)
    ok = index.main_handler(%(event)r, {"request_id": "cold"})
print(json.dumps({"ok": ok, "markers": cos.keys, "after_import": after_import,
                  "after_event": sorted(sys.modules)}))
"""


def run_child():
    environ = dict((k, v) for k, v in os.environ.items()
                   if not k.startswith(("TENCENTCLOUD_", "COS_", "OMS_", "HW_", "LOG_")) and k not in (
                       "SYNC_URL", "LOG_BUCKET", "RAISE_ON_FAILURE", "PYTHONPATH"))
    environ.update(support.env())
    code = _CHILD % {"sync_url": support.SYNC_URL, "event": support.event(support.record("cold.txt"))}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def commands_code(modules):
    return sorted(name for name in modules if any(name == banned or name.startswith(banned + ".")
                                                  for banned in COMMANDS_ONLY))


def test_import_and_first_event_load_none_of_the_commands_code():
    seen = run_child()
    assert seen["ok"] is True
    assert seen["markers"] == [support.marker("success_object", support.event_key("cold.txt"))]
    assert commands_code(seen["after_import"]) == []
    assert commands_code(seen["after_event"]) == []
    # and the function's own path is what was loaded (the check above looked at the right interpreter)
    assert {"index", "cos2oms.handler", "cos2oms.oms", "cos2oms.markers", "cos2oms.sync"} <= set(seen["after_event"])


def test_the_check_sees_commands_code():
    assert commands_code(["cos2oms.verify", "cos2oms.verifying", "tqdm.std", "obs", "obsolete", "cos2oms.sync",
                          "cos2oms.commands.status"]) == ["cos2oms.commands.status", "cos2oms.verify", "obs",
                                                          "tqdm.std"]
