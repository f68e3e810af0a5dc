"""The function's cold start against the guide's: ``python -m bench.cold_start [-n 41] [--python PY]``.

SCF imports ``index`` in a fresh interpreter and then calls ``main_handler`` once. This times, each in a
fresh subprocess of ``--python`` (default: the emulated SCF 3.6 runtime, ``.venv36``, whose site-packages has
``qcloud_cos_v5`` and requests 2.21), ours against the guide's (``bench/reference/guide_index.py.txt`` and
its ``signer.py``, ``tests/reference/guide_signer.py.txt``), runs interleaved, medians compared:

- ``import``: ``import index``, nothing else (the interpreter's own start-up is the same for both and left
  out);
- ``import + first event``: that, then the first ``main_handler`` call on one created object, against the
  loopback stand-ins (``bench/replay_servers.py`` ``oms``, its signatures checked, and ``thin-cos``), the
  guide's COS client pointed at the stand-in (its code builds one for ap-beijing over https).

Each is measured twice: ``sources``, the sources alone (no ``__pycache__``: ``-B``, so the interpreter
compiles every module at each cold start, as on SCF's read-only code directory: the guide's code as SCF
runs it, ours as it ran before the zip shipped the package's bytecode; ``--zip`` below counts that), and
``bytecode`` with the modules compiled beforehand. Both sides run from a copy of their files in a
directory of their own. Each is timed by the wall clock and by the child's CPU time; the target, every
CPU-time ratio (ours / guide's) <= 1.10, is judged on the latter, which the machine's other load moves far
less (the import is CPU-bound; the first event's waits on the stand-ins are the same for both sides).

``--instructions`` counts instead of timing: the instructions ``import index`` executes, by valgrind's
callgrind (``valgrind --tool=callgrind --callgrind-out-file=/dev/null PY [-B] -c "import index"``, minus the
same for ``-c pass``: the interpreter's own start-up), once per side and mode. A count does not move with the
machine's load (it repeats to within a few thousand instructions), so this is the measurement the target is
judged on where other processes share the machine; it needs ``valgrind`` on PATH and takes about a minute.

``--instructions --zip [PATH]`` adds the ``zip`` row, as SCF runs it: ours from the Python 3.6 zip (PATH, or
one ``./build_zip.sh python3.6`` builds), unpacked as unzip does in UTC (``local.unzip``), so the package's
bytecode shipped in it is valid and read, the top-level modules compiled; the guide's from its sources (it
ships none); both ``-B``, nothing written. With ``--zip`` the target is judged on that row alone.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.replay_servers import ServerProcess
from local.unzip import unzip_as_unzip

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / ".venv36" / "bin" / "python"
TARGET = 1.10
CONTEXT = {"request_id": "cold-start", "time_limit_in_ms": 3000}
EVENT = {"Records": [{
    "event": {"eventName": "cos:ObjectCreated:Put", "eventVersion": "1.0", "eventSource": "qcs::cos"},
    "cos": {"cosSchemaVersion": "1.0", "cosNotificationId": "unkown",
            "cosBucket": {"name": "source", "appid": "1250000000", "region": "ap-guangzhou"},
            "cosObject": {"key": "/1250000000/source/cold/a+b%41 中文.jpg", "size": 1024, "meta": {},
                          "url": "http://source-1250000000.cos.ap-guangzhou.myqcloud.com/cold/x.jpg"}},
}]}

# The child: only ``sys`` and ``time`` (built in) before the clock starts; the event is a literal.
_CHILD = """\
import sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import index
imported, cpu_imported = time.perf_counter(), time.process_time()
handled, cpu_handled = imported, cpu_imported
if {call!r}:
{prepare}
    called, cpu_called = time.perf_counter(), time.process_time()
    assert index.main_handler({event!r}, {context!r}) is True, "the first event was not accepted"
    handled = imported + time.perf_counter() - called
    cpu_handled = cpu_imported + time.process_time() - cpu_called
sys.stdout.write("%r %r %r %r\\n" % (imported - started, handled - started, cpu_imported - cpu_started,
                                     cpu_handled - cpu_started))
