"""verify's throughput and memory, by hand: ``python -m bench.verify [--objects 10000 200000] [--latency S]``.

For each size N: thin loopback stand-ins, each in a process of its own (``bench/replay_servers.py``), serve a
source COS bucket of N generated objects, their success markers in the log bucket, and an OBS bucket with
every object copied but every 100th (OMS accepted it and did not copy it). ``cos2oms verify`` then runs in a
fresh process (the real command, OBS listed with Huawei's OBS SDK) and reports:

- objects verified per second: N over the command's own run time (settings, clients, the four listings, the
  merge, the report), interpreter start-up and imports excluded;
- peak memory: the verify process's maximum resident set size (what the operating system saw), so the
  interpreter and the SDKs are in it; what matters is that it does not grow with N.

``--latency``: seconds each stand-in takes to answer a listing page (a remote server's latency), so that the
overlap of the listings shows. Target: at least 10,000 objects/s on two cores, memory flat in N.
"""

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time

from bench.replay_servers import ServerProcess, environment

TARGET_OBJECTS_PER_SECOND = 10000


class LastLine(object):
    """An output that keeps only its last line (the report's lines would otherwise count as verify's memory)."""

    def __init__(self):
        self.last = ""
        self._line = io.StringIO()

    def write(self, text):
        for part in text.splitlines(True):
            self._line.write(part)
            if part.endswith("\n"):
                line = self._line.getvalue().rstrip("\n")
                self.last = line
                self._line = io.StringIO()

    def flush(self):
        pass


def child(argv):
    """Inside the measured process: run ``cos2oms verify`` as the command does; print one JSON line."""
    import logging

    from cos2oms.commands import verify as verify_command

    logging.basicConfig(stream=open(os.devnull, "w"))
    parser = argparse.ArgumentParser()
    verify_command.add_arguments(parser)
    args = parser.parse_args(argv)
    out = LastLine()
    started = time.perf_counter()
    status = verify_command.run(args, out=out)
    seconds = time.perf_counter() - started
    summary = json.loads(out.last)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"status": status, "seconds": seconds, "summary": summary, "peak_kib": peak_kib}))


def measure(n, latency):
    cos = ServerProcess("thin-cos", "--keys", "0", "--verify-objects", str(n), "--latency", str(latency))
    obs = ServerProcess("thin-obs", "--objects", str(n), "--latency", str(latency))
    try:
        # No OMS: verify without --resubmit sends nothing (port 9, discard, would refuse it).
        environ = environment("http://127.0.0.1:9", cos, obs, base=os.environ, LOG_LEVEL="WARNING")
        done = subprocess.run([sys.executable, "-m", "bench.verify", "--child"], env=environ, capture_output=True,
                              text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError("the verify process failed:\n" + done.stderr[-3000:])
        result = json.loads(done.stdout.splitlines()[-1])
        result["requests"] = {"cos": cos.report()["counts"], "obs": obs.report()["counts"]}
        return result
    finally:
        cos.close()
        obs.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[10000, 200000])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per listing page, per stand-in")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        return child(rest)
    ok = True
    print("%10s %10s %12s %12s  %s" % ("objects", "seconds", "objects/s", "peak RSS", "summary"))
    for n in args.objects:
        result = measure(n, args.latency)
        rate = n / result["seconds"]
        ok = ok and rate >= TARGET_OBJECTS_PER_SECOND
        summary = result["summary"]
        print("%10d %10.2f %12.0f %9.1f MiB  matched %d, missing %d (accepted %d), errors %d; list requests %s" % (
            n, result["seconds"], rate, result["peak_kib"] / 1024.0, summary["matched"], summary["missing"],
            summary["missing_accepted"], summary["errors"], result["requests"]), flush=True)
    print("target: %d objects/s: %s" % (TARGET_OBJECTS_PER_SECOND, "met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
