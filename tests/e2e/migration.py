"""A loopback migration for ``verify`` and ``backfill`` end-to-end tests: a source COS bucket and the log bucket
(one CosServer), the destination OBS bucket (an ObsServer), OMS (an OmsServer), and the commands run in-process
with the environment variables a person would set."""

import argparse
import io
import json

from cos2oms import markers
from local.obs_server import objects, put_object
from local.world import environment
from tests.support import TASK

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
    """The variables a person would set for this migration (``local.world.environment``; ``None`` removes one)."""
    return environment(oms, cos, obs, log_bucket=LOG_BUCKET, source_bucket=SOURCE_BUCKET, obs_bucket=OBS_BUCKET,
                       COS_REGION="ap-guangzhou", **overrides)


def source(cos, key, body=b"data", mtime=T0):
    put_object(cos, SOURCE_BUCKET, key, body, mtime)


def destination(obs, key, body=b"data", mtime=COPIED, prefix=""):
    put_object(obs, OBS_BUCKET, prefix + key, body, mtime)


def marker(cos, kind, key, mtime=None):
    """The marker the function writes for source key ``key`` (a long key's is named after its hash), written
    at ``mtime`` (epoch seconds; default now)."""
    name = markers.marker_key(TASK, kind, EVENT_PREFIX + key)
    put_object(cos, LOG_BUCKET, name, EVENT_PREFIX.encode() + key.encode() if markers.is_long(TASK, kind, name)
               else b"", mtime)


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


def read_combined(text):
    """A ``--combined`` file as a reader must take it: [(symbol, key)] in order, where a path that starts with a
    double quote is a JSON string; an error about no key (its text neither starts with a quote nor breaks a
    line, which no key's path can be) comes as (symbol, None, text). Lines split as universal newlines do."""
    pairs = []
    for line in io.StringIO(text, newline=None):
        assert line.endswith("\n") and line[1:2] == " ", "not a combined line: %r" % line
        symbol, path = line[0], line[2:-1]
        if path.startswith('"'):
            key = json.loads(path)
            if not key.startswith('"') and "".join(key.splitlines()) == key:  # no line break in it
                pairs.append((symbol, None, key))
                continue
            path = key
        pairs.append((symbol, path))
    return pairs


def ignore_encoding_type(server, monkeypatch):
    """Make a loopback COS or OBS server list as one that ignores ``encoding-type=url`` does: names as they
    are, and no ``EncodingType`` in the answer (the signature is checked on the request as sent)."""
    real = server._call_moto

    def call_moto(environ, start_response, request, path, query):
        if request.kind == "list":
            query = "&".join(part for part in query.split("&") if not part.lower().startswith("encoding-type="))
        return real(environ, start_response, request, path, query)

    monkeypatch.setattr(server, "_call_moto", call_moto)
