"""backfill's throughput, by hand: ``python -m bench.backfill [--objects 10000] [--processes N] [--workers N]``.

Thin loopback stand-ins, each in a process of its own (``bench/replay_servers.py``): OMS (signatures checked
with huaweicloudsdkcore), and a COS server holding a source bucket of ``--objects`` generated objects (names
with spaces, ``+``, ``%41``, Chinese) and the log bucket. ``cos2oms backfill --since`` then lists the source
and sends every object to OMS, writing a success marker for each: the real command, in this process (its
worker processes are its own), with its defaults unless told otherwise. Prints keys per second (accepted keys
over the command's run time, settings and clients included), the requests each server saw, and CPU seconds.
Target: at least 1,000 keys/s on two cores.
"""

import argparse
import io
import json
import os
import resource
import sys
import time

from bench.replay_servers import ServerProcess, environment
from cos2oms import bulk
from cos2oms.commands import backfill as backfill_command, base

TARGET_KEYS_PER_SECOND = 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10000, help="objects in the source bucket (default 10000)")
    parser.add_argument("--processes", type=int, default=base.default_processes())
    parser.add_argument("--workers", type=int, default=bulk.DEFAULT_WORKERS)
    args = parser.parse_args(argv)

    oms = ServerProcess("oms")
    cos = ServerProcess("thin-cos", "--keys", "0", "--verify-objects", str(args.objects))
    try:
        environ = environment(oms, cos, base=os.environ, LOG_LEVEL="WARNING")
        command = argparse.ArgumentParser()
        backfill_command.add_arguments(command)
        options = command.parse_args(["--since", "2024-01-01", "--processes", str(args.processes),
                                      "--workers", str(args.workers)])
        before = {"cos": cos.report(), "oms": oms.report()}
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = io.StringIO()
        cpu_started, started = time.process_time(), time.perf_counter()
        status = backfill_command.run(options, environ=environ, out=out)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = {"cos": cos.report(), "oms": oms.report()}
    finally:
        cos.close()
        oms.close()

    result = json.loads(out.getvalue().splitlines()[-1])
    rate = result["accepted"] / wall if wall else 0.0
    workers_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    print(json.dumps(dict(result, status=status)))
    print("processes %d, workers %d each, wall %.2f s, %.0f keys/s (target %d: %s)" % (
        args.processes, args.workers, wall, rate, TARGET_KEYS_PER_SECOND,
        "met" if rate >= TARGET_KEYS_PER_SECOND else "missed by %.0f%%" % (100 - 100 * rate / TARGET_KEYS_PER_SECOND)))
    print("requests: OMS %d %s; COS %s" % (after["oms"]["requests"], after["oms"]["statuses"],
                                           dict(after["cos"]["counts"])))
    print("CPU seconds (%d cores): backfill process %.2f, its worker processes %.2f, COS server %.2f, OMS server "
          "%.2f" % (os.cpu_count() or 0, cpu, workers_cpu,
                    after["cos"]["cpu_seconds"] - before["cos"]["cpu_seconds"],
                    after["oms"]["cpu_seconds"] - before["oms"]["cpu_seconds"]))
    return 0 if rate >= TARGET_KEYS_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
