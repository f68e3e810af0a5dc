"""Warm invocations of the function against loopback servers, by hand: ``python -m bench.invoke [-n 200]``.

A warm SCF container keeps ``index``'s clients, so a warm invocation should open no new connection to OMS
and take little more than its requests on the wire. The servers answer every request 5 ms after it came in
(OMS and COS) and OMS charges 20 ms per new TCP connection (standing in for TCP + TLS set-up). For each event
this prints one cold invocation, then the median of N warm ones, beside:

- wire: the sum of the configured latencies of the invocation's requests (OMS requests x 5 ms + marker
  PUTs x 5 ms). Target: a warm median within 25% of it, and no new OMS connection.
- floor: the same requests made bare, without the function: a signed ``requests`` POST on a warm connection
  and an SDK ``put_object``, on clients built as the function builds its own (``clients``). ``median -
  floor`` is what the function itself adds.

By default the servers run in processes of their own (``bench/replay_servers.py``: ``oms``, the signature
of every request checked, and ``thin-cos``, an in-memory COS stand-in), both HTTP/1.1 keep-alive with
TCP_NODELAY, so the benchmark's process runs the function and nothing else. ``--in-process`` runs them in
this process instead, as the end-to-end tests do (``local.oms_server`` and moto behind ``local.cos_server``):
their own work (signature checks, moto) then holds the GIL, and the moto server closes every connection, so
each marker PUT opens a new one there. New connections are counted on the client side, per server.
"""

import argparse
import collections
import json
import logging
import os
import statistics
import time
import requests
from urllib3.connection import HTTPConnection

import index
from bench.replay_servers import ServerProcess, environment
from cos2oms import handler, oms, storage, transport
from cos2oms import settings as settings_module
from cos2oms.batching import batched
from cos2oms.signer import SignerAuth
from local import samples
from local.world import World, install

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


class ServerProcesses(object):
    """OMS and the thin COS stand-in, each in a process of its own. ``environ``: the function's variables."""

    description = "in processes of their own (bench/replay_servers.py: oms, thin-cos)"

    def __init__(self):
        self.oms = ServerProcess("oms", "--latency", str(OMS_LATENCY),
                                 "--new-connection-delay", str(NEW_CONNECTION_DELAY))
        self.cos = ServerProcess("thin-cos", "--keys", "0", "--latency", str(COS_LATENCY))
        self.environ = environment(self.oms, self.cos)
        self.ports = int(self.oms.url.rsplit(":", 1)[1]), int(self.cos.address.rsplit(":", 1)[1])

    def counts(self):
        """OMS requests and COS PUTs received so far."""
        return self.oms.report()["requests"], self.cos.report()["counts"].get("put", 0)

    def close(self):
        self.oms.close()
        self.cos.close()


class InProcessServers(object):
    """The end-to-end tests' servers, in this process: ``local.oms_server`` and moto (``local.cos_server``)."""

    description = "in this process (local.oms_server, moto behind local.cos_server)"

    def __init__(self):
        self.world = World(oms={"latency": OMS_LATENCY, "new_connection_delay": NEW_CONNECTION_DELAY},
                           cos={"latency": COS_LATENCY}).start()
        self.oms, self.cos = self.world.oms, self.world.cos
        self.environ = self.world.environ()
        self.ports = self.oms.port, self.cos.port

    def counts(self):
        return self.oms.request_count, self.cos.counts.get("put", 0)

    def close(self):
        self.world.stop()


def bare_invocation(keys, settings):
    """The requests an invocation makes, made bare: per batch of 10 keys, one signed POST on a kept-alive
    connection, then one SDK ``put_object`` per key. Returns a callable."""
    session, auth = transport.new_session(), SignerAuth(settings.hw_ak, settings.hw_sk)
    cos_client = storage.build_cos_client(settings)

    def invoke():
        for batch in batched(keys, oms.MAX_KEYS_PER_REQUEST):
            session.post(settings.sync_url, data=json.dumps({"object_keys": batch}).encode(), auth=auth, timeout=5,
                         headers={"Content-Type": "application/json"}).raise_for_status()
            for key in batch:
                cos_client.put_object(Bucket=settings.log_bucket, Body=b"", Key="bench/floor" + key)
    return invoke


def timed_ms(call):
    """Milliseconds ``call()`` took: wall time, and CPU time of this process."""
    started, cpu_started = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


def snapshot(servers):
    """OMS requests, marker PUTs, new connections to OMS, new connections to COS, so far."""
    oms_port, cos_port = servers.ports
    return servers.counts() + (connects[oms_port], connects[cos_port])


