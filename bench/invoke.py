"""Warm invocations of the function against the loopback servers, by hand: ``python bench/invoke.py [-n 200]``.

A warm SCF container keeps ``index``'s clients, so a warm invocation should open no new connection to OMS
and take little more than its requests on the wire. The servers add latency to every answer (OMS and COS
5 ms) and OMS charges 20 ms per new TCP connection (standing in for TCP + TLS set-up). For each event this
prints one cold invocation, then the median of N warm ones, beside:

- wire: the sum of the configured latencies of the invocation's requests (OMS requests x 5 ms + marker
  PUTs x 5 ms). Target: a warm median within 25% of it, and no new OMS connection.
- floor: the same requests made bare (a signed ``requests`` POST on a warm connection, an SDK
  ``put_object``), without the function. The loopback servers run in this process and spend time of their
  own (moto, signature checks), so ``median - floor`` is what the function itself adds.

The loopback COS server (werkzeug) answers every request with ``Connection: close``, so each marker PUT
opens a new TCP connection whatever the client does (it charges nothing for it). Connections are counted on
the client side, per server, and the COS ones are reported apart: they say nothing about the function.
"""

import argparse
import collections
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import requests
from urllib3.connection import HTTPConnection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: the function's modules

import clients  # noqa: E402
import index  # noqa: E402
import log_bucket  # noqa: E402
import oms as oms_module  # noqa: E402
from local.cos_server import CosServer  # noqa: E402
from local.oms_server import OmsServer  # noqa: E402
from signer import SignerAuth  # noqa: E402
from tests import support  # noqa: E402

OMS_LATENCY = 0.005
NEW_CONNECTION_DELAY = 0.020
COS_LATENCY = 0.005
TARGET = 1.25  # warm median / wire time
CONTEXT = {"request_id": "bench", "time_limit_in_ms": 3000}
FLOOR_EVERY = 4  # a bare invocation after every 4th warm one

#: New TCP connections opened by this process, by server port (every HTTP client here uses urllib3).
connects = collections.Counter()
_new_conn = HTTPConnection._new_conn


def _counting_new_conn(self):
    connects[self.port] += 1
    return _new_conn(self)


HTTPConnection._new_conn = _counting_new_conn


def bare_invocation(keys, oms, settings):
    """The requests an invocation makes, made bare: per batch of 10 keys, one signed POST on a kept-alive
    connection, then one SDK ``put_object`` per key. Returns a callable."""
    session, auth = requests.Session(), SignerAuth(oms.ak, oms.sk)
    cos_client = log_bucket.build_client(settings)

    def invoke():
        for batch in oms_module.batches(keys):
            session.post(settings.sync_url, data=json.dumps({"object_keys": batch}).encode(), auth=auth, timeout=5,
                         headers={"Content-Type": "application/json"}).raise_for_status()
            for key in batch:
                cos_client.put_object(Bucket=settings.log_bucket, Body=b"", Key="bench/floor" + key)
    return invoke


def timed_ms(call):
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def snapshot(oms, cos):
    """OMS requests, marker PUTs, new connections to OMS, new connections to COS, so far."""
    return oms.request_count, cos.counts.get("put", 0), connects[oms.port], connects[cos.port]


def invoke(event):
    assert index.main_handler(event, CONTEXT) is True


def run(label, event, invocations, oms, cos):
    """One cold invocation (fresh client cache), then ``invocations`` warm ones, with a bare invocation after
    every ``FLOOR_EVERY``-th (interleaved: the loopback COS server slows down as moto's records grow)."""
    index._clients = clients.ClientCache()
    keys = [record["cos"]["cosObject"]["key"] for record in event["Records"]]
    bare = bare_invocation(keys, oms, index.load_settings())
    bare()  # its new connection to OMS
    rows = []
    for kind, n in (("cold", 1), ("warm", invocations)):
        bare_times, times, totals = [], [], [0, 0, 0, 0]
        for i in range(n):
            before = snapshot(oms, cos)
            times.append(timed_ms(lambda: invoke(event)))
            totals = [t + b - a for t, a, b in zip(totals, before, snapshot(oms, cos))]
            if kind == "warm" and i % FLOOR_EVERY == 0:
                bare_times.append(timed_ms(bare))
        oms_requests, puts, oms_conns, cos_conns = (t / n for t in totals)
        wire = (oms_requests * OMS_LATENCY + puts * COS_LATENCY) * 1000
        rows.append((label, kind, n, statistics.median(times), wire,
                     statistics.median(bare_times) if bare_times else None, oms_requests, puts, oms_conns, cos_conns))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--invocations", type=int, default=200, help="warm invocations per event")
    args = parser.parse_args(argv)
    # The function logs at INFO as on SCF: its lines are formatted, then written nowhere.
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.WARNING)

    with OmsServer(ak=support.HW_AK, sk=support.HW_SK, latency=OMS_LATENCY,
                   new_connection_delay=NEW_CONNECTION_DELAY) as oms, \
            CosServer(secret_id=support.COS_ID, secret_key=support.COS_KEY, latency=COS_LATENCY) as cos:
        os.environ.update(SYNC_URL=oms.sync_url(support.PROJECT, support.TASK), HW_AK=support.HW_AK,
                          HW_SK=support.HW_SK, LOG_BUCKET=support.LOG_BUCKET, COS_ADDRESS=cos.address,
                          COS_SCHEME="http", COS_SECRET_ID=support.COS_ID, COS_SECRET_KEY=support.COS_KEY,
                          LOG_LEVEL="INFO")
        names = ["bench/f%02d.bin" % i for i in range(23)]
        rows = run("console PUT", support.load_event("cos_put_console.json"), args.invocations, oms, cos)
        rows += run("23 records", support.event(*[support.record(n) for n in names]), args.invocations, oms, cos)

    print("Loopback latency: OMS %.0f ms per answer + %.0f ms per new connection; COS %.0f ms per answer."
          % (OMS_LATENCY * 1000, NEW_CONNECTION_DELAY * 1000, COS_LATENCY * 1000))
    print()
    line = "%-11s %-4s %4s %9s %7s %8s %10s %8s %7s %9s %8s"
    print(line % ("event", "", "n", "median ms", "wire ms", "floor ms", "med - flr", "OMS req", "markers",
                  "new OMS", "new COS*"))
    for label, kind, n, median, wire, bare, oms_req, puts, oms_conn, cos_conn in rows:
        bare_text, added = ("-", "-") if bare is None else ("%.1f" % bare, "%+.1f" % (median - bare))
        print(line % (label, kind, n, "%.1f" % median, "%.1f" % wire, bare_text, added,
                      "%.0f" % oms_req, "%.0f" % puts, "%.2f" % oms_conn, "%.2f" % cos_conn))
    print("(per invocation; new = TCP connections opened; * the loopback COS server closes every connection)\n")
    for label, kind, _n, median, wire, bare, _, _, oms_conn, _ in rows:
        if kind == "warm":
            print("%s, warm: %.2f new OMS connections; median %.1f ms = %.0f%% of the %.1f ms wire time "
                  "(target <= %.0f%%: %s); the function adds %.1f ms to the bare requests"
                  % (label, oms_conn, median, 100 * median / wire, wire, 100 * TARGET,
                     "met" if oms_conn == 0 and median <= TARGET * wire else "NOT met", median - bare))


if __name__ == "__main__":
    main()
