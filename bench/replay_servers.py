"""The loopback servers for ``bench/replay.py`` and ``bench/invoke.py``, in a process of their own (so they do
not take the GIL from the code being measured):
``python -m bench.replay_servers {oms|cos|thin-cos} [--keys N] [--latency S] [--new-connection-delay S]``.

- ``oms``: ``local.oms_server.OmsServer`` (every signature checked; ``--new-connection-delay`` slept once per
  TCP connection);
- ``cos``: ``local.cos_server.CosServer`` (moto behind the COS adapter; ``--keys`` failed markers seeded
  straight into moto);
- ``thin-cos``: a minimal COS stand-in for measuring the replay rather than moto: the three requests the
  replay makes (PUT object, GET bucket with prefix/marker/max-keys, POST ?delete), objects in a dict,
  HTTP/1.1 keep-alive, signatures not checked. ``--verify-objects N`` adds what ``bench/verify.py`` lists:
  a source bucket of N generated objects and their success markers (a bucket per ``Host`` header);
- ``thin-obs``: the same listing for an OBS bucket of ``--objects N`` generated objects (path-style, as the
  OBS SDK addresses an IP endpoint), every 100th one missing, for ``bench/verify.py``.

``--latency``: ``oms`` and ``thin-cos`` answer that long after a request came in, their own work included
(as a remote server's latency would), rather than that long after their work; ``cos`` adds it to every
answer. ``oms`` and ``thin-cos`` keep connections alive (HTTP/1.1) and send with TCP_NODELAY; ``cos``
(werkzeug) closes every connection.

Prints one JSON line with what a client needs (the OMS URL and AK/SK; the COS address and credentials; the
OBS endpoint), then reads commands on stdin, one a line, answering each with one JSON line:

- ``report``: what the server saw (``oms``: requests by status; ``cos``: requests by kind, markers left),
  and the CPU seconds this process used;
- ``reset`` (``cos``, ``thin-cos``): the ``--keys`` failed markers seeded again (``thin-cos``: and nothing
  else in the log bucket), for another run over the same work;
- ``quit`` (or end of input): stop.

``ServerProcess`` runs one from a client's side; ``environment`` points cos2oms at such processes.
"""

import argparse
import bisect
import collections
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape


from local.fake_credentials import COS_SECRET_ID, COS_SECRET_KEY
from local.fake_credentials import HW_AK as OMS_AK
from local.fake_credentials import HW_SK as OMS_SK
from local.oms_server import OmsServer
from local.world import environment as world_environment

REPO_ROOT = str(Path(__file__).resolve().parents[1])  # `python -m bench.replay_servers` runs from there

BUCKET = "omslog-1250000000"
PROJECT = "proj"
TASK = "bench-task"
EVENT_KEY = "/1250000000/source/bench/%06d a+b%%41 中文?#&=.jpg"


# bench/verify.py's world: a source bucket of generated objects, their success markers, their copies on OBS.
SOURCE_BUCKET = "source-1250000000"
OBS_BUCKET = "bench-destination"
OBJECT_KEY = "data/%07d a+b%%41 图.jpg"
OBJECT_SIZE = 4096
SOURCE_MODIFIED = "2024-05-01T12:00:00.000Z"
COPIED = "2024-05-01T12:05:00.000Z"
MISSING_EVERY = 100  # every 100th object is not on the destination (OMS accepted it and did not copy it)


def success_marker(key):
    return "oms_source_record/%s/success_object//1250000000/source/%s" % (TASK, key)


def verify_objects(n):
    return [OBJECT_KEY % i for i in range(n)]


def failed_marker(i):
    return "oms_source_record/%s/failed_object/%s" % (TASK, EVENT_KEY % i)


def cpu_seconds():
    times = os.times()
    return round(times.user + times.system, 3)


def wait_until(due):
    left = due - time.monotonic()
    if left > 0:
        time.sleep(left)


class PacedOmsServer(OmsServer):
    """``OmsServer`` whose ``latency`` counts from the request's arrival: ``OmsServer._handle`` sleeps
    ``self.latency`` just before answering, which here is the time left until the answer is due."""

    _due = threading.local()

    @property
    def latency(self):
        return max(0.0, getattr(self._due, "at", 0.0) - time.monotonic())

    @latency.setter
    def latency(self, seconds):
        self.pace = seconds

    def _handle(self, handler):
        self._due.at = time.monotonic() + self.pace
        super()._handle(handler)


def serve_oms(args):
    server = PacedOmsServer(OMS_AK, OMS_SK, latency=args.latency,
                            new_connection_delay=args.new_connection_delay).start()

    def report():
        statuses = collections.Counter(str(r.status) for r in server.requests)
        return {"requests": sum(statuses.values()), "statuses": dict(statuses),
                "new_connections": server.new_connections}

    hello = {"url": server.url, "sync_url": server.sync_url(PROJECT, TASK), "ak": OMS_AK, "sk": OMS_SK}
    return server, hello, report