def invoke(event):
    assert index.main_handler(event, CONTEXT) is True


def plain_session(environ=None, pool_size=transport.POOL_SIZE, required_header=None):
    """The transport before the whole-request bound: requests' own adapter, no watchdog, no body caps, no
    header check (``required_header`` is ignored)."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def run(label, event, invocations, servers):
    """One cold invocation (fresh client cache), then ``invocations`` warm ones, with a bare invocation after
    every ``FLOOR_EVERY``-th (interleaved: moto slows down as its records grow)."""
    handler.CLIENTS = handler.ClientCache(session_factory=transport.new_session)
    keys = [record["cos"]["cosObject"]["key"] for record in event["Records"]]
    bare = bare_invocation(keys, settings_module.load_settings())
    bare()  # its new connection to OMS
    rows = []
    for kind, n in (("cold", 1), ("warm", invocations)):
        bare_times, times, cpu_times, totals = [], [], [], [0, 0, 0, 0]
        for i in range(n):
            before = snapshot(servers)
            wall, cpu = timed_ms(lambda: invoke(event))
            totals = [t + b - a for t, a, b in zip(totals, before, snapshot(servers))]
            times.append(wall)
            cpu_times.append(cpu)
            if kind == "warm" and i % FLOOR_EVERY == 0:
                bare_times.append(timed_ms(bare)[0])
        oms_requests, puts, oms_conns, cos_conns = (t / n for t in totals)
        wire = (oms_requests * OMS_LATENCY + puts * COS_LATENCY) * 1000
        rows.append((label, kind, n, statistics.median(times), wire,
                     statistics.median(bare_times) if bare_times else None, statistics.median(cpu_times),
                     oms_requests, puts, oms_conns, cos_conns))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--invocations", type=int, default=200, help="warm invocations per event")
    parser.add_argument("--plain-transport", action="store_true",
                        help="send with a plain requests session (no whole-request bound), for comparison")
    parser.add_argument("--in-process", action="store_true",
                        help="run the servers in this process (local.oms_server, moto) rather than in their own")
    args = parser.parse_args(argv)
    if args.plain_transport:
        transport.new_session = plain_session
    # The function logs at INFO as on SCF: its lines are formatted, then written nowhere.
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.WARNING)

    servers = InProcessServers() if args.in_process else ServerProcesses()
    try:
        install(dict(servers.environ, LOG_LEVEL="INFO"))
        names = ["bench/f%02d.bin" % i for i in range(23)]
        rows = run("console PUT", samples.load_event("cos_put_console.json"), args.invocations, servers)
        rows += run("23 records", samples.event(*[samples.record(n) for n in names]), args.invocations, servers)
    finally:
        servers.close()

    print("Servers %s." % servers.description)
    print("Loopback latency: OMS %.0f ms per answer + %.0f ms per new connection; COS %.0f ms per answer."
          % (OMS_LATENCY * 1000, NEW_CONNECTION_DELAY * 1000, COS_LATENCY * 1000))
    print()
    line = "%-11s %-4s %4s %9s %7s %8s %10s %7s %8s %7s %9s %8s"
    print(line % ("event", "", "n", "median ms", "wire ms", "floor ms", "med - flr", "CPU ms", "OMS req",
                  "markers", "new OMS", "new COS"))
    for label, kind, n, median, wire, bare, cpu, oms_req, puts, oms_conn, cos_conn in rows:
        bare_text, added = ("-", "-") if bare is None else ("%.1f" % bare, "%+.1f" % (median - bare))
        print(line % (label, kind, n, "%.1f" % median, "%.1f" % wire, bare_text, added, "%.1f" % cpu,
                      "%.0f" % oms_req, "%.0f" % puts, "%.2f" % oms_conn, "%.2f" % cos_conn))
    print("(medians and means per invocation; CPU: this process's%s; new: TCP connections this process opened%s)\n"
          % ((", the servers' threads included", "; the moto COS server closes every connection") if args.in_process
             else ("", "")))
    for label, kind, _n, median, wire, bare, _, _, _, oms_conn, _ in rows:
        if kind == "warm":
            print("%s, warm: %.2f new OMS connections; median %.1f ms = %.0f%% of the %.1f ms wire time "
                  "(target <= %.0f%%: %s); the function adds %.1f ms to the bare requests"
                  % (label, oms_conn, median, 100 * median / wire, wire, 100 * TARGET,
                     "met" if oms_conn == 0 and median <= TARGET * wire else "NOT met", median - bare))


if __name__ == "__main__":
    main()