"""
_PREPARE_OURS = "    pass"
# The guide's code: its constants set as a user would edit them, its COS client sent to the stand-in.
_PREPARE_GUIDE = """\
    import os
    index.SYNC_URL, index.HW_AK, index.HW_SK = os.environ["SYNC_URL"], os.environ["HW_AK"], os.environ["HW_SK"]
    index.LOG_BUCKET = os.environ["LOG_BUCKET"]
    ip, port = os.environ["COS_ADDRESS"].rsplit(":", 1)
    _config = index.CosConfig
    index.CosConfig = lambda **kw: _config(**dict(kw, Scheme="http", IP=ip, Port=int(port),
                                                  SecretId=os.environ["COS_SECRET_ID"],
                                                  SecretKey=os.environ["COS_SECRET_KEY"]))"""

#: What the child measures: wall time, then CPU time (the one the target is judged on: on a shared machine the
#: other processes' load moves the wall time of either side far more than the 10% being measured).
COLUMNS = (("import", "wall"), ("import + first event", "wall"), ("import", "CPU"), ("import + first event", "CPU"))
FUNCTION_FILES = ["index.py", "signer.py"]  # and the cos2oms package (ours)


def copy_ours(directory):
    for name in FUNCTION_FILES:
        shutil.copy(ROOT / name, directory / name)
    (directory / "cos2oms").mkdir()
    for source in (ROOT / "cos2oms").glob("*.py"):
        shutil.copy(source, directory / "cos2oms" / source.name)


def copy_guides(directory):
    shutil.copy(ROOT / "bench" / "reference" / "guide_index.py.txt", directory / "index.py")
    shutil.copy(ROOT / "tests" / "reference" / "guide_signer.py.txt", directory / "signer.py")


def run_once(python, directory, call, environ, bytecode):
    prepare = _PREPARE_GUIDE if directory.name == "guide" else _PREPARE_OURS
    code = _CHILD.format(call=call, prepare=prepare, event=EVENT, context=CONTEXT)
    command = [python] + ([] if bytecode else ["-B"]) + ["-c", code]
    out = subprocess.run(command, cwd=directory, env=environ, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (directory.name, out.stderr))
    return [float(x) for x in out.stdout.split()]


def measure(python, runs, call, bytecode, environ):
    """Interleaved runs of ours and the guide's: {side: [[s] for each of COLUMNS]}."""
    times = {"ours": [[] for _ in COLUMNS], "guide": [[] for _ in COLUMNS]}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {"ours": Path(tmp) / "ours", "guide": Path(tmp) / "guide"}
        for side, directory in dirs.items():
            directory.mkdir()
            (copy_ours if side == "ours" else copy_guides)(directory)
            if bytecode:
                subprocess.run([python, "-m", "compileall", "-q", str(directory)], check=True)
        for i in range(runs):
            order = ("ours", "guide") if i % 2 == 0 else ("guide", "ours")
            for side in order:
                for column, seconds in zip(times[side], run_once(python, dirs[side], call, environ, bytecode)):
                    column.append(seconds)
    return times