def serve_cos(args):
    from local.cos_server import CosServer  # moto: imported only where it serves

    server = CosServer(COS_SECRET_ID, COS_SECRET_KEY, latency=args.latency).start()
    seeded = [failed_marker(i) for i in range(args.keys)]
    server.put_keys(BUCKET, seeded)
    server.reset = lambda: server.put_keys(BUCKET, seeded)
    prefix = "oms_source_record/%s/" % TASK

    def report():
        markers = collections.Counter(k[len(prefix):].split("/", 1)[0] for k in server.keys(BUCKET, prefix))
        return {"counts": server.counts, "markers": dict(markers)}

    hello = {"address": server.address, "secret_id": COS_SECRET_ID, "secret_key": COS_SECRET_KEY,
             "bucket": BUCKET, "keys": args.keys}
    return server, hello, report


class BacklogServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a listen backlog for the connections a bulk client opens at once (its
    default, 5, drops the rest's SYNs: a 1 s retransmission, then 3 s, past a marker write's 2 s limit)."""

    request_queue_size = 256
    daemon_threads = True


class ThinCos(object):
    """Objects of one bucket in memory; the requests replay.py makes, nothing else."""

    def __init__(self, keys, latency=0.0, buckets=None):
        self.keys = sorted(keys)
        self.latency = latency
        #: Read-only buckets besides the log bucket, by name: (sorted keys, size, last-modified).
        self.buckets = buckets or {}
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def parse_request(self):  # the request line is in: the answer is due ``latency`` from now
                self.due = time.monotonic() + owner.latency
                return super().parse_request()

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.put(unquote(urlsplit(self.path).path[1:]))
                self.answer(200, b"", {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'})

            def do_GET(self):
                params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
                bucket = (self.headers.get("Host") or "").split(".", 1)[0]
                self.answer(200, owner.listing(params, bucket), {"Content-Type": "application/xml"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                names = re.findall(r"<Key>(.*?)</Key>", body, re.S)  # still XML-escaped, as echoed back
                owner.delete(names)
                quiet = re.search(r"<Quiet>\s*true\s*</Quiet>", body, re.I) is not None
                deleted = "" if quiet else "".join("<Deleted><Key>%s</Key></Deleted>" % name for name in names)
                self.answer(200, ("<?xml version='1.0' encoding='utf-8' ?><DeleteResult>%s</DeleteResult>"
                                  % deleted).encode("utf-8"), {"Content-Type": "application/xml"})

            def answer(self, status, body, headers):
                wait_until(self.due)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-cos-request-id", "thin")
                self.end_headers()
                self.wfile.write(body)

        self.server = BacklogServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def seed(self, keys):
        with self.lock:
            self.keys = sorted(keys)

    def put(self, key):
        with self.lock:
            self.counts["put"] += 1
            i = bisect.bisect_left(self.keys, key)
            if i == len(self.keys) or self.keys[i] != key:
                self.keys.insert(i, key)

    def delete(self, keys):
        from xml.sax.saxutils import unescape
        with self.lock:
            self.counts["batch_delete"] += 1
            gone = set(unescape(k, {"&quot;": '"', "&apos;": "'"}) for k in keys)
            self.keys = [k for k in self.keys if k not in gone]

    def listing(self, params, bucket=None):
        if bucket in self.buckets:
            with self.lock:
                self.counts["list " + bucket] += 1
            keys, size, modified = self.buckets[bucket]
            return listing_xml(bucket, keys, params, size, modified)
        with self.lock:
            self.counts["list"] += 1
            return listing_xml(BUCKET, self.keys, params, 0, SOURCE_MODIFIED)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def listing_xml(bucket, keys, params, size, modified):
    """A ListBucketResult page of the sorted ``keys``, as COS or OBS answers GET Bucket (ListObjects)."""
    prefix, marker = params.get("prefix", ""), params.get("marker", "")
    max_keys = min(1000, int(params.get("max-keys") or 1000))
    url = params.get("encoding-type") == "url"
    encode = (lambda k: quote(k, safe="")) if url else (lambda k: k)
    start = bisect.bisect_right(keys, marker) if marker else bisect.bisect_left(keys, prefix)
    page = []
    for key in keys[start:start + max_keys + 1]:
        if not key.startswith(prefix):
            break
        page.append(key)
    truncated, page = len(page) > max_keys, page[:max_keys]
    etag = "&quot;%s&quot;" % ("0" * 32)
    contents = "".join("<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag><Size>%d</Size>"
                       "<StorageClass>STANDARD</StorageClass></Contents>" % (escape(encode(k)), modified, etag, size)
                       for k in page)
    next_marker = "<NextMarker>%s</NextMarker>" % escape(encode(page[-1])) if truncated and page else ""
    return ("<?xml version='1.0' encoding='utf-8' ?><ListBucketResult><Name>%s</Name>%s<Prefix>%s</Prefix>"
            "<Marker>%s</Marker><MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>%s%s</ListBucketResult>"
            % (bucket, "<EncodingType>url</EncodingType>" if url else "", escape(encode(prefix)),
               escape(encode(marker)), max_keys, str(truncated).lower(), next_marker, contents)).encode("utf-8")


class ThinObs(object):
    """An OBS bucket's listing, path-style (``GET /{bucket}?prefix=...``), keys generated; nothing else."""

    def __init__(self, keys, latency=0.0):
        self.keys = sorted(keys)
        self.latency = latency
        self.counts = collections.Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def parse_request(self):
                self.due = time.monotonic() + owner.latency
                return super().parse_request()

            def do_GET(self):
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                owner.counts["list"] += 1
                body = listing_xml(OBS_BUCKET, owner.keys, params, OBJECT_SIZE, COPIED)
                wait_until(self.due)
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-obs-request-id", "thin")
                self.end_headers()
                self.wfile.write(body)

        self.server = BacklogServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def serve_thin_obs(args):
    keys = [key for i, key in enumerate(verify_objects(args.objects)) if i % MISSING_EVERY != MISSING_EVERY - 1]
    server = ThinObs(keys, args.latency)

    def report():
        return {"counts": dict(server.counts)}

    hello = {"endpoint": server.endpoint, "bucket": OBS_BUCKET, "objects": len(keys)}
    return server, hello, report


