"""A loopback migration for ``verify`` and ``backfill`` end-to-end tests: a source COS bucket and the log bucket
(one CosServer), the destination OBS bucket (an ObsServer), OMS (an OmsServer), and the commands run in-process
with the environment variables a person would set."""

import argparse
import io
import json

from cos2oms import markers
from local.obs_server import objects, put_object
from tests.support import PROJECT, TASK

SOURCE_BUCKET = "photos-1253970026"
EVENT_PREFIX = "/1253970026/photos/"
LOG_BUCKET = "logs-1250000000"
OBS_BUCKET = "migrated-photos"
T0 = 1714564800.0  # 2024-05-01T12:00:00Z: when the source objects were written
COPIED = T0 + 60  # when OMS copied them
# Names that break naive handling: spaces, "+", "%", Chinese, control characters, XML's specials, and an
# 840-byte name (COS allows 850; its guide-style marker name would be over the limit).
TRICKY = ["with space.jpg", "plus+sign.jpg", "percent%41.jpg", "中文/图片.jpg", "ctl\x01\x1f\x7f.jpg", "tab\tnew\nline",
          "amp&lt;<>\"'.jpg", "x" * 840]


def environ(oms, cos, obs, **overrides):
    values = {
        "SYNC_URL": oms.sync_url(PROJECT, TASK), "HW_AK": oms.ak, "HW_SK": oms.sk,
        "LOG_BUCKET": LOG_BUCKET, "COS_SECRET_ID": cos.secret_id, "COS_SECRET_KEY": cos.secret_key,
        "COS_ADDRESS": cos.address, "COS_SCHEME": "http", "COS_REGION": "ap-guangzhou",
        "SOURCE_BUCKET": SOURCE_BUCKET,
    }
    if obs is not None:
        values.update(OBS_BUCKET=OBS_BUCKET, OBS_ENDPOINT=obs.endpoint, OBS_AK=obs.ak, OBS_SK=obs.sk)
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def source(cos, key, body=b"data", mtime=T0):
    put_object(cos, SOURCE_BUCKET, key, body, mtime)


def destination(obs, key, body=b"data", mtime=COPIED, prefix=""):
    put_object(obs, OBS_BUCKET, prefix + key, body, mtime)


def marker(cos, kind, key):
    """The marker the function writes for source key ``key`` (a long key's is named after its hash when the
    markers module does that)."""
    put_object(cos, LOG_BUCKET, markers.marker_key(TASK, kind, EVENT_PREFIX + key), b"")


def long_markers_supported():
    return len(markers.marker_key(TASK, markers.SUCCESS, EVENT_PREFIX + "x" * 840).encode()) <= 850


def markers_of(cos, kind, keys):
    """Those of the source ``keys`` that have a marker of ``kind`` (named as cos2oms.markers names it)."""
    present = set(cos.keys(LOG_BUCKET))
    return {key for key in keys if markers.marker_key(TASK, kind, EVENT_PREFIX + key) in present}


def destination_keys(obs, prefix=""):
    return set(objects(obs, OBS_BUCKET, prefix))


def run(module, environ, *argv):
    """``cos2oms MODULE ARGV`` in-process: (exit status, output lines before the summary, the summary)."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    out = io.StringIO()
    status = module.run(parser.parse_args(list(argv)), environ=environ, out=out)
    lines = out.getvalue().splitlines()
    assert lines, "no output"
    return status, lines[:-1], json.loads(lines[-1])


def fail_listing_requests(server, monkeypatch, from_request, status=403, prefix=None):
    """Answer ``status`` to the server's listing requests from the ``from_request``-th on (counted from 1); only
    listings whose prefix parameter starts with ``prefix`` (or passes it, a function) count, when given."""
    from urllib.parse import parse_qsl

    from local.cos_server import _Fault

    real = server._take_fault
    seen = []

    def take_fault(request):
        listed = dict(parse_qsl(request.query, keep_blank_values=True)).get("prefix", "")
        wanted = prefix is None or (prefix(listed) if callable(prefix) else listed.startswith(prefix))
        if request.kind == "list" and wanted:
            seen.append(request)
            if len(seen) >= from_request:
                return _Fault(status, None, None, None, None)
        return real(request)

    monkeypatch.setattr(server, "_take_fault", take_fault)
    return seen