def instructions(python, directory, code, bytecode):
    """The instructions ``python [-B] -c code`` executes in ``directory``, counted by callgrind (TZ=UTC, SCF's)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python] \
        + ([] if bytecode else ["-B"]) + ["-c", code]
    out = subprocess.run(command, cwd=directory, capture_output=True, text=True,
                         env=dict({k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}, TZ="UTC"))
    counted = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or not counted:
        raise RuntimeError("callgrind failed in %s:\n%s" % (directory, out.stderr[-2000:]))
    return int(counted.group(1))


def built_zip():
    """The Python 3.6 zip ``./build_zip.sh python3.6`` builds (its last line is the zip's path)."""
    out = subprocess.run(["./build_zip.sh", "python3.6"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("build_zip.sh python3.6 failed:\n%s" % out.stderr[-2000:])
    return ROOT / out.stdout.splitlines()[-1]


def count_instructions(python, zip_path=None):
    """Counts ``import index`` for both sides, as the zip ships it (sources) and compiled beforehand, and with
    `zip_path` ours as unzipped from it (its bytecode) against the guide's sources; prints each count and ratio;
    returns the worst ratio (the start-up left out): the zip's alone with `zip_path`."""
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {"ours": Path(tmp) / "ours", "guide": Path(tmp) / "guide"}
        for side, directory in dirs.items():
            directory.mkdir()
            (copy_ours if side == "ours" else copy_guides)(directory)
        modes = ["sources", "bytecode"] + (["zip"] if zip_path else [])
        for mode in modes:
            bytecode = mode == "bytecode"
            if bytecode:
                for directory in dirs.values():
                    subprocess.run([python, "-m", "compileall", "-q", str(directory)], check=True)
            elif mode == "zip":  # ours as SCF unpacks the zip; the guide's from the sources it ships (no bytecode)
                for directory in dirs.values():
                    shutil.rmtree(directory)
                    directory.mkdir()
                unzip_as_unzip(zip_path, dirs["ours"])
                copy_guides(dirs["guide"])
            start_up = instructions(python, tmp, "pass", bytecode)
            counts = {side: instructions(python, directory, "import index", bytecode) - start_up
                      for side, directory in dirs.items()}
            ratio = counts["ours"] / counts["guide"]
            whole = (counts["ours"] + start_up) / (counts["guide"] + start_up)
            worst[mode] = ratio
            print("%-9s import  instructions  ours %6.1f M  guide's %6.1f M  ratio %.2f (target <= %.2f); "
                  "with the interpreter's start-up (%.1f M) %.2f" % (
                      mode, counts["ours"] / 1e6, counts["guide"] / 1e6, ratio, TARGET, start_up / 1e6, whole))
    return worst["zip"] if zip_path else max(worst.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=41, help="runs of each side per measurement")
    parser.add_argument("--python", default=str(RUNTIME if RUNTIME.exists() else sys.executable),
                        help="the interpreter to time (default: .venv36, the emulated SCF 3.6 runtime)")
    parser.add_argument("--import-only", action="store_true", help="no first event (no stand-ins)")
    parser.add_argument("--instructions", action="store_true",
                        help="count the import's instructions with callgrind (repeatable whatever the load)")
    parser.add_argument("--zip", nargs="?", const="build", metavar="PATH",
                        help="with --instructions: also ours from the Python 3.6 zip as unzipped (its bytecode), "
                             "the target judged on that; PATH, or the one ./build_zip.sh python3.6 builds")
    args = parser.parse_args(argv)
    if args.zip and not args.instructions:
        parser.error("--zip goes with --instructions")
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if args.instructions:
        print("cold start on Python %s (%s): instructions executed by import index, counted by callgrind"
              % (version, args.python))
        zip_path = None
        if args.zip:
            zip_path = built_zip() if args.zip == "build" else Path(args.zip)
            print("ours from %s, unzipped in UTC" % zip_path)
        worst = count_instructions(args.python, zip_path)
        print("worst instruction ratio %.2f: %s" % (worst, "ok" if worst <= TARGET else "ABOVE TARGET"))
        return 0 if worst <= TARGET else 1
    print("cold start on Python %s (%s), %d fresh processes per side and measurement, interleaved; medians"
          % (version, args.python, args.runs))
    servers = []
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    if not args.import_only:
        servers = [ServerProcess("oms"), ServerProcess("thin-cos", "--keys", "0")]
        oms_hello, cos_hello = servers[0].hello, servers[1].hello
        environ.update(SYNC_URL=oms_hello["sync_url"], HW_AK=oms_hello["ak"], HW_SK=oms_hello["sk"],
                       LOG_BUCKET=cos_hello["bucket"], COS_ADDRESS=cos_hello["address"], COS_SCHEME="http",
                       COS_SECRET_ID=cos_hello["secret_id"], COS_SECRET_KEY=cos_hello["secret_key"])
    worst = 0.0
    try:
        for bytecode in (False, True):
            times = measure(args.python, args.runs, not args.import_only, bytecode, environ)
            for column, (what, clock) in enumerate(COLUMNS):
                if args.import_only and what != "import":
                    continue
                ours, guide = (statistics.median(times[side][column]) for side in ("ours", "guide"))
                if clock == "CPU":
                    worst = max(worst, ours / guide)
                print("%-9s %-21s %-4s ours %6.1f ms  guide's %6.1f ms  ratio %.2f%s"
                      % ("bytecode" if bytecode else "sources", what, clock, ours * 1000, guide * 1000, ours / guide,
                         " (target <= %.2f)" % TARGET if clock == "CPU" else ""))
        if servers:  # every first event wrote its marker (a failed write still returns True)
            puts = servers[1].report()["counts"].get("put", 0)
            if puts != 2 * 2 * args.runs:
                raise RuntimeError("the COS stand-in saw %d marker PUTs, not %d" % (puts, 4 * args.runs))
    finally:
        for server in servers:
            server.close()
    print("worst CPU-time ratio %.2f: %s" % (worst, "ok" if worst <= TARGET else "ABOVE TARGET"))
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