def serve_thin_cos(args):
    objects = verify_objects(args.verify_objects)
    buckets = {}
    if objects:
        buckets[SOURCE_BUCKET] = (sorted(objects), OBJECT_SIZE, SOURCE_MODIFIED)
        buckets[BUCKET] = (sorted(success_marker(key) for key in objects), 0, SOURCE_MODIFIED)
    seeded = [failed_marker(i) for i in range(args.keys)]
    server = ThinCos(seeded, args.latency, buckets)
    server.reset = lambda: server.seed(seeded)
    prefix = "oms_source_record/%s/" % TASK

    def report():
        with server.lock:
            markers = collections.Counter(k[len(prefix):].split("/", 1)[0] for k in server.keys if k.startswith(prefix))
            return {"counts": dict(server.counts), "markers": dict(markers)}

    hello = {"address": server.address, "secret_id": COS_SECRET_ID, "secret_key": COS_SECRET_KEY,
             "bucket": BUCKET, "keys": args.keys}
    return server, hello, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["oms", "cos", "thin-cos", "thin-obs"])
    parser.add_argument("--keys", type=int, default=10000, help="failed markers to seed (cos)")
    parser.add_argument("--verify-objects", type=int, default=0,
                        help="thin-cos: a source bucket of this many objects and their success markers")
    parser.add_argument("--objects", type=int, default=0, help="thin-obs: objects in the destination bucket")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds from a request to its answer (cos: added to every answer)")
    parser.add_argument("--new-connection-delay", type=float, default=0.0,
                        help="seconds slept once per new TCP connection (oms)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    serve = {"oms": serve_oms, "cos": serve_cos, "thin-cos": serve_thin_cos, "thin-obs": serve_thin_obs}[args.role]
    server, hello, report = serve(args)
    try:
        print(json.dumps(hello), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "report":
                print(json.dumps(dict(report(), cpu_seconds=cpu_seconds())), flush=True)
            elif command == "reset":
                server.reset()
                print(json.dumps({"keys": args.keys}), flush=True)
            elif command == "quit":
                break
    finally:
        server.stop()


def environment(oms=None, cos=None, obs=None, **overrides):
    """``local.world.environment`` for these stand-ins (``ServerProcess``es, or an OMS URL) and the benchmarks'
    names: the sync task ``PROJECT``/``TASK``, the log bucket ``BUCKET``, ``SOURCE_BUCKET``, ``OBS_BUCKET``."""
    return world_environment(oms, cos, obs, project=PROJECT, task=TASK, log_bucket=BUCKET,
                             source_bucket=SOURCE_BUCKET, obs_bucket=OBS_BUCKET, **overrides)


class ServerProcess(object):
    """``bench/replay_servers.py ROLE ARGS...`` in a process of its own: ``hello`` is its first line of output
    (how to reach it; its fields read as attributes too: ``url``, ``address``, ``endpoint``...), ``report()``
    asks what it saw."""

    def __init__(self, role, *args):
        self.process = subprocess.Popen([sys.executable, "-m", "bench.replay_servers", role] + list(args),
                                        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the %s server did not start" % role)
        self.hello = json.loads(line)

    def __getattr__(self, name):
        try:
            return self.__dict__["hello"][name]
        except KeyError:
            raise AttributeError(name) from None

    def report(self):
        return self.command("report")

    def command(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    main()
