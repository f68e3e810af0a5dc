"""Replay throughput against the loopback servers, by hand:
``python -m bench.replay [--cos thin] [--keys 10000] [--workers N] [--processes N] [--rounds 2]``.

Seeds ``--keys`` failed markers in a loopback COS log bucket, then runs ``--rounds`` rounds, each one replay
with the default workers and processes (the engine of ``replay.py``: the same listing, OMS requests, marker
writes and batch deletes, without the progress bar) and one run of the floor (``bench/floor.py``: the same
requests made with nothing but ``http.client``, one process, threads as replay's), over the same seeded
markers (the COS stand-in is reset between runs), floor first in odd rounds and replay first in even ones.
Prints, per round, both rates and replay's rate over the floor's (goal: a median of at least 0.5), then for
the last replay keys per second, the requests each server received by kind, the wall time, and where the
time went:

- per operation of the replay (OMS request, marker PUT, listing, batch delete): calls and seconds summed
  over threads; the listings and batch deletes run on the main thread between pages, so their time adds
  to the wall time whatever the number of workers;
- CPU seconds of each process: the replay (this process), its worker processes, and the two servers, each
  in a process of its own (``bench/replay_servers.py``) so that they do not take the GIL from the replay.

``--profile`` adds cProfile's top functions over the replay's threads (main thread and workers).
``--rounds 0``: one replay, no floor.

Artifacts of the loopback servers, not of the replay: moto lists about 1,000 keys in 0.35 s; werkzeug
closes every COS connection after one answer, so each marker PUT opens a new TCP connection (real COS keeps
them alive): use ``--cos thin`` for the ratio. Target: at least 1,000 keys/s on two cores with the default
workers, and replay / floor >= 0.5. Exit status 0 when both are met.
"""

import argparse
import collections
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import statistics
import sys
import threading
import time


from bench import floor
from bench.replay_servers import TASK, ServerProcess, environment
from cos2oms import bulk, handler, logs, markers, oms, replay
from cos2oms import settings as settings_module
from cos2oms.commands import base
from cos2oms.deadline import Deadline

TARGET_KEYS_PER_SECOND = 1000
#: replay's rate over the floor's (``bench/floor.py``: the same requests with nothing but http.client).
RATIO_GOAL = 0.5


class Timings(object):
    """Calls and seconds (summed over threads) of the replay's operations."""

    OPERATIONS = [("OMS request", oms.OmsClient, "submit"), ("marker PUT", markers.MarkerStore, "write"),
                  ("listing", markers.MarkerStore, "list_page"), ("batch delete", markers.MarkerStore, "delete")]

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()
        for label, owner, name in self.OPERATIONS:
            setattr(owner, name, self._timed(label, getattr(owner, name)))

    def reset(self):
        with self._lock:
            self.calls = collections.Counter()
            self.seconds = collections.Counter()

    def _timed(self, label, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls[label] += 1
                    self.seconds[label] += time.perf_counter() - started
        return timed


class ThreadProfiles(object):
    """cProfile for the main thread and, one profiler each, for the other threads (OMS workers, marker writers)."""

    def __init__(self):
        self.profiles = [cProfile.Profile()]
        self._local = threading.local()
        for owner, name in ((bulk.Engine, "_run_batch"), (markers.MarkerStore, "write")):
            setattr(owner, name, self._profiled(getattr(owner, name)))

    def _profiled(self, real):
        def profiled(*args, **kwargs):
            if threading.current_thread() is threading.main_thread() or getattr(self._local, "active", False):
                return real(*args, **kwargs)  # already under a profiler
            profile = getattr(self._local, "profile", None)
            if profile is None:
                profile = self._local.profile = cProfile.Profile()
                self.profiles.append(profile)
            self._local.active = True
            try:
                return profile.runcall(real, *args, **kwargs)
            finally:
                self._local.active = False
        return profiled

    def print_top(self, n=30):
        out = io.StringIO()
        stats = pstats.Stats(self.profiles[0], stream=out)
        for profile in self.profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(n)
        print(out.getvalue())


def replay_run(settings, args, timings, profiles):
    """One replay of the seeded markers: (summary, wall seconds, CPU seconds here, CPU seconds of workers)."""
    handler.CLIENTS = handler.ClientCache()
    timings.reset()
    children_started = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_started, started = time.process_time(), time.perf_counter()
    if profiles:
        profiles.profiles[0].enable()
    summary = replay.replay(settings, Deadline(None), workers=args.workers, processes=args.processes,
                            logging_config=(settings.log_level, "text", True, os.devnull))
    if profiles:
        profiles.profiles[0].disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children.ru_utime + children.ru_stime) - (children_started.ru_utime + children_started.ru_stime)
    return summary, wall, cpu, worker_cpu


