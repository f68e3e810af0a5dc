# -*- coding: utf-8 -*-
"""Test data and fakes shared by the unit and end-to-end suites (Python 3.6+)."""
import copy
import json
import os

from local import fake_credentials

#: The SCF console's COS test events. The q-ak=AKID... in their requestParameters is the console sample's
#: placeholder, not a credential.
EVENTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "events")

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TASK = "a8c1b3d5-task-4e2f-9b7a-0123456789ab"
SYNC_PATH = "/v2/%s/sync-tasks/%s/events" % (PROJECT, TASK)
SYNC_URL = "https://oms.test.invalid" + SYNC_PATH
LOG_BUCKET = "omslog-1253970026"
# Fake credentials: never real ones (one definition for tests, servers, demo and benchmarks).
HW_AK, HW_SK = fake_credentials.HW_AK, fake_credentials.HW_SK
COS_ID, COS_KEY, COS_TOKEN = fake_credentials.COS_SECRET_ID, fake_credentials.COS_SECRET_KEY, fake_credentials.COS_TOKEN

# Object names that break naive handling: OMS decodes once, with unquote or unquote_plus.
TRICKY_NAMES = [
    "with space.txt", "plus+sign.txt", "percent%.txt", "looks-encoded%41.txt", "中文/目录/文件.txt",
    "query?hash#amp&eq=.txt", "tilde~quote'dquote\".txt", "a%2Fb.txt", "  leading-and-trailing  ",
]


def env(**overrides):
    """A complete, valid environment; ``None`` removes a variable."""
    values = {
        "SYNC_URL": SYNC_URL, "HW_AK": HW_AK, "HW_SK": HW_SK, "LOG_BUCKET": LOG_BUCKET,
        "TENCENTCLOUD_SECRETID": COS_ID, "TENCENTCLOUD_SECRETKEY": COS_KEY,
        "TENCENTCLOUD_SESSIONTOKEN": COS_TOKEN, "TENCENTCLOUD_REGION": "ap-guangzhou",
    }
    values.update(overrides)
    return dict((k, v) for k, v in values.items() if v is not None)


def load_event(name):
    with open(os.path.join(EVENTS_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def record(name, event_name="cos:ObjectCreated:Put", bucket="testpic", appid="1253970026"):
    """One COS record for object ``name`` (its event key is ``/{appid}/{bucket}/{name}``)."""
    rec = copy.deepcopy(load_event("cos_put_console.json")["Records"][0])
    rec["cos"]["cosObject"]["key"] = "/%s/%s/%s" % (appid, bucket, name)
    rec["cos"]["cosBucket"]["name"] = bucket
    rec["cos"]["cosBucket"]["appid"] = appid
    rec["event"]["eventName"] = event_name
    return rec


def event(*records):
    return {"Records": list(records)}


def event_key(name, bucket="testpic", appid="1253970026"):
    return "/%s/%s/%s" % (appid, bucket, name)


def marker(kind, key):
    return "oms_source_record/%s/%s/%s" % (TASK, kind, key)
