# -*- coding: utf-8 -*-
"""The loopback world's shared names and sample COS events, in one place: the tests (``tests/support.py``
re-exports them), the demo and the benchmarks use these. Plain Python, importable on Python 3.6 (the
emulated SCF runtime's unit tests use them too)."""
import copy
import json
import os

#: The SCF console's COS test events (data files kept beside the tests). The q-ak=AKID... in their
#: requestParameters is the console sample's placeholder, not a credential.
EVENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "events")

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TASK = "a8c1b3d5-task-4e2f-9b7a-0123456789ab"
LOG_BUCKET = "omslog-1253970026"


def sync_path(project=PROJECT, task=TASK):
    """The path of a sync task's events API (``SYNC_URL`` without its scheme and host)."""
    return "/v2/%s/sync-tasks/%s/events" % (project, task)


SYNC_PATH = sync_path()


def load_event(name):
    with open(os.path.join(EVENTS_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def event_key(name, bucket="testpic", appid="1253970026"):
    return "/%s/%s/%s" % (appid, bucket, name)


def record(name, event_name="cos:ObjectCreated:Put", bucket="testpic", appid="1253970026"):
    """One COS record for object ``name`` (its event key is ``/{appid}/{bucket}/{name}``)."""
    rec = copy.deepcopy(load_event("cos_put_console.json")["Records"][0])
    rec["cos"]["cosObject"]["key"] = event_key(name, bucket, appid)
    rec["cos"]["cosBucket"]["name"] = bucket
    rec["cos"]["cosBucket"]["appid"] = appid
    rec["event"]["eventName"] = event_name
    return rec


def event(*records):
    return {"Records": list(records)}


def marker(kind, key, task=TASK):
    return "oms_source_record/%s/%s/%s" % (task, kind, key)