def floor_run(cos, oms_server, args):
    """One run of the floor client (``bench/floor.py``) over the seeded markers: keys per second."""
    started = time.perf_counter()
    replayed = floor.run(cos.hello, oms_server.hello, args.floor_processes, args.workers, TASK)
    wall = time.perf_counter() - started
    if replayed != args.keys:
        raise RuntimeError("the floor replayed %d of %d keys" % (replayed, args.keys))
    return replayed / wall if wall else 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10000, help="failed markers to seed (default 10000)")
    parser.add_argument("--workers", type=int, default=replay.DEFAULT_WORKERS,
                        help="replay workers per process (default %d, replay.py's)" % replay.DEFAULT_WORKERS)
    parser.add_argument("--processes", type=int, default=base.default_processes(),
                        help="worker processes (default %d, replay.py's here)" % base.default_processes())
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of one floor run and one replay run, in alternating order (default 2; 0: "
                             "replay once, no floor)")
    parser.add_argument("--floor-processes", type=int, default=1,
                        help="the floor's processes (default 1: threads as replay's, in one process)")
    parser.add_argument("--oms-latency", type=float, default=0.0, help="seconds from an OMS request to its answer")
    parser.add_argument("--cos-latency", type=float, default=0.0,
                        help="seconds from a COS request to its answer (moto: seconds added to every answer)")
    parser.add_argument("--cos", choices=["moto", "thin"], default="moto",
                        help="COS stand-in: local.cos_server (moto, default) or a thin in-memory one that shows "
                             "the replay's own cost")
    parser.add_argument("--log-level", default="INFO",
                        help="the replay's LOG_LEVEL (default INFO, the function's: a line per key, into the void)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of the replay")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    cos = ServerProcess("cos" if args.cos == "moto" else "thin-cos", "--keys", str(args.keys),
                        "--latency", str(args.cos_latency))
    oms_server = ServerProcess("oms", "--latency", str(args.oms_latency))
    rounds = []
    try:
        print("servers up, %d failed markers seeded in %.1f s" % (args.keys, time.perf_counter() - started))
        environ = environment(oms_server, cos, LOG_LEVEL=args.log_level)
        # Log as replay.py does (at INFO, lines per OMS request and per key), into the void: the cost stays, the
        # noise goes.
        logging.basicConfig(stream=open(os.devnull, "w"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
        settings = settings_module.load_settings(environ=environ)
        logs.configure(settings.log_level)
        timings = Timings()
        profiles = ThreadProfiles() if args.profile else None
        for number in range(max(1, args.rounds)):
            floor_rate = None
            if args.rounds and number % 2 == 0:
                floor_rate = floor_run(cos, oms_server, args)
            cos.command("reset")
            before = {"cos": cos.report(), "oms": oms_server.report()}
            summary, wall, cpu, worker_cpu = replay_run(settings, args, timings, profiles)
            after = {"cos": cos.report(), "oms": oms_server.report()}
            cos.command("reset")
            if args.rounds and number % 2 == 1:
                floor_rate = floor_run(cos, oms_server, args)
                cos.command("reset")
            rate = summary.replayed / wall if wall else 0.0
            rounds.append((rate, floor_rate))
            if floor_rate:
                print("round %d: floor %.0f keys/s, replay %.0f keys/s, replay/floor %.2f" % (
                    number + 1, floor_rate, rate, rate / floor_rate))
    finally:
        cos.close()
        oms_server.close()

    result = summary.as_dict()
    print(json.dumps(result))
    print("COS stand-in: %s" % ("local.cos_server (moto)" if args.cos == "moto" else "thin (bench/replay_servers.py)"))
    print("processes %d, workers %d each, wall %.2f s, %.0f keys/s (target %d: %s)" % (
        args.processes, args.workers, wall, rate, TARGET_KEYS_PER_SECOND,
        "met" if rate >= TARGET_KEYS_PER_SECOND else "missed by %.0f%%" % (100 - 100 * rate / TARGET_KEYS_PER_SECOND)))
    ratios = sorted(replayed / floor for replayed, floor in rounds if floor)
    ratio = statistics.median(ratios) if ratios else None
    if ratio is not None:
        print("replay / floor: %s, median %.2f (goal %.1f: %s; the floor: bench/floor.py, %d process(es), %d "
              "workers)" % (", ".join("%.2f" % r for r in ratios), ratio, RATIO_GOAL,
                            "met" if ratio >= RATIO_GOAL else "missed", args.floor_processes, args.workers))
    cos_counts = dict((kind, count - before["cos"]["counts"].get(kind, 0))
                      for kind, count in after["cos"]["counts"].items())
    print("requests (last replay): OMS %d; COS put %d, list %d, batch_delete %d, delete %d" % (
        after["oms"]["requests"] - before["oms"]["requests"], cos_counts.get("put", 0), cos_counts.get("list", 0),
        cos_counts.get("batch_delete", 0), cos_counts.get("delete", 0)))
    print("markers left: %s" % after["cos"]["markers"])
    print("\nwhere the time went in this process (seconds summed over threads; wall %.2f s)%s:" % (
        wall, "; worker processes not shown" if args.processes > 1 else ""))
    for label, _, _ in Timings.OPERATIONS:
        calls, seconds = timings.calls[label], timings.seconds[label]
        per_call = 1000 * seconds / calls if calls else 0.0
        print("  %-13s %6d calls %8.2f s %8.2f ms/call" % (label, calls, seconds, per_call))
    serial = timings.seconds["listing"] + timings.seconds["batch delete"]
    print("  listings + batch deletes (main thread, between pages): %.2f s = %.0f%% of the wall time"
          % (serial, 100 * serial / wall if wall else 0))
    print("\nCPU seconds during the (last) replay (%d cores):" % (os.cpu_count() or 0))
    print("  replay process %.2f (%.2f ms/key)" % (cpu, 1000 * cpu / max(1, result["replayed"])))
    if args.processes > 1:
        print("  worker processes %.2f (%.2f ms/key, their start included)" % (
            worker_cpu, 1000 * worker_cpu / max(1, result["replayed"])))
    for name in ("cos", "oms"):
        used = after[name]["cpu_seconds"] - before[name]["cpu_seconds"]
        print("  %s server     %.2f (%.2f ms/key)" % (name.upper(), used, 1000 * used / max(1, result["replayed"])))
    if profiles:
        print("\ncProfile of the replay's threads (tottime):")
        profiles.print_top()
    return 0 if rate >= TARGET_KEYS_PER_SECOND and (ratio is None or ratio >= RATIO_GOAL) else 1


if __name__ == "__main__":
    sys.exit(main())
